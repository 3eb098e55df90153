//! Discovery endpoints, authentication, tenant isolation and error bodies.

use actix_web::test::TestRequest;

use crate::common::*;

#[actix_web::test]
async fn discovery_with_a_valid_token() {
    let fx = Fixture::new();
    let token = fx.tenant("acme");
    let svc = fx.service().await;

    let (status, h, body) = send(&svc, get("/scim/v2/acme/ServiceProviderConfig", &token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type(&h), "application/scim+json");
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["bulk"]["supported"], true);
    assert_eq!(body["bulk"]["maxOperations"], 1000);
    assert_eq!(body["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(body["authenticationSchemes"][1]["type"], "oauth2");
    assert!(
        body["authenticationSchemes"][1]["description"]
            .as_str()
            .unwrap()
            .contains("/oauth/token")
    );
    assert_eq!(
        body["meta"]["location"],
        "https://scim.example.net/scim/v2/acme/ServiceProviderConfig"
    );

    let (status, _, body) = send(&svc, get("/scim/v2/acme/Schemas", &token)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:Group"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:provisioning:2.0:User"));
    assert_eq!(body["totalResults"], ids.len());

    let (status, _, body) = send(
        &svc,
        get(
            "/scim/v2/acme/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            &token,
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "Group");

    let (status, h, body) = send(&svc, get("/scim/v2/acme/Schemas/urn:nope", &token)).await;
    assert_scim_error(status, &h, &body, 404);

    let (status, _, body) = send(&svc, get("/scim/v2/acme/ResourceTypes", &token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["totalResults"], 2);
    let (status, _, body) = send(&svc, get("/scim/v2/acme/ResourceTypes/user", &token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["endpoint"], "/Users");
}

#[actix_web::test]
async fn every_authentication_failure_is_the_same_401() {
    let fx = Fixture::new();
    let acme = fx.tenant("acme");
    let _other = fx.tenant("globex");
    let svc = fx.service().await;
    let uri = "/scim/v2/acme/ServiceProviderConfig";

    let cases = [
        TestRequest::get().uri(uri),
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", "Bearer")),
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", "Basic YTpi")),
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", "Bearer not-a-jwt")),
        // The admin token is not a SCIM token.
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", "Bearer admin-secret")),
        // acme's token under another tenant's URL, and under an unknown tenant.
        get("/scim/v2/globex/ServiceProviderConfig", &acme),
        get("/scim/v2/nobody/ServiceProviderConfig", &acme),
    ];
    let mut bodies = Vec::new();
    for req in cases {
        let (status, h, body) = send(&svc, req).await;
        assert_scim_error(status, &h, &body, 401);
        assert_eq!(h.get("www-authenticate").unwrap(), "Bearer realm=\"SCIM\"");
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "401s must not differ: {bodies:?}"
    );
    // Lower-case scheme is fine.
    let (status, _, _) = send(
        &svc,
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", format!("bearer {acme}"))),
    )
    .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_regenerated_token_locks_out_the_old_one() {
    let fx = Fixture::new();
    let old = fx.tenant("acme");
    let svc = fx.service().await;
    let uri = "/scim/v2/acme/Schemas";
    assert_eq!(send(&svc, get(uri, &old)).await.0, 200);
    let new = fx.token(&fx.tenant_id("acme"));
    assert_ne!(old, new);
    assert_eq!(send(&svc, get(uri, &old)).await.0, 401);
    assert_eq!(send(&svc, get(uri, &new)).await.0, 200);
}

#[actix_web::test]
async fn a_token_signed_with_another_key_is_refused() {
    let fx = Fixture::new();
    let _ = fx.tenant("acme");
    let forged = scim_http::TokenKeys::new(b"some other server's signing key!")
        .unwrap()
        .mint(&fx.tenant_id("acme"), "whatever", chrono::Utc::now(), None)
        .unwrap();
    let svc = fx.service().await;
    assert_eq!(
        send(&svc, get("/scim/v2/acme/Schemas", &forged)).await.0,
        401
    );
}

#[actix_web::test]
async fn unknown_routes_and_methods_get_scim_errors() {
    let fx = Fixture::new();
    let token = fx.tenant("acme");
    let svc = fx.service().await;
    let (status, h, body) = send(&svc, get("/scim/v2/acme/Widgets", &token)).await;
    assert_scim_error(status, &h, &body, 404);
    let (status, h, body) = send(&svc, get("/nothing/here", &token)).await;
    assert_scim_error(status, &h, &body, 404);
    let (status, h, body) = send(
        &svc,
        TestRequest::delete()
            .uri("/scim/v2/acme/Schemas")
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await;
    assert_scim_error(status, &h, &body, 405);
}

#[actix_web::test]
async fn bulk_is_advertised_and_answers_after_authentication() {
    let fx = Fixture::new();
    let token = fx.tenant("acme");
    let svc = fx.service().await;
    let (_, _, spc) = send(&svc, get("/scim/v2/acme/ServiceProviderConfig", &token)).await;
    assert_eq!(spc["bulk"]["supported"], true);
    let (status, h, body) = send(
        &svc,
        TestRequest::post()
            .uri("/scim/v2/acme/Bulk")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_payload(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"post","bulkId":"a","path":"/Users","data":{"userName":"bulk@example.net"}},{"method":"DELETE","path":"/Users/bulkId:a"}]}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type(&h), "application/scim+json");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    assert_eq!(body["Operations"][0]["method"], "POST");
    assert_eq!(body["Operations"][0]["status"], "201", "{body}");
    assert_eq!(body["Operations"][1]["status"], "204", "{body}");
    let (status, h, body) = send(&svc, TestRequest::post().uri("/scim/v2/acme/Bulk")).await;
    assert_scim_error(status, &h, &body, 401);
}

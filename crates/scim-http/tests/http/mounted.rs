//! `ScimService` mounted under a prefix next to the host application's own
//! routes: the host keeps its 404s and its `/activate`; the service's parts
//! answer at their configured paths with their own error bodies, and its
//! URLs carry the prefix.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use scim_http::{AdminConfig, BuildError, ConsoleConfig, ScimService, TokenKeys};
use serde_json::{Value, json};
use store_diesel::testing::TestDb;
use store_diesel::{Store, tenants, tokens};

use crate::common::content_type;

const ADMIN: &str = "host-admin-token-0123456789";

fn keys(store: &Store) -> TokenKeys {
    let key = store
        .transaction(store_diesel::settings::get_or_create_signing_key)
        .unwrap();
    TokenKeys::new(&key).unwrap()
}

/// A tenant `acme` and its Secret Token.
fn tenant(store: &Store, keys: &TokenKeys) -> String {
    store
        .transaction(|c| {
            let t = tenants::create(c, "acme", "Acme")?;
            tokens::issue_with(c, &t.id, |jti, now| keys.issue(&t.id, jti, now))
        })
        .unwrap()
        .token
}

fn service(store: &Store, keys: &TokenKeys) -> ScimService {
    ScimService::builder(store.clone(), keys.clone())
        .public_url("https://app.example.net/identity/")
        .prefix("/identity")
        .admin(AdminConfig::new(Some(ADMIN.to_owned())))
        .admin_path("/manage")
        .activation_path("/welcome")
        .scim_config(|c| c.max_body_bytes = 4096)
        .build()
        .unwrap()
}

async fn call<S, B>(svc: &S, req: test::TestRequest) -> (u16, String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(svc, req.to_request()).await;
    let status = res.status().as_u16();
    let ct = content_type(res.headers()).to_owned();
    let body = test::read_body(res).await;
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[actix_web::test]
async fn mounted_under_a_prefix_next_to_host_routes() {
    let db = TestDb::sqlite();
    let store = db.store().clone();
    let keys = keys(&store);
    let token = tenant(&store, &keys);
    let service = service(&store, &keys);
    let app = test::init_service(
        App::new()
            .route(
                "/hello",
                web::get().to(|| async { HttpResponse::Ok().body("host") }),
            )
            .route(
                "/activate",
                web::get().to(|| async { HttpResponse::Ok().body("host activation") }),
            )
            .configure(|cfg| service.configure(cfg)),
    )
    .await;

    // The host's routes and 404s stay the host's.
    let (s, _, body) = call(&app, test::TestRequest::get().uri("/hello")).await;
    assert_eq!((s, body.as_str()), (200, "host"));
    let (s, ct, body) = call(&app, test::TestRequest::get().uri("/nowhere")).await;
    assert_eq!(s, 404);
    assert!(
        !ct.contains("json") && !body.contains("urn:ietf:params:scim"),
        "the host's 404 was rewritten: {ct} {body}"
    );
    let (s, _, body) = call(&app, test::TestRequest::get().uri("/activate")).await;
    assert_eq!((s, body.as_str()), (200, "host activation"));
    let (s, _, body) = call(&app, test::TestRequest::get().uri("/scim/v2/acme/Users")).await;
    assert!(
        s == 404 && body.is_empty(),
        "nothing at the root: {s} {body}"
    );

    // SCIM under the prefix, with Tenant URLs carrying it.
    let bearer = ("Authorization", format!("Bearer {token}"));
    let (s, ct, body) = call(
        &app,
        test::TestRequest::post()
            .uri("/identity/scim/v2/acme/Users")
            .insert_header(bearer.clone())
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nora@acme.example"})
                    .to_string(),
            ),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert!(ct.starts_with("application/scim+json"));
    let user = json_of(&body);
    let location = user["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with("https://app.example.net/identity/scim/v2/acme/Users/"),
        "{location}"
    );

    // SCIM errors are SCIM's: an unknown resource, a wrong method, an unknown
    // path below the SCIM base, a body over the service's own limit.
    for (req, want) in [
        (
            test::TestRequest::get()
                .uri("/identity/scim/v2/acme/Users/nope")
                .insert_header(bearer.clone()),
            404,
        ),
        (
            test::TestRequest::delete()
                .uri("/identity/scim/v2/acme/Users")
                .insert_header(bearer.clone()),
            405,
        ),
        (test::TestRequest::get().uri("/identity/scim/v2"), 404),
        (
            test::TestRequest::post()
                .uri("/identity/scim/v2/acme/Users")
                .insert_header(bearer.clone())
                .insert_header(("content-type", "application/scim+json"))
                .set_payload(format!("{{\"userName\":\"{}\"}}", "x".repeat(8000))),
            413,
        ),
    ] {
        let (s, ct, body) = call(&app, req).await;
        assert_eq!(s, want, "{body}");
        assert!(ct.starts_with("application/scim+json"), "{want}: {ct}");
        assert_eq!(json_of(&body)["status"], want.to_string(), "{body}");
    }

    // The admin API at its configured path, speaking its own errors.
    let admin = ("Authorization", format!("Bearer {ADMIN}"));
    let (s, _, body) = call(
        &app,
        test::TestRequest::get()
            .uri("/identity/manage/tenants")
            .insert_header(admin.clone()),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("\"https://app.example.net/identity/scim/v2/acme\""),
        "{body}"
    );
    let (s, ct, body) = call(
        &app,
        test::TestRequest::patch()
            .uri("/identity/manage/tenants")
            .insert_header(admin.clone()),
    )
    .await;
    assert_eq!(s, 405, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}");
    assert!(json_of(&body)["error"].is_string(), "{body}");
    let (s, _, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/identity/admin/v1/tenants")
            .insert_header(admin),
    )
    .await;
    assert_eq!(s, 404, "not at the default path");

    // Activation at its configured path.
    let (s, ct, _) = call(&app, test::TestRequest::get().uri("/identity/welcome")).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/html"));
    let (s, ct, body) = call(
        &app,
        test::TestRequest::post()
            .uri("/identity/welcome")
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"token":"not-a-token"}"#),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(ct.starts_with("application/json"));
    assert!(json_of(&body)["error"].is_string(), "{body}");
    let (s, ct, body) = call(&app, test::TestRequest::put().uri("/identity/welcome")).await;
    assert_eq!(s, 405);
    assert!(ct.starts_with("application/json"), "{ct} {body}");

    // OAuth metadata under the prefix names the prefixed endpoint.
    let (s, _, body) = call(
        &app,
        test::TestRequest::get().uri("/identity/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let meta = json_of(&body);
    assert_eq!(meta["issuer"], "https://app.example.net/identity");
    assert_eq!(
        meta["token_endpoint"],
        "https://app.example.net/identity/oauth/token"
    );

    // Links made from the configuration carry the prefix and paths.
    assert_eq!(
        service.config().activation_url("t"),
        "https://app.example.net/identity/welcome?token=t"
    );
}

#[actix_web::test]
async fn settings_that_cannot_work_are_refused() {
    let db = TestDb::sqlite();
    let store = db.store().clone();
    let keys = keys(&store);
    let built = |b: scim_http::ScimServiceBuilder| b.build().map(|_| ()).unwrap_err();
    let b = || ScimService::builder(store.clone(), keys.clone());
    assert!(matches!(
        built(
            b().public_url("https://app.example.net")
                .prefix("/identity")
        ),
        BuildError::PrefixNotInPublicUrl { .. }
    ));
    assert!(matches!(
        built(b().public_url("app.example.net")),
        BuildError::PublicUrl(_)
    ));
    // The console at any path (see console_mounted.rs), but not over another part.
    assert!(
        b().public_url("https://app.example.net/identity")
            .prefix("/identity")
            .console(ConsoleConfig::new(Some("t".repeat(32).as_str()), None).unwrap())
            .console_path("/admin-ui")
            .build()
            .is_ok()
    );
    assert!(matches!(
        built(
            b().console(ConsoleConfig::new(None, None).unwrap())
                .console_path("/scim/v2/console")
        ),
        BuildError::PathClash(_)
    ));
    assert!(matches!(
        built(
            b().admin(AdminConfig::new(None))
                .admin_path("/scim/v2/admin")
        ),
        BuildError::PathClash(_)
    ));
    assert!(matches!(
        built(b().activation_path("/")),
        BuildError::EmptyPath(_)
    ));
    assert!(
        b().public_url("https://app.example.net/identity")
            .prefix("identity/")
            .build()
            .is_ok()
    );
}

#[actix_web::test]
async fn rate_limited_parts_answer_in_their_own_style() {
    let db = TestDb::sqlite();
    let store = db.store().clone();
    let keys = keys(&store);
    let mut limits = scim_http::throttle::ThrottleConfig::default();
    limits.unauthenticated_per_minute = 1;
    let service = ScimService::builder(store.clone(), keys.clone())
        .public_url("https://app.example.net/identity")
        .prefix("/identity")
        .admin(AdminConfig::new(Some(ADMIN.to_owned())))
        .throttle(scim_http::throttle::Throttle::new(limits))
        .build()
        .unwrap();
    let app = test::init_service(App::new().configure(|cfg| service.configure(cfg))).await;
    let peer = "192.0.2.7:40000".parse().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, ct, body) = call(
            &app,
            test::TestRequest::get()
                .uri("/identity/admin/v1/tenants")
                .peer_addr(peer),
        )
        .await;
        statuses.push(s);
        if s == 429 {
            assert!(ct.starts_with("application/json"), "{ct} {body}");
            assert!(json_of(&body)["error"].is_string(), "{body}");
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let (s, ct, body) = call(
        &app,
        test::TestRequest::get()
            .uri("/identity/scim/v2/acme/Users")
            .peer_addr(peer),
    )
    .await;
    assert_eq!(s, 429, "{body}");
    assert!(ct.starts_with("application/scim+json"), "{ct}");
}

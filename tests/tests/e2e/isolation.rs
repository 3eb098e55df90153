//! Tenants cannot see each other; a regenerated token locks out the old one; bad
//! input gets the right SCIM error and changes nothing; operational endpoints.

use serde_json::json;

use crate::harness::{Server, on_both};

fn user_count(s: &Server, slug: &str, token: &str) -> u64 {
    let r = s
        .request()
        .bearer(token)
        .get(&format!("/scim/v2/{slug}/Users?count=0"));
    assert_eq!(r.status, 200);
    r.json()["totalResults"].as_u64().unwrap()
}

#[test]
fn two_tenants_cannot_see_each_other() {
    on_both(|s| {
        let acme = s.tenant("acme");
        let globex = s.tenant("globex");
        let r = s.request().bearer(&acme).json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "same@example.net"}),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        // The same userName may exist in another tenant.
        let r = s.request().bearer(&globex).json(
            "POST",
            "/scim/v2/globex/Users",
            &json!({"userName": "same@example.net"}),
        );
        assert_eq!(r.status, 201);
        // acme's token under globex's URL: 401, like any wrong token.
        s.request()
            .bearer(&acme)
            .get("/scim/v2/globex/Users")
            .assert_error(401, None);
        // acme's id under globex's URL with globex's token: 404.
        s.request()
            .bearer(&globex)
            .get(&format!("/scim/v2/globex/Users/{id}"))
            .assert_error(404, None);
        s.request()
            .bearer(&globex)
            .delete(&format!("/scim/v2/globex/Users/{id}"))
            .assert_error(404, None);
        assert_eq!(
            s.request()
                .bearer(&acme)
                .get(&format!("/scim/v2/acme/Users/{id}"))
                .status,
            200
        );
        assert_eq!(user_count(s, "acme", &acme), 1);
        assert_eq!(user_count(s, "globex", &globex), 1);
    });
}

#[test]
fn a_regenerated_token_locks_out_the_old_one() {
    on_both(|s| {
        let old = s.tenant("acme");
        assert_eq!(
            s.request().bearer(&old).get("/scim/v2/acme/Users").status,
            200
        );
        let new = s.regenerate("acme");
        let r = s.request().bearer(&old).get("/scim/v2/acme/Users");
        r.assert_error(401, None);
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"SCIM\""));
        assert_eq!(
            s.request().bearer(&new).get("/scim/v2/acme/Users").status,
            200
        );
    });
}

#[test]
fn bad_input_gets_scim_errors_and_changes_nothing() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "kept@example.net", "title": "Boss"}),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let before = req.get(&format!("/scim/v2/acme/Users/{id}")).json();

        // Broken JSON (a trailing comma, as in Microsoft's docs) and an empty body.
        req.send(
            "POST",
            "/scim/v2/acme/Users",
            Some(br#"{"userName": "a@b.c",}"#),
        )
        .assert_error(400, Some("invalidSyntax"));
        req.send("POST", "/scim/v2/acme/Users", Some(b""))
            .assert_error(400, Some("invalidSyntax"));
        req.send(
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            Some(b"{\"Operations\": ["),
        )
        .assert_error(400, Some("invalidSyntax"));
        // Wrong types, unknown attributes, missing required ones.
        req.json("POST", "/scim/v2/acme/Users", &json!({"userName": 42}))
            .assert_error(400, Some("invalidValue"));
        req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "x@y.z", "shoeSize": 42}),
        )
        .assert_error(400, Some("invalidSyntax"));
        req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"displayName": "No Name"}),
        )
        .assert_error(400, Some("invalidValue"));
        req.json(
            "PUT",
            &format!("/scim/v2/acme/Users/{id}"),
            &json!({"userName": "kept@example.net", "active": "maybe"}),
        )
        .assert_error(400, Some("invalidValue"));
        req.json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            &json!({"Operations": [{"op": "Replace", "path": "title", "value": 7}]}),
        )
        .assert_error(400, Some("invalidValue"));
        req.json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "path": "shoeSize", "value": "9"}]}),
        )
        .assert_error(400, Some("invalidPath"));
        req.json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "path": "id", "value": "other"}]}),
        )
        .assert_error(400, Some("mutability"));
        // Bad filters.
        for f in [
            "userName+eq",
            "userName+eq+jyoung",
            "active+gt+true",
            "shoeSize+eq+%221%22",
            "(((userName+pr",
        ] {
            req.get(&format!("/scim/v2/acme/Users?filter={f}"))
                .assert_error(400, Some("invalidFilter"));
        }
        // An oversized body.
        let big = json!({"userName": "big@example.net", "title": "x".repeat(2 * 1024 * 1024)});
        req.json("POST", "/scim/v2/acme/Users", &big)
            .assert_error(413, None);
        // Unknown routes and wrong methods.
        req.get("/scim/v2/acme/Widgets").assert_error(404, None);
        req.send("DELETE", "/scim/v2/acme/Users", None)
            .assert_error(405, None);

        // Nothing changed.
        assert_eq!(user_count(s, "acme", &token), 1);
        let after = req.get(&format!("/scim/v2/acme/Users/{id}")).json();
        assert_eq!(before, after);
    });
}

#[test]
fn deactivation_wins_over_a_rejected_operation() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let id = req
            .json(
                "POST",
                "/scim/v2/acme/Users",
                &json!({"userName": "leaver@example.net"}),
            )
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = req.json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{id}"),
            &json!({"Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "userName", "value": null}
            ]}),
        );
        r.assert_error(400, Some("invalidValue"));
        let u = req.get(&format!("/scim/v2/acme/Users/{id}")).json();
        assert_eq!(u["active"], false, "the leaver is suspended anyway");
        assert_eq!(
            u["userName"], "leaver@example.net",
            "the rejected operation changed nothing"
        );
    });
}

#[test]
fn etags_and_preconditions() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "etag@example.net"}),
        );
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let path = format!("/scim/v2/acme/Users/{id}");
        let etag = r.header("etag").unwrap().to_owned();
        let r = s
            .request()
            .bearer(&token)
            .header("If-None-Match", &etag)
            .get(&path);
        assert_eq!(r.status, 304);
        let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "A"}]});
        let r = s
            .request()
            .bearer(&token)
            .header("If-Match", &etag)
            .json("PATCH", &path, &patch);
        assert_eq!(r.status, 200);
        // The old ETag is stale now: 412, nothing changes.
        let stale = json!({"Operations": [{"op": "replace", "path": "title", "value": "B"}]});
        s.request()
            .bearer(&token)
            .header("If-Match", &etag)
            .json("PATCH", &path, &stale)
            .assert_error(412, None);
        assert_eq!(req.get(&path).json()["title"], "A");
    });
}

#[test]
fn health_readiness_and_metrics() {
    on_both(|s| {
        let token = s.tenant("acme");
        assert_eq!(s.request().get("/healthz").status, 200);
        assert_eq!(s.request().get("/readyz").status, 200);
        assert_eq!(
            s.request().bearer(&token).get("/scim/v2/acme/Users").status,
            200
        );
        let r = s.request().get("/metrics");
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body.clone()).unwrap();
        assert!(
            text.contains(r#"scim_http_requests_total{tenant="acme",method="GET",route="/scim/v2/{tenant}/Users",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("scim_http_request_duration_seconds_bucket"));
        assert!(s.request().get("/healthz").header("x-request-id").is_some());

        // Unauthenticated requests name any tenant they like: they must not
        // create metric series (unbounded memory) or echo the slug on /metrics.
        for i in 0..20 {
            s.request()
                .get(&format!("/scim/v2/probe-{i}/Users"))
                .assert_error(401, None);
        }
        s.request()
            .bearer(&token)
            .get("/scim/v2/probe-x/Users")
            .assert_error(401, None);
        let text = String::from_utf8(s.request().get("/metrics").body).unwrap();
        assert!(!text.contains("probe-"), "{text}");
        assert!(
            text.contains(r#"scim_http_requests_total{tenant="unknown",method="GET",route="/scim/v2/{tenant}/Users",status="401"} 21"#),
            "{text}"
        );
        // A refused request for a tenant that exists is labelled with it, so
        // after a rotation the failing directory shows on /metrics.
        s.regenerate("acme");
        s.request()
            .bearer(&token)
            .get("/scim/v2/acme/Users")
            .assert_error(401, None);
        let text = String::from_utf8(s.request().get("/metrics").body).unwrap();
        assert!(
            text.contains(r#"scim_http_requests_total{tenant="acme",method="GET",route="/scim/v2/{tenant}/Users",status="401"} 1"#),
            "{text}"
        );
    });
}

#[test]
fn the_operators_signing_key_signs_and_checks_tokens() {
    let db = store_diesel::testing::TestDb::sqlite();
    let s = Server::start(db, &["--signing-key", "an operator-supplied signing key"]);
    let store = s.db.store();
    let operator =
        scim_server::signing_keys(store, Some("an operator-supplied signing key")).unwrap();
    let (_, good) = scim_server::create_tenant(store, &operator, "acme", "Acme").unwrap();
    assert_eq!(
        s.request()
            .bearer(&good.token)
            .get("/scim/v2/acme/Users")
            .status,
        200
    );
    // A token signed with the key kept in the database is not valid on this server.
    let stored = scim_server::signing_keys(store, None).unwrap();
    let other = scim_server::issue_token(
        store,
        &stored,
        &store
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
            .unwrap()
            .id,
    )
    .unwrap();
    s.request()
        .bearer(&other.token)
        .get("/scim/v2/acme/Users")
        .assert_error(401, None);
}

#[test]
fn product_extension_attributes_through_scim() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        const EXT: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";
        let r = req.json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"userName": "ext@example.net", EXT: {"requireMobileAuth": "False", "status": "Active"}}),
        );
        assert_eq!(r.status, 201);
        let u = r.json();
        let id = u["id"].as_str().unwrap().to_owned();
        assert_eq!(
            u[EXT]["requireMobileAuth"], false,
            "writable override set on create"
        );
        assert_eq!(
            u[EXT]["status"], "Staged",
            "status is read-only: the client's value is ignored on create"
        );
        assert_eq!(u[EXT]["mobileDeviceEnrolled"], false);
        // Set and clear an override by URN-qualified path, as an Entra mapping would.
        let path = format!("/scim/v2/acme/Users/{id}");
        let r = req.json(
            "PATCH",
            &path,
            &json!({"Operations": [
                {"op": "Add", "path": format!("{EXT}:automaticInvitation"), "value": "True"}
            ]}),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.json()[EXT]["automaticInvitation"], true);
        let r = req.json(
            "PATCH",
            &path,
            &json!({"Operations": [
                {"op": "Remove", "path": format!("{EXT}:requireMobileAuth")}
            ]}),
        );
        assert_eq!(r.status, 200);
        assert!(
            r.json()[EXT].get("requireMobileAuth").is_none(),
            "removed = inherit"
        );
        // The product status cannot be changed through SCIM.
        req.json(
            "PATCH",
            &path,
            &json!({"Operations": [
                {"op": "replace", "path": format!("{EXT}:status"), "value": "Active"}
            ]}),
        )
        .assert_error(400, Some("mutability"));
        // Filterable like any attribute.
        let q = format!("/scim/v2/acme/Users?filter={EXT}:automaticInvitation+eq+true");
        assert_eq!(req.get(&q).json()["totalResults"], 1);
    });
}

#[test]
fn admin_routes_answer_errors_in_their_own_shape() {
    let s = Server::start(
        store_diesel::testing::TestDb::sqlite(),
        &["--admin-token", "admin-secret"],
    );
    let r = s
        .request()
        .bearer("admin-secret")
        .send("DELETE", "/admin/v1/tenants", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json()["error"].is_string(), "{:?}", r.json());
    // SCIM routes keep SCIM errors.
    s.request()
        .send("DELETE", "/scim/v2/default/Users", None)
        .assert_error(405, None);
}

#[test]
fn metrics_can_require_a_token() {
    let s = Server::start(
        store_diesel::testing::TestDb::sqlite(),
        &["--metrics-token", "scrape-me"],
    );
    let r = s.request().get("/metrics");
    assert_eq!(r.status, 401);
    assert_eq!(s.request().bearer("wrong").get("/metrics").status, 401);
    let r = s.request().bearer("scrape-me").get("/metrics");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("scim_http_requests_total"));
}

#[test]
fn a_graceful_stop_finishes_requests_in_flight() {
    use std::io::{Read, Write};
    let s = Server::start(store_diesel::testing::TestDb::sqlite(), &[]);
    let token = s.tenant("acme");
    // A request whose body is still arriving when the stop begins.
    let body = br#"{"userName": "in-flight@example.net"}"#;
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..10]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stopping = s.stop_gracefully();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.write_all(&body[10..]).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 201"), "{raw}");
    stopping.join().unwrap();
    // Stopped: new connections are refused, and the user was stored.
    assert!(std::net::TcpStream::connect(s.addr).is_err());
    let t =
        s.db.store()
            .transaction(|c| store_diesel::tenants::get_by_slug(c, "acme"))
            .unwrap();
    let found = s
        .db
        .store()
        .with_conn(|c| store_diesel::users::find_by_user_name(c, &t.id, "in-flight@example.net"))
        .unwrap();
    assert!(found.is_some());
}

#[test]
fn tenant_slugs_match_in_any_letter_case_and_401s_say_what_to_check() {
    on_both(|s| {
        let token = s.tenant("acme");
        let r = s.request().bearer(&token).get("/scim/v2/ACME/Users");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let r = s
            .request()
            .bearer(&token)
            .get("/scim/v2/Acme/ServiceProviderConfig");
        assert_eq!(r.status, 200);
        // Another tenant's URL and no token at all: the same 401 for outsiders,
        // whose detail tells the operator what to check.
        let e = s
            .request()
            .bearer(&token)
            .get("/scim/v2/globex/Users")
            .assert_error(401, None);
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains("tenant part of the Tenant URL"), "{detail}");
        let e2 = s
            .request()
            .get("/scim/v2/acme/Users")
            .assert_error(401, None);
        assert_eq!(e, e2);
    });
}

#[test]
fn arbitrary_methods_do_not_grow_the_metrics() {
    let s = Server::start(store_diesel::testing::TestDb::sqlite(), &[]);
    for i in 0..200 {
        s.request().send(&format!("X{i}ZZY"), "/healthz", None);
    }
    let text = String::from_utf8(s.request().get("/metrics").body).unwrap();
    assert!(!text.contains("ZZY"), "{text}");
    assert!(
        text.contains(r#"method="other",route="/healthz""#),
        "{text}"
    );
    assert!(text.len() < 20_000, "{} bytes", text.len());
}

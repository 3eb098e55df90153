//! The console's Webhooks & API keys screens over HTTP, on both backends: a
//! tenant administrator creates (shown once) and revokes API keys, registers
//! an endpoint (secret shown once), reads its delivery log, rotates the
//! secret, disables and enables it, replays and deletes it; each action goes
//! through the admin API's code and is audited under their name; a form
//! without this session's CSRF token changes nothing; another tenant's
//! screens, endpoints and keys are 404.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::console::{Console, OPERATOR_TOKEN, element_text, on_both_with, sign_in, text};
use crate::console_admins::{PASSWORD, create_admin, enc, password_sign_in, session, set_password};
use crate::harness::{Response, Server};

const FLAGS: &[&str] = &[
    "--unauthenticated-rate-limit",
    "0",
    "--webhook-allow-http",
    "--webhook-poll-ms",
    "50",
    "--webhook-retry-base-ms",
    "200",
    "--webhook-timeout-secs",
    "2",
];

/// Nothing listens here: every delivery fails with a connection error.
const DEAD_URL: &str = "http://127.0.0.1:9/hook";

fn admin_api(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Response {
    let r = s.request().bearer(OPERATOR_TOKEN);
    match body {
        Some(b) => r.json(method, path, b),
        None => r.send(method, path, None),
    }
}

fn items(s: &Server, path: &str) -> Vec<Value> {
    let r = admin_api(s, "GET", path, None);
    assert_eq!(r.status, 200, "{path}: {}", text(&r));
    r.json()["items"].as_array().unwrap().clone()
}

fn audited(s: &Server, slug: &str, actor: &str, action: &str) -> usize {
    items(s, &format!("/admin/v1/tenants/{slug}/audit?limit=500"))
        .iter()
        .filter(|r| r["actor"] == actor && r["action"] == action)
        .count()
}

fn see_other(r: &Response) -> String {
    assert_eq!(r.status, 303, "{}", text(r));
    r.header("location").unwrap().to_owned()
}

/// A tenant administrator of `slug` signed in with a password only.
fn tenant_admin<'a>(s: &'a Server, op: &Console<'_>, slug: &str, email: &str) -> Console<'a> {
    let off = op.post(
        &format!("/console/tenants/{slug}/admins/second-factor"),
        &format!("csrf={}", op.csrf()),
    );
    assert_eq!(off.status, 303);
    let link = create_admin(op, slug, email);
    assert_eq!(set_password(s, &link, PASSWORD, PASSWORD).status, 303);
    let res = password_sign_in(s, email, PASSWORD);
    assert_eq!(res.status, 303, "{}", text(&res));
    Console {
        server: s,
        cookie: session(&res),
    }
}

const ANN: &str = "console:ann@acme.test";

#[test]
fn webhook_and_api_key_screens() {
    on_both_with(FLAGS, |s| {
        let token = s.tenant("acme");
        s.tenant("globex");
        let op = sign_in(s);
        let ann = tenant_admin(s, &op, "acme", "ann@acme.test");
        let csrf = ann.csrf();
        let page = ann.get("/console/tenants/acme/webhooks");
        assert_eq!(page.status, 200, "{}", text(&page));
        let page = text(&page);
        assert!(page.contains("id=\"no-keys\"") && page.contains("id=\"no-endpoints\""));
        assert!(ann.get("/console/tenants/acme/users").status == 200);
        assert!(
            text(&ann.get("/console/tenants/acme/users"))
                .contains("/console/tenants/acme/webhooks"),
            "the tenant navigation links the screen"
        );

        // API key: created, shown once, works; then revoked.
        let r = ann.post(
            "/console/tenants/acme/api-keys",
            &format!("csrf={csrf}&name={}", enc("events consumer")),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        let key = element_text(&text(&r), "new-api-key").unwrap();
        assert!(key.starts_with("sk_"), "{key}");
        assert!(!text(&ann.get("/console/tenants/acme/webhooks")).contains(&key));
        let feed = |k: &str| {
            s.request()
                .bearer(k)
                .get("/admin/v1/tenants/acme/events")
                .status
        };
        assert_eq!(feed(&key), 200);
        let keys = items(s, "/admin/v1/tenants/acme/api-keys");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["name"], "events consumer");
        let key_id = keys[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(audited(s, "acme", ANN, "api_key.created"), 1);
        let bad = ann.post(
            "/console/tenants/acme/api-keys",
            &format!("csrf={csrf}&name=%07bell"),
        );
        assert_eq!(bad.status, 400);
        assert!(
            element_text(&text(&bad), "error")
                .unwrap()
                .contains("Nothing changed")
        );
        assert_eq!(items(s, "/admin/v1/tenants/acme/api-keys").len(), 1);

        // Register an endpoint: the secret shown once.
        let r = ann.post(
            "/console/tenants/acme/webhooks",
            &format!(
                "csrf={csrf}&url={}&event_types={}",
                enc(DEAD_URL),
                enc("user.provisioned, user.suspended")
            ),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        let secret = element_text(&text(&r), "new-signing-secret").unwrap();
        assert!(secret.starts_with("whsec_"));
        let hooks = items(s, "/admin/v1/tenants/acme/webhooks");
        assert_eq!(hooks.len(), 1);
        assert_eq!(
            hooks[0]["eventTypes"],
            json!(["user.provisioned", "user.suspended"])
        );
        let hook = hooks[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(audited(s, "acme", ANN, "webhook.created"), 1);
        for body in [
            format!("csrf={csrf}&url={}", enc("ftp://example.com/x")),
            format!("csrf={csrf}&url={}&event_types=Users", enc(DEAD_URL)),
        ] {
            let bad = ann.post("/console/tenants/acme/webhooks", &body);
            assert_eq!(bad.status, 400, "{body}");
            assert!(
                element_text(&text(&bad), "error")
                    .unwrap()
                    .contains("Nothing changed")
            );
        }
        assert_eq!(items(s, "/admin/v1/tenants/acme/webhooks").len(), 1);
        let list = text(&ann.get("/console/tenants/acme/webhooks"));
        assert!(
            list.contains(DEAD_URL) && list.contains("healthy"),
            "{list}"
        );
        assert!(!list.contains(&secret));

        // A change fails to deliver: the log shows the attempt and its error.
        let r = s.request().bearer(&token).json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "u@acme.test", "active": true}),
        );
        assert_eq!(r.status, 201);
        let path = format!("/console/tenants/acme/webhooks/{hook}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let page = loop {
            let page = text(&ann.get(&path));
            if page.contains("id=\"delivery-log\"") {
                break page;
            }
            assert!(Instant::now() < deadline, "no attempt logged: {page}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            page.contains("failed") && page.contains("no response"),
            "{page}"
        );
        assert!(page.contains(" ms</td>"), "{page}");

        // Rotate with a grace period: the new secret shown once.
        let r = ann.post(
            &format!("{path}/rotate"),
            &format!("csrf={csrf}&grace=3600"),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        let rotated = element_text(&text(&r), "new-signing-secret").unwrap();
        assert!(rotated.starts_with("whsec_") && rotated != secret);
        assert!(text(&r).contains("id=\"previous-secret\""));
        assert_eq!(audited(s, "acme", ANN, "webhook.secret_rotated"), 1);
        assert_eq!(
            ann.post(&format!("{path}/rotate"), &format!("csrf={csrf}&grace=5"))
                .status,
            400
        );

        // Disable, enable.
        let r = ann.post(
            &format!("{path}/enabled"),
            &format!("csrf={csrf}&enabled=off"),
        );
        assert_eq!(r.status, 200);
        let get_hook = || {
            let r = admin_api(
                s,
                "GET",
                &format!("/admin/v1/tenants/acme/webhooks/{hook}"),
                None,
            );
            assert_eq!(r.status, 200);
            r.json()
        };
        assert_eq!(get_hook()["enabled"], false);
        assert!(
            element_text(&text(&r), "endpoint-state")
                .unwrap()
                .contains("disabled")
        );
        ann.post(
            &format!("{path}/enabled"),
            &format!("csrf={csrf}&enabled=on"),
        );
        assert_eq!(get_hook()["enabled"], true);
        assert_eq!(audited(s, "acme", ANN, "webhook.updated"), 2);

        // Replay from a sequence number.
        let r = ann.post(
            &format!("{path}/replay"),
            &format!("csrf={csrf}&from_seq=1"),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert!(
            element_text(&text(&r), "notice")
                .unwrap()
                .contains("Replaying")
        );
        assert_eq!(audited(s, "acme", ANN, "webhook.replayed"), 1);
        assert_eq!(
            ann.post(
                &format!("{path}/replay"),
                &format!("csrf={csrf}&from_seq=x")
            )
            .status,
            400
        );
        assert_eq!(audited(s, "acme", ANN, "webhook.replayed"), 1);

        // Every form refuses a missing or foreign CSRF token and changes nothing.
        let other = op.csrf();
        let forms = [
            (
                "/console/tenants/acme/api-keys".to_owned(),
                "name=x".to_owned(),
            ),
            (
                format!("/console/tenants/acme/api-keys/{key_id}/revoke"),
                String::new(),
            ),
            (
                "/console/tenants/acme/webhooks".to_owned(),
                format!("url={}", enc(DEAD_URL)),
            ),
            (format!("{path}/rotate"), "grace=0".to_owned()),
            (format!("{path}/enabled"), "enabled=off".to_owned()),
            (format!("{path}/replay"), "from_seq=1".to_owned()),
            (format!("{path}/delete"), "confirm=yes".to_owned()),
        ];
        for (form, fields) in &forms {
            for c in ["", "csrf=", "csrf=forged", &format!("csrf={other}")] {
                let body = [c, fields.as_str()]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("&");
                let r = ann.post(form, &body);
                assert_eq!(r.status, 403, "{form} {body}");
            }
        }
        assert_eq!(items(s, "/admin/v1/tenants/acme/api-keys").len(), 1);
        assert_eq!(items(s, "/admin/v1/tenants/acme/webhooks").len(), 1);
        assert_eq!(get_hook()["enabled"], true);
        assert_eq!(feed(&key), 200);

        // Another tenant: its screen, endpoints and keys are 404 to ann.
        let g = admin_api(
            s,
            "POST",
            "/admin/v1/tenants/globex/webhooks",
            Some(&json!({"url": DEAD_URL})),
        );
        assert_eq!(g.status, 201);
        let globex_hook = g.json()["id"].as_str().unwrap().to_owned();
        let g = admin_api(
            s,
            "POST",
            "/admin/v1/tenants/globex/api-keys",
            Some(&json!({})),
        );
        assert_eq!(g.status, 201);
        let globex_key = g.json()["key"].as_str().unwrap().to_owned();
        let globex_key_id = g.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(ann.get("/console/tenants/globex/webhooks").status, 404);
        assert_eq!(
            ann.get(&format!("/console/tenants/globex/webhooks/{globex_hook}"))
                .status,
            404
        );
        assert_eq!(
            ann.get(&format!("/console/tenants/acme/webhooks/{globex_hook}"))
                .status,
            404
        );
        for form in [
            "/console/tenants/globex/api-keys".to_owned(),
            "/console/tenants/globex/webhooks".to_owned(),
            format!("/console/tenants/globex/api-keys/{globex_key_id}/revoke"),
            format!("/console/tenants/acme/api-keys/{globex_key_id}/revoke"),
            format!("/console/tenants/acme/webhooks/{globex_hook}/rotate"),
            format!("/console/tenants/acme/webhooks/{globex_hook}/enabled"),
            format!("/console/tenants/acme/webhooks/{globex_hook}/replay"),
            format!("/console/tenants/acme/webhooks/{globex_hook}/delete"),
            format!("/console/tenants/globex/webhooks/{globex_hook}/delete"),
        ] {
            let r = ann.post(
                &form,
                &format!(
                    "csrf={csrf}&confirm=yes&from_seq=1&grace=0&enabled=off&name=x&url={}",
                    enc(DEAD_URL)
                ),
            );
            assert_eq!(r.status, 404, "{form}");
        }
        assert_eq!(items(s, "/admin/v1/tenants/globex/webhooks").len(), 1);
        assert_eq!(items(s, "/admin/v1/tenants/globex/api-keys").len(), 1);
        assert_eq!(
            s.request()
                .bearer(&globex_key)
                .get("/admin/v1/tenants/globex/events")
                .status,
            200
        );
        assert!(
            items(s, "/admin/v1/tenants/globex/audit?limit=500")
                .iter()
                .all(|r| r["actor"] != ANN)
        );

        // Revoke the key and delete the endpoint.
        let to = see_other(&ann.post(
            &format!("/console/tenants/acme/api-keys/{key_id}/revoke"),
            &format!("csrf={csrf}"),
        ));
        assert_eq!(to, "/console/tenants/acme/webhooks");
        assert_eq!(feed(&key), 401);
        assert_eq!(audited(s, "acme", ANN, "api_key.revoked"), 1);
        assert_eq!(
            ann.post(&format!("{path}/delete"), &format!("csrf={csrf}"))
                .status,
            400,
            "the tick is required"
        );
        see_other(&ann.post(
            &format!("{path}/delete"),
            &format!("csrf={csrf}&confirm=yes"),
        ));
        assert!(items(s, "/admin/v1/tenants/acme/webhooks").is_empty());
        assert_eq!(audited(s, "acme", ANN, "webhook.deleted"), 1);
        assert_eq!(ann.get(&path).status, 404);

        // The operator has the same screens, audited as the operator.
        let op_csrf = op.csrf();
        let r = op.post(
            "/console/tenants/globex/api-keys",
            &format!("csrf={op_csrf}&name=ops"),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(
            audited(s, "globex", "console:operator", "api_key.created"),
            1
        );
        let page = text(&op.get("/console/tenants/globex/webhooks"));
        assert!(page.contains(DEAD_URL) && page.contains("ops"), "{page}");
    });
}

//! Runs the example host application for real (an SQLite file, HTTP over
//! loopback) and drives it as Entra ID, the operator and the host's own
//! clients would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "host-admin-token-0123456789abcdef";

struct Host {
    base: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    db: std::path::PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)))
                .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
    }
}

fn start() -> Host {
    let db = std::env::temp_dir().join(format!(
        "host-app-{}-{}.db",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let mut settings =
        host_app::HostSettings::new(&format!("sqlite://{}", db.display()), "127.0.0.1:0");
    settings.admin_token = Some(ADMIN.to_owned());
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let host = host_app::start(&settings).unwrap();
            tx.send((host.public_url.clone(), host.server.handle()))
                .unwrap();
            let background = host.background;
            let _ = host.server.await;
            background.stop();
        });
    });
    let (base, handle) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    Host {
        base,
        handle,
        thread: Some(thread),
        db,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends a request; returns status, content type and body.
fn call(
    a: &ureq::Agent,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, String, String) {
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json");
    let req = match bearer {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        None => req,
    };
    let req = req
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let mut res = a.run(req).unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.body_mut().read_to_string().unwrap_or_default();
    (status, ct, text)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_host_app_embeds_the_service() {
    let host = start();
    let a = agent();
    let base = &host.base;
    let id = format!("{base}/identity");

    // The host's own routes and 404s.
    let (s, _, body) = call(&a, "GET", &format!("{base}/"), None, None);
    assert_eq!(s, 200);
    assert!(body.contains("host app"));
    let (s, ct, body) = call(&a, "GET", &format!("{base}/nowhere"), None, None);
    assert_eq!(s, 404);
    assert!(
        !ct.contains("scim") && !body.contains("urn:ietf"),
        "{ct} {body}"
    );

    // The operator creates a tenant and its Secret Token through the admin API
    // under the prefix; the Tenant URL carries it.
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{id}/admin/v1/tenants"),
        Some(ADMIN),
        Some(json!({"slug": "acme", "name": "Acme"})),
    );
    assert_eq!(s, 201, "{body}");
    assert_eq!(json_of(&body)["tenantUrl"], format!("{id}/scim/v2/acme"));
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{id}/admin/v1/tenants/acme/integration/token"),
        Some(ADMIN),
        None,
    );
    assert_eq!(s, 201, "{body}");
    let token = json_of(&body)["secretToken"].as_str().unwrap().to_owned();

    // The console, at the host's own path under the prefix: its form and
    // assets point there.
    let (s, ct, body) = call(&a, "GET", &format!("{id}/admin-ui/login"), None, None);
    assert_eq!(s, 200, "{body}");
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(
        body.contains("action=\"/identity/admin-ui/login\"")
            && body.contains("href=\"/identity/admin-ui/assets/console.css\"")
            && !body.contains("\"/console"),
        "{body}"
    );

    // Entra ID provisions a user; errors on SCIM routes are SCIM's.
    let scim = format!("{id}/scim/v2/acme");
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{scim}/Users"),
        Some(&token),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "nora@acme.example",
            "displayName": "Nora",
            "emails": [{"value": "nora@acme.example", "primary": true}],
        })),
    );
    assert_eq!(s, 201, "{body}");
    let user = json_of(&body);
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert!(
        user["meta"]["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{scim}/Users/"))
    );
    let (s, ct, body) = call(
        &a,
        "GET",
        &format!("{scim}/Users/nobody"),
        Some(&token),
        None,
    );
    assert_eq!(s, 404);
    assert!(ct.starts_with("application/scim+json"), "{ct}");
    assert_eq!(json_of(&body)["status"], "404");

    // The operator invites the user and an administrator checks in: the
    // invitation goes out through the host's mailer, with an activation link
    // under the prefix.
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{id}/admin/v1/tenants/acme/users/{user_id}/invite"),
        Some(ADMIN),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{id}/admin/v1/tenants/acme/admin-checkins"),
        Some(ADMIN),
        None,
    );
    assert_eq!((s, json_of(&body)), (200, json!({"released": 1})));
    let mail = wait_for("the invitation email", || {
        let (_, _, body) = call(&a, "GET", &format!("{base}/dev/mailbox"), None, None);
        json_of(&body).as_array().and_then(|m| m.first().cloned())
    });
    assert_eq!(mail["to"], "nora@acme.example");
    let text = mail["text"].as_str().unwrap();
    let link_start = text
        .find(&format!("{id}/activate?token="))
        .unwrap_or_else(|| panic!("no activation link under the prefix: {text}"));
    let link = text[link_start..].split_whitespace().next().unwrap();
    let activation_token = link.split("token=").nth(1).unwrap();
    let (s, _, body) = call(
        &a,
        "POST",
        &format!("{id}/activate"),
        None,
        Some(json!({"token": activation_token, "mobileDevice": {"name": "Nora's phone"}})),
    );
    assert_eq!(s, 200, "{body}");

    // The user signs in to the host twice; the directory suspends them; the
    // host's event reactor ends both sessions.
    for _ in 0..2 {
        let (s, _, _) = call(
            &a,
            "POST",
            &format!("{base}/api/users/{user_id}/sessions"),
            None,
            None,
        );
        assert_eq!(s, 201);
    }
    let open = |a: &ureq::Agent| {
        let (_, _, body) = call(
            a,
            "GET",
            &format!("{base}/api/users/{user_id}/sessions"),
            None,
            None,
        );
        json_of(&body)["open"].as_u64().unwrap()
    };
    assert_eq!(open(&a), 2);
    let (s, _, body) = call(
        &a,
        "PATCH",
        &format!("{scim}/Users/{user_id}"),
        Some(&token),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        })),
    );
    assert_eq!(s, 200, "{body}");
    wait_for("the sessions to be revoked", || {
        (open(&a) == 0).then_some(())
    });
}

//! Webhooks and tenant API keys (`docs/events.md`), on both backends, with a
//! receiver on loopback: every event arrives signed (the HMAC recomputed
//! here), in order per resource; a failing receiver gets retries and then
//! catches up in order; a rotated secret signs beside the old one; replay
//! delivers again; the server process killed (SIGKILL) mid-delivery and
//! restarted loses nothing; an API key opens its tenant's feed and webhooks
//! only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Response, Server, admin};

const A: &str = "/admin/v1/tenants";
const T: &str = "/scim/v2/acme";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn id(&self) -> String {
        self.headers["webhook-id"].clone()
    }
}

/// A webhook receiver on loopback: records every request and answers with
/// `status` (after `delay_ms`).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            stop: Arc::default(),
        };
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if me.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        r
    }

    fn serve(&self, mut stream: TcpStream) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0_u8; 8192];
        let (head_end, length) = loop {
            let Ok(n) = stream.read(&mut buf) else { return };
            if n == 0 {
                return;
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..p]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (p + 4, length);
            }
        };
        while raw.len() < head_end + length {
            let Ok(n) = stream.read(&mut buf) else { return };
            if n == 0 {
                return;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let status = self.status.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        if status == 200 {
            // Recorded only when acknowledged: what the consumer "has".
            self.got.lock().unwrap().push(Received {
                headers,
                body: raw[head_end..head_end + length].to_vec(),
            });
        }
        let _ = stream.write_all(
            format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .as_bytes(),
        );
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until the receiver has acknowledged every id in `ids`.
    fn wait_for(&self, ids: &HashSet<String>, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            let have: HashSet<String> = got.iter().map(Received::id).collect();
            if ids.is_subset(&have) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "missing {} of {} deliveries",
                ids.difference(&have).count(),
                ids.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if Arc::strong_count(&self.stop) == 2 {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(
                self.url
                    .trim_start_matches("http://")
                    .trim_end_matches("/hook"),
            );
        }
    }
}

/// The Standard Webhooks signature, computed here from the specification.
fn signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn signed_by(r: &Received, secret: &str) -> bool {
    let expected = signature(secret, &r.id(), &r.headers["webhook-timestamp"], &r.body);
    r.headers["webhook-signature"]
        .split(' ')
        .any(|s| s == expected)
}

/// Per resource, the seqs in the order they were first acknowledged must be
/// increasing (duplicates allowed).
fn assert_ordered_per_resource(got: &[Received]) {
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in got {
        if !seen.insert(r.id()) {
            continue;
        }
        let e = r.json();
        let key = format!("{}/{}", e["resourceType"], e["resourceId"]);
        let seq = e["seq"].as_i64().unwrap();
        if let Some(prev) = last.insert(key.clone(), seq) {
            assert!(prev < seq, "{key}: seq {seq} after {prev}");
        }
    }
}

fn ok(r: &Response, status: u16) -> Value {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    body
}

fn feed_ids(s: &Server, after: i64) -> HashSet<String> {
    let r = admin(
        s,
        "GET",
        &format!("{A}/acme/events?after={after}&limit=1000"),
        None,
    );
    ok(&r, 200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn user(s: &Server, token: &str, name: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        &format!("{T}/Users"),
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true}),
    );
    ok(&r, 201)["id"].as_str().unwrap().to_owned()
}

fn patch_active(s: &Server, token: &str, id: &str, active: bool) {
    let r = s.request().bearer(token).json(
        "PATCH",
        &format!("{T}/Users/{id}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": active}]}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

const FAST: &[&str] = &[
    "--admin-token",
    ADMIN,
    "--webhook-allow-http",
    "--webhook-poll-ms",
    "50",
    "--webhook-retry-base-ms",
    "200",
    "--webhook-timeout-secs",
    "2",
];

fn on_both_fast(body: impl Fn(&Server)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let server = Server::start(db, FAST);
        body(&server);
    }
}

#[test]
fn webhooks_deliver_signed_events_in_order_retry_rotate_and_replay() {
    on_both_fast(|s| {
        let token = s.tenant("acme");
        let rx = Receiver::start();

        // Bad input changes nothing.
        for bad in [
            json!({}),
            json!({"url": "ftp://example.com/x"}),
            json!({"url": "https://example.com/x", "eventTypes": "user.suspended"}),
            json!({"url": "https://example.com/x", "eventTypes": ["User Suspended"]}),
            json!({"url": "https://example.com/x", "enabled": "yes"}),
            json!({"url": "https://example.com/x", "secret": "mine"}),
        ] {
            let r = admin(s, "POST", &format!("{A}/acme/webhooks"), Some(&bad));
            assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
            assert!(r.json()["error"].is_string());
        }
        assert_eq!(
            ok(&admin(s, "GET", &format!("{A}/acme/webhooks"), None), 200)["items"],
            json!([])
        );

        let before = user(s, &token, "before@acme.example"); // before the endpoint
        let _ = before;
        let after_seq = {
            let r = admin(s, "GET", &format!("{A}/acme/events?limit=1000"), None);
            ok(&r, 200)["next"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        };
        let created = ok(
            &admin(
                s,
                "POST",
                &format!("{A}/acme/webhooks"),
                Some(&json!({"url": rx.url})),
            ),
            201,
        );
        let hook = created["id"].as_str().unwrap().to_owned();
        let secret = created["signingSecret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(created["state"], "healthy");
        let shown = ok(
            &admin(s, "GET", &format!("{A}/acme/webhooks/{hook}"), None),
            200,
        );
        assert!(shown.get("signingSecret").is_none(), "shown once: {shown}");
        assert!(!shown.to_string().contains(&secret));

        // A burst of changes over a few users.
        let ids: Vec<String> = (0..4)
            .map(|i| user(s, &token, &format!("u{i}@acme.example")))
            .collect();
        for id in &ids {
            patch_active(s, &token, id, false);
            patch_active(s, &token, id, true);
        }
        let expected = feed_ids(s, after_seq);
        assert!(expected.len() >= 12, "{expected:?}");
        let got = rx.wait_for(&expected, Duration::from_secs(30));
        assert_ordered_per_resource(&got);
        for r in &got {
            assert!(signed_by(r, &secret), "signature of {}", r.id());
            let ts: i64 = r.headers["webhook-timestamp"].parse().unwrap();
            assert!((ts - chrono::Utc::now().timestamp()).abs() < 120);
            assert_eq!(r.headers["content-type"], "application/json");
            assert_eq!(r.json()["id"], r.id());
        }
        // Nothing from before the endpoint existed.
        assert!(
            got.iter()
                .all(|r| r.json()["seq"].as_i64().unwrap() > after_seq)
        );

        // The receiver fails for a while: retries, then catch-up in order.
        let mark = got.len();
        let failing_from = expected.len() as i64 + after_seq;
        rx.status.store(500, Ordering::SeqCst);
        for id in &ids {
            patch_active(s, &token, id, false);
        }
        // Wait for a few failed attempts in the delivery log.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = ok(
                &admin(
                    s,
                    "GET",
                    &format!("{A}/acme/webhooks/{hook}/deliveries?limit=500"),
                    None,
                ),
                200,
            );
            let failures = log["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["statusCode"] == 500)
                .count();
            if failures >= 6 {
                let a = &log["items"][0];
                assert!(
                    a["attemptedAt"].is_string() && a["latencyMs"].is_number(),
                    "{a}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "no retries: {log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        for id in &ids {
            patch_active(s, &token, id, true);
        }
        rx.status.store(200, Ordering::SeqCst);
        let all = feed_ids(s, after_seq);
        let got = rx.wait_for(&all, Duration::from_secs(30));
        assert_ordered_per_resource(&got);
        assert!(
            got[mark..]
                .iter()
                .all(|r| r.json()["seq"].as_i64().unwrap() > failing_from)
        );

        // Rotation: the new secret shown once, both signatures during the grace period.
        let rotated = ok(
            &admin(
                s,
                "POST",
                &format!("{A}/acme/webhooks/{hook}/rotate-secret"),
                None,
            ),
            200,
        );
        let new_secret = rotated["signingSecret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, secret);
        assert!(rotated["previousSecretExpiresAt"].is_string());
        let n = rx.received().len();
        patch_active(s, &token, &ids[0], false);
        let all = feed_ids(s, after_seq);
        let got = rx.wait_for(&all, Duration::from_secs(30));
        let last = &got[n..];
        assert!(!last.is_empty());
        for r in last {
            assert!(
                signed_by(r, &new_secret) && signed_by(r, &secret),
                "{:?}",
                r.headers
            );
        }

        // Only some event types; disabled endpoints get nothing.
        let put = ok(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/webhooks/{hook}"),
                Some(&json!({"eventTypes": ["user.suspended"]})),
            ),
            200,
        );
        assert_eq!(put["eventTypes"], json!(["user.suspended"]));
        assert_eq!(put["url"], rx.url.as_str());
        let r = admin(
            s,
            "PUT",
            &format!("{A}/acme/webhooks/{hook}"),
            Some(&json!({"url": "gopher://x"})),
        );
        assert_eq!(r.status, 400);

        // Replay from the first event after the endpoint: delivered again, same ids.
        let n = rx.received().len();
        let r = admin(
            s,
            "POST",
            &format!("{A}/acme/webhooks/{hook}/replay"),
            Some(&json!({"fromSeq": 0})),
        );
        assert_eq!(r.status, 400);
        let r = admin(
            s,
            "POST",
            &format!("{A}/acme/webhooks/{hook}/replay"),
            Some(&json!({"fromSeq": after_seq + 1})),
        );
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let deadline = Instant::now() + Duration::from_secs(30);
        let suspended: HashSet<String> = {
            let r = admin(
                s,
                "GET",
                &format!("{A}/acme/events?after={after_seq}&type=user.suspended&limit=1000"),
                None,
            );
            ok(&r, 200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect()
        };
        loop {
            let again: HashSet<String> = rx.received()[n..].iter().map(Received::id).collect();
            if suspended.is_subset(&again) {
                break;
            }
            assert!(Instant::now() < deadline, "replay incomplete");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            rx.received()[n..]
                .iter()
                .all(|r| r.json()["type"] == "user.suspended")
        );

        // The audit log names the webhook writes.
        let audit = ok(
            &admin(s, "GET", &format!("{A}/acme/audit?limit=500"), None),
            200,
        )
        .to_string();
        for action in [
            "webhook.created",
            "webhook.secret_rotated",
            "webhook.updated",
            "webhook.replayed",
        ] {
            assert!(audit.contains(action), "{action}");
        }
        assert!(!audit.contains(&secret) && !audit.contains(&new_secret));

        let r = admin(s, "DELETE", &format!("{A}/acme/webhooks/{hook}"), None);
        assert_eq!(r.status, 204);
        assert_eq!(
            admin(s, "GET", &format!("{A}/acme/webhooks/{hook}"), None).status,
            404
        );
    });
}

#[test]
fn api_keys_open_their_tenants_feed_and_webhooks_only() {
    on_both_fast(|s| {
        let token = s.tenant("acme");
        s.tenant("other");
        let created = ok(
            &admin(
                s,
                "POST",
                &format!("{A}/acme/api-keys"),
                Some(&json!({"name": "password manager"})),
            ),
            201,
        );
        let key = created["key"].as_str().unwrap().to_owned();
        let key_id = created["id"].as_str().unwrap().to_owned();
        let listed = ok(&admin(s, "GET", &format!("{A}/acme/api-keys"), None), 200);
        assert_eq!(listed["items"][0]["name"], "password manager");
        assert!(!listed.to_string().contains(&key));
        assert_eq!(
            admin(
                s,
                "POST",
                &format!("{A}/acme/api-keys"),
                Some(&json!({"name": 3}))
            )
            .status,
            400
        );

        let with_key = |method: &str, path: &str, body: Option<&Value>| {
            let r = s.request().bearer(&key);
            match body {
                Some(b) => r.json(method, path, b),
                None => r.send(method, path, None),
            }
        };
        user(s, &token, "a@acme.example");
        let feed = ok(&with_key("GET", &format!("{A}/acme/events"), None), 200);
        assert!(
            feed["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "user.provisioned")
        );
        assert_eq!(
            ok(&with_key("GET", &format!("{A}/acme/webhooks"), None), 200)["items"],
            json!([])
        );
        let hook = ok(
            &with_key(
                "POST",
                &format!("{A}/acme/webhooks"),
                Some(&json!({"url": "https://hooks.example.com/x"})),
            ),
            201,
        );
        let audit = ok(
            &admin(s, "GET", &format!("{A}/acme/audit?limit=500"), None),
            200,
        );
        let by_key =
            audit["items"].as_array().unwrap().iter().any(|a| {
                a["action"] == "webhook.created" && a["actor"] == format!("api-key:{key_id}")
            });
        assert!(by_key, "{audit}");

        // Never another tenant, the operator's routes or the SCIM API.
        for (method, path) in [
            ("GET", format!("{A}/other/events")),
            ("GET", format!("{A}/other/webhooks")),
            ("GET", format!("{A}/nope/events")),
            ("GET", A.to_owned()),
            ("GET", format!("{A}/acme/api-keys")),
            ("POST", format!("{A}/acme/api-keys")),
            ("GET", format!("{A}/acme/audit")),
            ("POST", format!("{A}/acme/integration/token")),
        ] {
            let r = with_key(method, &path, None);
            assert_eq!(r.status, 401, "{method} {path}");
        }
        let r = s.request().bearer(&key).get(&format!("{T}/Users"));
        assert_eq!(r.status, 401);
        // A SCIM token does not open the feed.
        assert_eq!(
            s.request()
                .bearer(&token)
                .get(&format!("{A}/acme/events"))
                .status,
            401
        );

        // Revoked: closed at once.
        assert_eq!(
            admin(s, "DELETE", &format!("{A}/acme/api-keys/{key_id}"), None).status,
            204
        );
        assert_eq!(
            with_key("GET", &format!("{A}/acme/events"), None).status,
            401
        );
        assert_eq!(
            admin(s, "DELETE", &format!("{A}/acme/api-keys/{key_id}"), None).status,
            404
        );
        let _ = hook;
    });
}

/// The `scim-server` binary next to this test's executable, built if needed.
fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("scim-server");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    // Older than this test's executable: probably stale, so build it.
    if modified(&bin) < modified(&exe) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "-q", "-p", "scim-server", "--bin", "scim-server"])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build -p scim-server");
    }
    assert!(bin.exists(), "{}", bin.display());
    bin
}

fn spawn_server(bin: &std::path::Path, db_url: &str) -> std::process::Child {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::process::Command::new(bin)
        .args([
            "--database-url",
            db_url,
            "--public-url",
            "https://scim.example.net",
            "serve",
        ])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(FAST)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_server_loses_no_delivery() {
    let bin = server_binary();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let store = db.store();
        let keys = scim_server::signing_keys(store, None).unwrap();
        let (tenant, _) = scim_server::create_tenant(store, &keys, "acme", "Acme").unwrap();
        let rx = Receiver::start();
        rx.delay_ms.store(40, Ordering::SeqCst);
        let secret = scim_http::webhooks::new_secret().unwrap();
        let sealed = keys
            .sealer()
            .seal(scim_http::webhooks::SECRET_PURPOSE, secret.as_bytes())
            .unwrap();
        store
            .transaction(|c| {
                store_diesel::webhooks::create(
                    c,
                    &tenant.id,
                    &rx.url,
                    &[],
                    &sealed,
                    chrono::Utc::now(),
                )
            })
            .unwrap();
        let append = |n: usize| {
            store
                .transaction(|c| {
                    store_diesel::events::append(
                        c,
                        &tenant.id,
                        store_diesel::events::NewEvent {
                            event_type: "user.updated".to_owned(),
                            time: chrono::Utc::now(),
                            actor: "directory".to_owned(),
                            resource_type: "User".to_owned(),
                            resource_id: Some(format!("u{}", n % 5)),
                            data: json!({"n": n}),
                        },
                    )
                })
                .unwrap()
                .id
        };
        let mut ids: HashSet<String> = (0..60).map(append).collect();

        let mut child = spawn_server(&bin, db.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        while rx.received().len() < 15 {
            assert!(Instant::now() < deadline, "no deliveries before the kill");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL, mid-delivery
        let _ = child.wait();
        let at_kill = rx.received().len();
        assert!(at_kill < 60, "the kill came too late to prove anything");
        ids.extend((60..80).map(append));

        let mut child = spawn_server(&bin, db.url());
        // The killed process's claims come back when their lease ends
        // (timeout 2 s x 11 + 5 s).
        let got = rx.wait_for(&ids, Duration::from_secs(240));
        child.kill().unwrap();
        let _ = child.wait();
        assert_ordered_per_resource(&got);
        for r in &got {
            assert!(signed_by(r, &secret));
        }
        let distinct: BTreeMap<String, usize> = got.iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.id()).or_default() += 1;
            m
        });
        assert_eq!(
            distinct.len(),
            80,
            "every event, duplicates detected by webhook-id"
        );
    }
}

#[test]
fn two_replicas_on_postgres_deliver_each_event_once_in_order() {
    let Some(db) = TestDb::of(Backend::Postgres) else {
        return;
    };
    let bin = server_binary();
    let store = db.store();
    let keys = scim_server::signing_keys(store, None).unwrap();
    let (tenant, _) = scim_server::create_tenant(store, &keys, "acme", "Acme").unwrap();
    let rx = Receiver::start();
    rx.delay_ms.store(5, Ordering::SeqCst);
    let secret = scim_http::webhooks::new_secret().unwrap();
    let sealed = keys
        .sealer()
        .seal(scim_http::webhooks::SECRET_PURPOSE, secret.as_bytes())
        .unwrap();
    store
        .transaction(|c| {
            store_diesel::webhooks::create(c, &tenant.id, &rx.url, &[], &sealed, chrono::Utc::now())
        })
        .unwrap();
    let mut a = spawn_server(&bin, db.url());
    let mut b = spawn_server(&bin, db.url());
    // A burst while both run: 200 events over 20 users.
    let ids: HashSet<String> = (0..200)
        .map(|n| {
            store
                .transaction(|c| {
                    store_diesel::events::append(
                        c,
                        &tenant.id,
                        store_diesel::events::NewEvent {
                            event_type: "user.updated".to_owned(),
                            time: chrono::Utc::now(),
                            actor: "directory".to_owned(),
                            resource_type: "User".to_owned(),
                            resource_id: Some(format!("u{}", n % 20)),
                            data: json!({"n": n}),
                        },
                    )
                })
                .unwrap()
                .id
        })
        .collect();
    let got = rx.wait_for(&ids, Duration::from_secs(60));
    // Let any duplicate arrive before counting.
    std::thread::sleep(Duration::from_secs(2));
    let got_all = rx.received();
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        let _ = child.wait();
    }
    assert_ordered_per_resource(&got);
    assert_eq!(
        got_all.len(),
        200,
        "each event exactly once in normal operation"
    );
    // One attempt each in the delivery log, no retry.
    let log = store
        .with_conn(|c| {
            let ep = store_diesel::webhooks::list(c, &tenant.id)?;
            store_diesel::webhooks::attempts(c, &tenant.id, &ep[0].id, None, 500)
        })
        .unwrap();
    assert_eq!(log.len(), 200);
}

/// The measurement of `docs/performance.md` ("A hanging webhook receiver"):
/// SCIM latency with no endpoint, then with an endpoint that accepts
/// connections and never answers (every delivery thread stuck for the whole
/// timeout), alternated twice. Not a pass/fail test (shared machines are
/// noisy); run it by hand:
/// `cargo test --release -p scim-e2e --test e2e hanging -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn measure_scim_latency_with_a_hanging_webhook_receiver() {
    let db = TestDb::of(Backend::Sqlite).unwrap();
    let s = Server::start(db, &["--admin-token", ADMIN, "--webhook-allow-http"]);
    let token = s.tenant("acme");
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("http://{}/hook", hang.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hang.incoming() {
            held.push(c); // accepted, never read, never answered
        }
    });
    let hook = ok(
        &admin(
            &s,
            "POST",
            &format!("{A}/acme/webhooks"),
            Some(&json!({"url": hang_url, "enabled": false})),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = |label: &str| {
        let target =
            scim_loadgen::Target::new(format!("http://{}{T}", s.addr), token.clone()).unwrap();
        let mut cfg = scim_loadgen::Config::new(vec![target]);
        cfg.users = 1000;
        cfg.groups = 10;
        cfg.members = 20;
        cfg.concurrency = 8;
        cfg.duration = Duration::from_secs(10);
        cfg.prefix = label.to_owned();
        let report = scim_loadgen::run(&cfg).unwrap();
        assert_eq!(report.errors, 0, "{report}");
        let row: Vec<String> = report
            .phases
            .iter()
            .map(|p| {
                format!(
                    "{} {:.0} req/s p50 {:.1} p99 {:.1} max {:.0} ms",
                    p.phase, p.req_per_sec, p.latency_ms.p50, p.latency_ms.p99, p.latency_ms.max
                )
            })
            .collect();
        eprintln!("{label}: {}", row.join(" | "));
    };
    let set = |enabled: bool| {
        let r = admin(
            &s,
            "PUT",
            &format!("{A}/acme/webhooks/{hook}"),
            Some(&json!({"enabled": enabled})),
        );
        assert_eq!(r.status, 200);
    };
    run("base1");
    set(true);
    run("hang1");
    set(false);
    std::thread::sleep(Duration::from_secs(11)); // the stuck attempts time out
    run("base2");
    set(true);
    run("hang2");
    let log = ok(
        &admin(
            &s,
            "GET",
            &format!("{A}/acme/webhooks/{hook}/deliveries?limit=500"),
            None,
        ),
        200,
    );
    let attempts = log["items"].as_array().unwrap();
    eprintln!(
        "delivery attempts to the hanging receiver: {} (all failed: {})",
        attempts.len(),
        attempts.iter().all(|a| a["statusCode"].is_null())
    );
    if let Some(a) = attempts.first() {
        eprintln!("first attempt: {a}");
    }
}

/// The value of the Prometheus sample `name` (with its labels) in `/metrics`.
fn metric(s: &Server, sample: &str) -> Option<f64> {
    let r = s.request().get("/metrics");
    assert_eq!(r.status, 200);
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix(sample))
        .and_then(|v| v.trim().parse().ok())
}

fn wait_metric(s: &Server, sample: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = metric(s, sample);
        if let Some(v) = v.filter(|v| ok(*v)) {
            return v;
        }
        assert!(Instant::now() < deadline, "{sample} stayed at {v:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_count_attempts_by_outcome_and_show_the_backlog() {
    on_both_fast(|s| {
        let token = s.tenant("acme");
        let rx = Receiver::start();
        rx.status.store(500, Ordering::SeqCst);
        let created = ok(
            &admin(
                s,
                "POST",
                &format!("{A}/acme/webhooks"),
                Some(&json!({"url": rx.url})),
            ),
            201,
        );
        assert_eq!(created["state"], "healthy");
        assert_eq!(
            metric(s, "scim_webhook_pending{tenant=\"acme\"}"),
            Some(0.0)
        );
        user(s, &token, "m@acme.example");
        // Failing: attempts counted as failed, the delivery waits.
        wait_metric(s, "scim_webhook_attempts_total{outcome=\"failed\"}", |v| {
            v >= 2.0
        });
        assert_eq!(
            metric(s, "scim_webhook_pending{tenant=\"acme\"}"),
            Some(1.0)
        );
        assert!(
            metric(
                s,
                "scim_webhook_oldest_pending_age_seconds{tenant=\"acme\"}"
            )
            .is_some()
        );
        assert_eq!(
            metric(s, "scim_webhook_attempts_total{outcome=\"delivered\"}"),
            Some(0.0)
        );
        assert_eq!(
            metric(s, "scim_webhook_endpoints_failing{tenant=\"acme\"}"),
            Some(0.0)
        );
        // Healthy again: delivered, backlog empty.
        rx.status.store(200, Ordering::SeqCst);
        wait_metric(s, "scim_webhook_pending{tenant=\"acme\"}", |v| v == 0.0);
        assert_eq!(
            metric(s, "scim_webhook_attempts_total{outcome=\"delivered\"}"),
            Some(1.0)
        );
        assert_eq!(
            metric(
                s,
                "scim_webhook_oldest_pending_age_seconds{tenant=\"acme\"}"
            ),
            Some(0.0)
        );
        assert_eq!(rx.received().len(), 1);
    });
}

/// A name that resolves to loopback is refused at registration unless the
/// development flag is on (`localhost`; the resolver-level check at connect
/// time is a unit test of `scim_http::webhooks`).
#[test]
fn endpoint_hosts_are_checked_by_their_addresses() {
    let strict = Server::start(TestDb::sqlite(), &["--admin-token", ADMIN]);
    strict.tenant("acme");
    for url in [
        "https://localhost:8443/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:7f00:1]/hook",
        "https://no-such-host.invalid/hook",
    ] {
        let r = admin(
            &strict,
            "POST",
            &format!("{A}/acme/webhooks"),
            Some(&json!({"url": url})),
        );
        assert_eq!(r.status, 400, "{url}: {}", String::from_utf8_lossy(&r.body));
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("non-public") || error.contains("does not resolve"),
            "{url}: {error}"
        );
    }
    assert_eq!(
        ok(
            &admin(&strict, "GET", &format!("{A}/acme/webhooks"), None),
            200
        )["items"],
        json!([])
    );
    drop(strict);

    let dev = Server::start(TestDb::sqlite(), FAST);
    dev.tenant("acme");
    let rx = Receiver::start();
    let url = rx.url.replace("127.0.0.1", "localhost");
    let r = admin(
        &dev,
        "POST",
        &format!("{A}/acme/webhooks"),
        Some(&json!({"url": url})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

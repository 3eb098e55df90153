//! What keeps one client from tying the server up: the body deadline, the
//! connection caps and the rate limits, each against the real server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Server, admin, parse_response};

const T: &str = "/scim/v2/acme";

fn on_both_with(extra: &[&str], body: impl Fn(&Server)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let mut args = vec!["--admin-token", ADMIN];
        args.extend_from_slice(extra);
        let server = Server::start(db, &args);
        body(&server);
    }
}

/// Sends the head of a request promising a 100-byte body and one byte of it.
fn slow_request(s: &Server, method: &str, path: &str, token: Option<&str>) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/scim+json\r\n{auth}Content-Length: 100\r\n\r\n{{",
        s.addr
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Everything the server sends until it closes the connection.
fn read_until_closed(mut stream: TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

#[test]
fn a_slow_body_is_answered_408_the_connection_closed_and_nothing_stored() {
    on_both_with(&["--body-timeout-secs", "1"], |s| {
        let token = s.tenant("acme");
        let started = Instant::now();
        let scim = slow_request(s, "POST", &format!("{T}/Users"), Some(&token));
        let public = slow_request(s, "POST", "/activate", None);
        let scim = parse_response(&read_until_closed(scim));
        let waited = started.elapsed();
        scim.assert_error(408, None);
        assert_eq!(scim.header("connection"), Some("close"));
        assert!(
            waited < Duration::from_secs(10),
            "answered after {waited:?}, not at the 1 s deadline"
        );
        let public = parse_response(&read_until_closed(public));
        assert_eq!(public.status, 408);
        assert!(public.json()["error"].as_str().unwrap().contains("1 s"));

        // Nothing was stored, and the server still serves.
        let list = s.request().bearer(&token).get(&format!("{T}/Users"));
        assert_eq!(list.status, 200);
        assert_eq!(list.json()["totalResults"], 0);
    });
}

#[test]
fn connections_over_the_per_address_cap_get_503_and_the_cap_frees_up() {
    on_both_with(
        &[
            "--max-connections-per-address",
            "4",
            "--body-timeout-secs",
            "2",
        ],
        |s| {
            let held: Vec<_> = (0..4)
                .map(|_| slow_request(s, "POST", "/activate", None))
                .collect();
            std::thread::sleep(Duration::from_millis(300));
            let over = s.request().get("/scim/v2/acme/ServiceProviderConfig");
            over.assert_error(503, None);
            assert_eq!(over.header("retry-after"), Some("1"));
            // The held connections time out (408) and free their places.
            for stream in held {
                assert_eq!(parse_response(&read_until_closed(stream)).status, 408);
            }
            let after = s.request().get("/healthz");
            assert_eq!(after.status, 200);
            let metrics = String::from_utf8(s.request().get("/metrics").body).unwrap();
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with("scim_connections_refused_total ") && !l.ends_with(" 0")),
                "{metrics}"
            );
        },
    );
}

#[test]
fn a_tenant_over_its_rate_gets_429_with_retry_after_and_its_own_limit_applies() {
    on_both_with(&["--tenant-rate-limit", "2"], |s| {
        let token = s.tenant("acme");
        let other = s.tenant("other");
        let statuses: Vec<u16> = (0..12)
            .map(|_| s.request().bearer(&token).get(&format!("{T}/Users")).status)
            .collect();
        // Burst: twice the rate.
        assert_eq!(&statuses[..4], &[200; 4], "{statuses:?}");
        assert!(statuses.contains(&429), "{statuses:?}");
        let limited = s.request().bearer(&token).get(&format!("{T}/Users"));
        let body = limited.assert_error(429, None);
        assert!(body["detail"].as_str().unwrap().contains("retry after"));
        let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "Retry-After: {wait}");
        // Another tenant has its own budget.
        assert_eq!(
            s.request()
                .bearer(&other)
                .get("/scim/v2/other/Users")
                .status,
            200
        );

        // The tenant's own limit: 0 = unlimited, applied at once.
        let path = "/admin/v1/tenants/acme/rate-limit";
        let got = admin(s, "GET", path, None).json();
        assert_eq!(got["requestsPerSecond"], serde_json::Value::Null);
        assert_eq!(got["effective"]["requestsPerSecond"], 2);
        assert_eq!(got["effective"]["source"], "serverDefault");
        for bad in [
            json!({"requestsPerSecond": -1}),
            json!({"requestsPerSecond": "x"}),
            json!({"rps": 1}),
        ] {
            let r = admin(s, "PUT", path, Some(&bad));
            assert_eq!(r.status, 400, "{bad}");
        }
        let set = admin(s, "PUT", path, Some(&json!({"requestsPerSecond": 0})));
        assert_eq!(set.status, 200);
        assert_eq!(set.json()["effective"]["source"], "tenant");
        for _ in 0..20 {
            assert_eq!(
                s.request().bearer(&token).get(&format!("{T}/Users")).status,
                200
            );
        }
        let audit = admin(s, "GET", "/admin/v1/tenants/acme/audit?limit=100", None).json();
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "tenant.rate_limit.update"),
            "{audit}"
        );
        let metrics = String::from_utf8(s.request().get("/metrics").body).unwrap();
        assert!(
            metrics.lines().any(
                |l| l.starts_with("scim_rate_limited_total{limit=\"tenant\"}")
                    && !l.ends_with(" 0")
            ),
            "{metrics}"
        );
    });
}

#[test]
fn unauthenticated_requests_are_limited_per_client_address() {
    on_both_with(
        &[
            "--unauthenticated-rate-limit",
            "3",
            "--trusted-proxy",
            "127.0.0.1",
        ],
        |s| {
            let token = s.tenant("acme");
            let bad = || s.request().bearer("not-a-token").get(&format!("{T}/Users"));
            for _ in 0..3 {
                assert_eq!(bad().status, 401);
            }
            let limited = bad();
            limited.assert_error(429, None);
            assert!(limited.header("retry-after").is_some());
            // Credentials the server can check without the database are not
            // counted: the tenant's token and the admin token still work.
            for _ in 0..5 {
                assert_eq!(
                    s.request().bearer(&token).get(&format!("{T}/Users")).status,
                    200
                );
                assert_eq!(admin(s, "GET", "/admin/v1/tenants", None).status, 200);
            }
            // Behind a trusted proxy, each forwarded client has its own budget.
            let via = |client: &str| {
                s.request().header("X-Forwarded-For", client).json(
                    "POST",
                    "/activate",
                    &json!({"token": "nope"}),
                )
            };
            for _ in 0..3 {
                assert_ne!(via("203.0.113.9").status, 429);
            }
            let public = via("203.0.113.9");
            assert_eq!(public.status, 429);
            assert!(
                public.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("retry after")
            );
            assert_ne!(via("203.0.113.10").status, 429);
        },
    );
}

#[test]
fn forwarded_for_is_ignored_without_a_trusted_proxy() {
    on_both_with(&["--unauthenticated-rate-limit", "1"], |s| {
        let r = s.request().get("/scim/v2/acme/Users");
        assert_eq!(r.status, 401);
        let spoofed = s
            .request()
            .header("X-Forwarded-For", "198.51.100.77")
            .get("/scim/v2/acme/Users");
        spoofed.assert_error(429, None);
    });
}

#[test]
fn a_list_stops_at_its_byte_budget_and_paging_still_reaches_every_resource() {
    on_both_with(&["--max-list-bytes", "65536"], |s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        // 30 users of about 8 KB each: about 240 KB, four times the budget.
        let filler = "x".repeat(8000);
        for i in 0..30 {
            let r = req.json(
                "POST",
                &format!("{T}/Users"),
                &json!({"userName": format!("big{i:02}@example.net"), "title": filler}),
            );
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        }
        let first = req.get(&format!("{T}/Users?count=30")).json();
        assert_eq!(first["totalResults"], 30);
        let per_page = first["itemsPerPage"].as_u64().unwrap();
        assert!(
            (1..30).contains(&per_page),
            "the budget did not shorten the page: {per_page}"
        );
        assert_eq!(
            first["Resources"].as_array().unwrap().len() as u64,
            per_page
        );

        // Paging from startIndex + itemsPerPage reaches every user once.
        let mut seen = std::collections::BTreeSet::new();
        let mut start = 1;
        while start <= 30 {
            let page = req
                .get(&format!(
                    "{T}/Users?count=30&startIndex={start}&sortBy=userName"
                ))
                .json();
            let items = page["Resources"].as_array().unwrap();
            assert!(!items.is_empty(), "an empty page at {start}: {page}");
            for u in items {
                assert!(seen.insert(u["userName"].as_str().unwrap().to_owned()));
            }
            start += items.len();
        }
        assert_eq!(seen.len(), 30);

        // The root .search is bounded the same way.
        let search = req
            .json(
                "POST",
                &format!("{T}/.search"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 30}),
            )
            .json();
        let n = search["Resources"].as_array().unwrap().len();
        assert!((1..30).contains(&n), "{n}");
    });
}

#[test]
fn metrics_show_provisioning_progress_per_tenant() {
    on_both_with(&[], |s| {
        let token = s.tenant("acme");
        let metric = |name: &str| -> Option<i64> {
            let text = String::from_utf8(s.request().get("/metrics").body).unwrap();
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        };
        assert_eq!(
            metric("scim_last_scim_write_timestamp_seconds{tenant=\"acme\"}"),
            Some(0)
        );
        assert_eq!(
            metric("scim_invitations{tenant=\"acme\",state=\"queued\"}"),
            Some(0)
        );
        let r = s.request().bearer(&token).json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "m@example.net", "emails": [{"value": "m@example.net", "primary": true}]}),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let invited = admin(
            s,
            "POST",
            &format!("/admin/v1/tenants/acme/users/{id}/invite"),
            None,
        );
        assert!(
            invited.status < 300,
            "{}",
            String::from_utf8_lossy(&invited.body)
        );
        assert_eq!(
            metric("scim_invitations{tenant=\"acme\",state=\"queued\"}"),
            Some(1)
        );
        assert!(metric("scim_last_scim_write_timestamp_seconds{tenant=\"acme\"}").unwrap() > 0);
        assert_eq!(metric("scim_outbox_pending{tenant=\"acme\"}"), Some(0));
        assert_eq!(
            metric("scim_outbox_oldest_pending_age_seconds{tenant=\"acme\"}"),
            Some(0)
        );
    });
}

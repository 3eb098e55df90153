//! The console's Provisioning activity page, on both backends: SCIM requests
//! and errors counted in memory by each replica, written to the database by
//! its flush (not per request), summed over two replicas, split into cycles
//! at a silence (shortened to 3 s here), and the last errors with their SCIM
//! detail.

use std::time::{Duration, Instant};

use serde_json::json;
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::admin::Replica;
use crate::console::{Console, OPERATOR_TOKEN, element_text, sign_in, text};
use crate::harness::{Server, raw_request};

const SILENCE: &str = "3";

/// The activity page's HTML.
fn page(c: &Console<'_>) -> String {
    let r = c.get("/console/tenants/acme/activity");
    assert_eq!(r.status, 200, "{}", text(&r));
    text(&r)
}

fn figure(html: &str, id: &str) -> i64 {
    element_text(html, id)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no figure {id} in {html}"))
}

/// The page once its hour figures are `requests` and `errors` (the flush
/// runs every 100 ms); panics after 20 s.
fn page_when(c: &Console<'_>, requests: i64, errors: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let html = page(c);
        let now = (figure(&html, "hour-requests"), figure(&html, "hour-errors"));
        if now == (requests, errors) {
            return html;
        }
        assert!(
            Instant::now() < deadline,
            "expected {requests} requests / {errors} errors, the page says {now:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The texts of every `<td class="{class}">` in order.
fn cells(html: &str, class: &str) -> Vec<String> {
    let marker = format!("<td class=\"{class}\">");
    html.match_indices(&marker)
        .map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find("</td>").unwrap()].to_owned()
        })
        .collect()
}

fn user(name: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": true,
    })
}

#[test]
fn provisioning_activity_counts_requests_errors_and_cycles_over_replicas() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let url = db.url().to_owned();
        let s = Server::start(
            db,
            &[
                "--admin-token",
                OPERATOR_TOKEN,
                "--unauthenticated-rate-limit",
                "0",
                "--activity-silence-secs",
                SILENCE,
                "--activity-flush-ms",
                "100",
            ],
        );
        let token = s.tenant("acme");
        let other = s.tenant("other");
        // The second replica never flushes while it runs: its counts reach
        // the database only when it stops.
        let replica = Replica::start(
            &url,
            &[
                "--activity-silence-secs",
                SILENCE,
                "--activity-flush-ms",
                "600000",
            ],
        );
        let c = sign_in(&s);
        let html = page(&c);
        assert_eq!(element_text(&html, "last-request").unwrap(), "never");
        assert_eq!(figure(&html, "hour-requests"), 0);
        assert!(html.contains("id=\"no-cycles\""), "{html}");
        assert!(html.contains("id=\"no-errors\""), "{html}");

        // Cycle 1: four requests to this replica (two fail), two to the other
        // (one fails); requests of another tenant and with a token this
        // server never signed count nowhere here.
        let a = s.addr;
        let users = "/scim/v2/acme/Users";
        assert_eq!(
            raw_request(a, "POST", users, &token, Some(&user("alice"))).status,
            201
        );
        let filter = format!("{users}?filter=userName%20eq%20%22alice%22");
        assert_eq!(raw_request(a, "GET", &filter, &token, None).status, 200);
        assert_eq!(
            raw_request(a, "GET", &format!("{users}/missing"), &token, None).status,
            404
        );
        assert_eq!(
            raw_request(a, "POST", users, &token, Some(&user("alice"))).status,
            409
        );
        assert_eq!(
            raw_request(a, "GET", users, "not-a-token", None).status,
            401
        );
        assert_eq!(
            raw_request(a, "GET", "/scim/v2/other/Users", &other, None).status,
            200
        );
        let b = replica.addr;
        assert_eq!(raw_request(b, "GET", users, &token, None).status, 200);
        let no_name = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]});
        assert_eq!(
            raw_request(b, "POST", users, &token, Some(&no_name)).status,
            400
        );

        let html = page_when(&c, 4, 2);
        assert_ne!(element_text(&html, "last-request").unwrap(), "never");
        assert_eq!(cells(&html, "status"), ["409", "404"], "newest first");
        let details = cells(&html, "detail");
        assert!(details[0].contains("uniqueness"), "{details:?}");
        assert!(details[1].contains("missing"), "{details:?}");
        assert!(html.contains("POST /scim/v2/acme/Users"), "{html}");
        // Still nothing from the replica, however long we wait for its flush.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(figure(&page(&c), "hour-requests"), 4);

        drop(replica);
        let html = page_when(&c, 6, 3);
        assert_eq!(cells(&html, "status").len(), 3, "{html}");
        assert_eq!(cells(&html, "requests"), ["6"], "one cycle so far");

        // Silence, then cycle 2 after a regeneration: the directory's old
        // token is refused, and the page says why.
        std::thread::sleep(Duration::from_millis(4500));
        let new = s.regenerate("acme");
        assert_eq!(raw_request(a, "GET", users, &token, None).status, 401);
        assert_eq!(raw_request(a, "GET", users, &new, None).status, 200);
        let html = page_when(&c, 8, 4);
        assert_eq!(cells(&html, "requests"), ["2", "6"], "{html}");
        assert_eq!(cells(&html, "errors"), ["1", "3"], "{html}");
        assert!(html.contains("(in progress)"), "{html}");
        assert_eq!(cells(&html, "status")[0], "401");
        assert!(
            cells(&html, "detail")[0].contains("refused: not the tenant"),
            "{html}"
        );

        // The other tenant's page has its own figures only.
        let r = c.get("/console/tenants/other/activity");
        assert_eq!(figure(&text(&r), "hour-requests"), 1);
    }
}

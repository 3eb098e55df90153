//! Personal-data retention run by the server itself, with short periods, on
//! both backends: a deleted user's personal data is erased from the audit
//! log and the events feed (the records stay), and old audit records and
//! finished invitations are pruned.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Server, admin};

const A: &str = "/admin/v1/tenants/acme";

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

fn items(s: &Server, path: &str) -> Vec<Value> {
    let r = admin(s, "GET", path, None);
    assert_eq!(r.status, 200);
    r.json()["items"].as_array().unwrap().clone()
}

fn create(s: &Server, token: &str, name: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        "/scim/v2/acme/Users",
        &json!({"userName": name, "externalId": format!("ext-{name}"),
                "name": {"givenName": "Bo", "familyName": "Ng"},
                "emails": [{"value": name, "primary": true}]}),
    );
    assert_eq!(r.status, 201);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: timed out");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_deleted_users_personal_data_is_erased_after_the_period() {
    on_both_with(&["--erase-deleted-users-after", "2s"], |s| {
        let token = s.tenant("acme");
        let gone = create(s, &token, "gone@acme.example");
        let kept = create(s, &token, "kept@acme.example");
        let r = s
            .request()
            .bearer(&token)
            .delete(&format!("/scim/v2/acme/Users/{gone}"));
        assert_eq!(r.status, 204);
        wait_until("erasure", || {
            items(s, &format!("{A}/audit?limit=200"))
                .iter()
                .any(|r| r["action"] == "user.delete" && r["details"]["personalDataErased"] == true)
        });
        let audit = items(s, &format!("{A}/audit?limit=200"));
        let about = |id: &str| -> Vec<Value> {
            audit
                .iter()
                .filter(|r| r["targetId"] == id)
                .cloned()
                .collect()
        };
        let text = serde_json::to_string(&about(&gone)).unwrap();
        assert!(!text.contains("gone@acme.example"), "{text}");
        let create_record = about(&gone)
            .into_iter()
            .find(|r| r["action"] == "user.create")
            .unwrap();
        assert_eq!(create_record["details"]["userName"], "[erased]");
        assert!(
            serde_json::to_string(&about(&kept))
                .unwrap()
                .contains("kept@acme.example")
        );
        let feed = items(s, &format!("{A}/events?limit=200"));
        let of = |id: &str| -> String {
            serde_json::to_string(
                &feed
                    .iter()
                    .filter(|e| e["resourceId"] == id || e["data"]["id"] == id)
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        assert!(of(&gone).contains("[erased]"), "{}", of(&gone));
        for personal in ["gone@acme.example", "ext-gone@acme.example", "\"Bo\""] {
            assert!(!of(&gone).contains(personal), "{}", of(&gone));
        }
        assert!(of(&kept).contains("kept@acme.example"));
    });
}

#[test]
fn old_audit_records_and_finished_invitations_are_pruned() {
    on_both_with(
        &["--audit-retention", "3s", "--invitation-retention", "3s"],
        |s| {
            let token = s.tenant("acme");
            let r = admin(
                s,
                "PUT",
                &format!("{A}/scim-settings"),
                Some(&json!({"automaticInvitation": true})),
            );
            assert_eq!(r.status, 200);
            let a = create(s, &token, "a@acme.example");
            let b = create(s, &token, "b@acme.example");
            // a's automatic invitation is cancelled (finished); b's stays queued.
            let r = admin(
                s,
                "PUT",
                &format!("{A}/users/{a}/settings"),
                Some(&json!({"automaticInvitation": false})),
            );
            assert_eq!(r.status, 200);
            assert_eq!(items(s, &format!("{A}/invitations")).len(), 2);
            assert!(!items(s, &format!("{A}/audit")).is_empty());
            wait_until("pruning", || {
                items(s, &format!("{A}/audit")).is_empty()
                    && items(s, &format!("{A}/invitations")).len() == 1
            });
            let left = items(s, &format!("{A}/invitations"));
            assert_eq!(left[0]["userId"], b);
            assert_eq!(left[0]["state"], "queued");
        },
    );
}

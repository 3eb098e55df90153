//! Invitations that cannot be delivered, and automatic invitations that an
//! override withdraws, on both backends with a real SMTP server on loopback:
//!
//! * a user with no email address, once released by a check-in, gets a
//!   `failed` invitation with its reason (admin API user view and
//!   `/invitations` agree: no `sentAt`), counted in the metrics, audited, in
//!   the events feed and on the console's pages; inviting them again works;
//! * a permanent SMTP refusal (550) fails the invitation at once, without
//!   retries;
//! * turning automatic invitation off for a user (admin API or SCIM) cancels
//!   the automatically queued invitation: nothing is sent at the next
//!   check-in; an administrator's explicit invitation stays.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::console::{Console, OPERATOR_TOKEN, element_text, sign_in, text};
use crate::harness::{Response, Server};
use crate::smtp::SmtpServer;

const A: &str = "/admin/v1/tenants/acme";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";

fn on_both_with_mail(body: impl Fn(&Server, &SmtpServer)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let smtp = SmtpServer::start();
        let url = smtp.url();
        let server = Server::start(
            db,
            &[
                "--admin-token",
                OPERATOR_TOKEN,
                "--smtp-url",
                &url,
                "--outbox-poll-ms",
                "100",
                "--unauthenticated-rate-limit",
                "0",
            ],
        );
        body(&server, &smtp);
    }
}

fn admin(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Response {
    let r = s.request().bearer(OPERATOR_TOKEN);
    match body {
        Some(b) => r.json(method, path, b),
        None => r.send(method, path, None),
    }
}

fn ok(r: Response, status: u16) -> Value {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    body
}

/// A tenant `acme` with automatic invitation on; returns its SCIM token.
fn tenant_with_automatic_invitation(s: &Server) -> String {
    let token = s.tenant("acme");
    ok(
        admin(
            s,
            "PUT",
            &format!("{A}/scim-settings"),
            Some(&json!({"automaticInvitation": true})),
        ),
        200,
    );
    token
}

fn scim_user(s: &Server, token: &str, body: &Value) -> String {
    let r = s
        .request()
        .bearer(token)
        .json("POST", "/scim/v2/acme/Users", body);
    ok(r, 201)["id"].as_str().unwrap().to_owned()
}

fn check_in(s: &Server) -> Value {
    ok(admin(s, "POST", &format!("{A}/admin-checkins"), None), 200)
}

fn user(s: &Server, id: &str) -> Value {
    ok(admin(s, "GET", &format!("{A}/users/{id}"), None), 200)
}

/// The tenant's invitation rows (admin API), optionally in one state.
fn invitations(s: &Server, state: &str) -> Vec<Value> {
    let page = ok(
        admin(s, "GET", &format!("{A}/invitations?state={state}"), None),
        200,
    );
    page["items"].as_array().unwrap().clone()
}

/// Waits until the user's current invitation is in `state` (the mail worker
/// polls every 100 ms); returns the user.
fn wait_for_state(s: &Server, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let u = user(s, id);
        if u["invitation"]["state"] == state {
            return u;
        }
        assert!(Instant::now() < deadline, "never {state}: {u}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metric(s: &Server, name: &str) -> Option<i64> {
    let text = String::from_utf8(s.request().get("/metrics").body).unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn audit_actions(s: &Server) -> Vec<Value> {
    ok(admin(s, "GET", &format!("{A}/audit?limit=200"), None), 200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn feed(s: &Server) -> Vec<Value> {
    ok(admin(s, "GET", &format!("{A}/events?limit=200"), None), 200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn ok_page(c: &Console<'_>, path: &str) -> String {
    let r = c.get(path);
    assert_eq!(r.status, 200, "{path}: {}", text(&r));
    text(&r)
}

#[test]
fn an_invitation_to_a_user_without_an_address_fails_and_the_user_can_be_invited_again() {
    on_both_with_mail(|s, smtp| {
        let token = tenant_with_automatic_invitation(s);
        // Entra may send users without any email and a userName that is no address.
        let bob = scim_user(s, &token, &json!({"userName": "bob", "active": true}));
        assert_eq!(check_in(s), json!({"released": 1}));
        let u = wait_for_state(s, &bob, "failed");
        let inv = &u["invitation"];
        assert_eq!(inv["sentAt"], Value::Null, "nothing was sent: {u}");
        assert!(
            inv["failure"]
                .as_str()
                .is_some_and(|f| f.contains("no email address")),
            "{u}"
        );
        assert!(inv["failedAt"].is_string(), "{u}");
        // /invitations agrees with the user view.
        let failed = invitations(s, "failed");
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["userId"], bob);
        assert_eq!(failed[0]["state"], "failed");
        assert_eq!(failed[0]["sentAt"], Value::Null);
        assert!(
            failed[0]["lastDeliveryError"]
                .as_str()
                .is_some_and(|e| e.contains("no email address"))
        );
        assert!(invitations(s, "sent").is_empty());
        // Metrics, audit log, events feed.
        assert_eq!(
            metric(s, "scim_invitations{tenant=\"acme\",state=\"failed\"}"),
            Some(1)
        );
        assert_eq!(
            metric(s, "scim_invitations{tenant=\"acme\",state=\"undelivered\"}"),
            Some(0)
        );
        let audit = audit_actions(s);
        let record = audit
            .iter()
            .find(|r| r["action"] == "invitation.failed")
            .unwrap_or_else(|| panic!("{audit:?}"));
        assert_eq!(record["actor"], "system:mailer");
        assert_eq!(record["targetId"], bob);
        assert!(
            audit
                .iter()
                .any(|r| r["action"] == "lifecycle.invitationFailed")
        );
        let events = feed(s);
        let event = events
            .iter()
            .find(|e| e["type"] == "user.invitation_failed")
            .unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(event["actor"], "system");
        assert_eq!(event["data"]["invitation"], 1, "{event}");

        // The console's user page and Invitations page show it.
        let op = sign_in(s);
        let page = ok_page(&op, &format!("/console/tenants/acme/users/{bob}"));
        assert_eq!(
            element_text(&page, "invitation-state").as_deref(),
            Some("failed")
        );
        assert!(
            element_text(&page, "invitation-failure")
                .is_some_and(|f| f.contains("no email address")),
            "{page}"
        );
        assert!(page.contains("id=\"invite\""), "Invite is offered again");
        let page = ok_page(&op, "/console/tenants/acme/invitations?state=failed");
        assert!(page.contains("failed for good: "), "{page}");

        // Invite again: no 409; the directory adds an address; it goes out.
        let again = ok(
            admin(s, "POST", &format!("{A}/users/{bob}/invite"), None),
            200,
        );
        assert_eq!(again["invitation"]["number"], 2, "{again}");
        assert_eq!(again["invitation"]["state"], "queued");
        let r = s.request().bearer(&token).json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{bob}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "emails",
                                "value": [{"value": "bob@acme.example", "primary": true}]}],
            }),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(check_in(s), json!({"released": 1}));
        let mails = smtp.wait_for(1, Duration::from_secs(30));
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, ["bob@acme.example"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let u = loop {
            let u = wait_for_state(s, &bob, "sent");
            if u["invitation"]["sentAt"].is_string() {
                break u;
            }
            assert!(Instant::now() < deadline, "never marked sent: {u}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let sent = invitations(s, "sent");
        assert_eq!(sent.len(), 1);
        // Both views say when it was handed to the relay, the same instant.
        assert!(u["invitation"]["sentAt"].is_string(), "{u}");
        let a = chrono::DateTime::parse_from_rfc3339(u["invitation"]["sentAt"].as_str().unwrap())
            .unwrap();
        let b = chrono::DateTime::parse_from_rfc3339(sent[0]["sentAt"].as_str().unwrap()).unwrap();
        assert!((a - b).num_milliseconds().abs() < 1000, "{a} vs {b}");
        assert_eq!(
            metric(s, "scim_invitations{tenant=\"acme\",state=\"failed\"}"),
            Some(1),
            "the first invitation stays failed"
        );
    });
}

#[test]
fn a_permanent_smtp_refusal_fails_the_invitation_without_retries() {
    on_both_with_mail(|s, smtp| {
        let token = tenant_with_automatic_invitation(s);
        let id = scim_user(
            s,
            &token,
            &json!({"userName": "bounce@acme.example",
                    "emails": [{"value": "bounce@acme.example", "primary": true}]}),
        );
        assert_eq!(check_in(s), json!({"released": 1}));
        let u = wait_for_state(s, &id, "failed");
        assert!(
            u["invitation"]["failure"]
                .as_str()
                .is_some_and(|f| f.contains("550")),
            "{u}"
        );
        let failed = invitations(s, "failed");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["deliveryAttempts"], 1, "not retried");
        assert!(smtp.mails().is_empty());
        let again = admin(s, "POST", &format!("{A}/users/{id}/invite"), None);
        assert_eq!(again.status, 200, "{}", text(&again));
    });
}

#[test]
fn turning_automatic_invitation_off_cancels_the_queued_automatic_invitation() {
    on_both_with_mail(|s, smtp| {
        let token = tenant_with_automatic_invitation(s);
        let mail = |name: &str| {
            json!({"userName": format!("{name}@acme.example"),
                   "emails": [{"value": format!("{name}@acme.example"), "primary": true}]})
        };
        // Ann: automatic invitation queued, then an override turns it off.
        let ann = scim_user(s, &token, &mail("ann"));
        assert_eq!(user(s, &ann)["invitation"]["state"], "queued");
        let u = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/users/{ann}/settings"),
                Some(&json!({"automaticInvitation": false})),
            ),
            200,
        );
        assert_eq!(u["invitation"]["state"], "cancelled", "{u}");
        assert_eq!(u["status"], "Staged");
        // Cy: the directory turns it off through the SCIM extension.
        let cy = scim_user(s, &token, &mail("cy"));
        let r = s.request().bearer(&token).json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{cy}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": format!("{EXT}:automaticInvitation"),
                                "value": false}],
            }),
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(user(s, &cy)["invitation"]["state"], "cancelled");
        // Dee: automatic off from the start, invited explicitly: stays queued
        // when the override is set again.
        let dee = scim_user(
            s,
            &token,
            &json!({"userName": "dee@acme.example",
                    "emails": [{"value": "dee@acme.example", "primary": true}],
                    EXT: {"automaticInvitation": false}}),
        );
        assert_eq!(user(s, &dee)["invitation"], Value::Null);
        ok(
            admin(s, "POST", &format!("{A}/users/{dee}/invite"), None),
            200,
        );
        let u = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/users/{dee}/settings"),
                Some(&json!({"automaticInvitation": false})),
            ),
            200,
        );
        assert_eq!(u["invitation"]["state"], "queued", "{u}");
        // The check-in sends Dee's invitation only.
        assert_eq!(check_in(s), json!({"released": 1}));
        let mails = smtp.wait_for(1, Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(800));
        let mails = if mails.len() == 1 {
            smtp.mails()
        } else {
            mails
        };
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].to, ["dee@acme.example"]);
        let cancelled = invitations(s, "cancelled");
        assert_eq!(cancelled.len(), 2, "{cancelled:?}");
        // Audited and in the feed with its reason; Ann can still be invited.
        assert!(
            audit_actions(s)
                .iter()
                .any(|r| r["action"] == "lifecycle.invitationCancelled"
                    && r["targetId"] == ann
                    && r["details"]["reason"] == "automaticInvitationOff")
        );
        assert!(
            feed(s)
                .iter()
                .any(|e| e["type"] == "user.invitation_cancelled"
                    && e["data"]["reason"] == "automaticInvitationOff")
        );
        let again = ok(
            admin(s, "POST", &format!("{A}/users/{ann}/invite"), None),
            200,
        );
        assert_eq!(again["invitation"]["state"], "queued");
    });
}

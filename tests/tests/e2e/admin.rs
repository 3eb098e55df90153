//! The setup guide through the admin API, on both backends: Generate a token,
//! SCIM settings, provisioning via SCIM with automatic invitation, nothing sent
//! before an admin check-in, exactly one email per user at a real SMTP server
//! on loopback, activation links that work once (with and without the mobile
//! requirement), overrides and the group access check, explicit invitations,
//! cancellation on suspension, and the audit log.

use std::time::Duration;

use serde_json::{Value, json};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Response, Server, admin};
use crate::smtp::SmtpServer;

const A: &str = "/admin/v1/tenants";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";

/// Runs `body` on SQLite and PostgreSQL with a fresh SMTP server each.
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
                ADMIN,
                "--smtp-url",
                &url,
                "--mail-from",
                "Acme Vault <no-reply@vault.example>",
                "--outbox-poll-ms",
                "100",
            ],
        );
        body(&server, &smtp);
    }
}

fn ok(r: Response, status: u16) -> Value {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    body
}

/// An admin API error: the status, JSON content type, and an `error` message
/// containing `mentions`.
fn admin_error(r: &Response, status: u16, mentions: &str) {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let msg = body["error"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(
        msg.contains(mentions),
        "{msg:?} should mention {mentions:?}"
    );
}

fn scim_user(s: &Server, token: &str, user_name: &str, display: &str) -> String {
    let r = s.request().bearer(token).json(
        "POST",
        "/scim/v2/acme/Users",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "displayName": display,
            "active": true,
            "emails": [{"value": user_name, "type": "work", "primary": true}],
        }),
    );
    let body = ok(r, 201);
    assert_eq!(body[EXT]["status"], "Staged", "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn activate(s: &Server, body: &Value) -> Response {
    s.request().json("POST", "/activate", body)
}

fn to_of(mails: &[crate::smtp::Mail], address: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .count()
}

/// Every audit record of the tenant, paging with `limit` (checks paging).
fn audit_all(s: &Server, limit: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let page = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/audit?limit={limit}&after={after}"),
                None,
            ),
            200,
        );
        let items = page["items"].as_array().unwrap().clone();
        assert!(items.len() <= limit as usize);
        all.extend(items);
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    all
}

#[test]
fn setup_guide_from_generate_to_active_users() {
    on_both_with_mail(|s, smtp| {
        // Tenants and the Integrations view.
        let t = ok(
            admin(
                s,
                "POST",
                A,
                Some(&json!({"slug": "acme", "name": "Acme Corp"})),
            ),
            201,
        );
        assert_eq!(t["tenantUrl"], "https://scim.example.net/scim/v2/acme");
        admin_error(
            &admin(
                s,
                "POST",
                A,
                Some(&json!({"slug": "acme", "name": "Again"})),
            ),
            409,
            "slug",
        );
        admin_error(
            &admin(s, "POST", A, Some(&json!({"slug": "Not OK"}))),
            400,
            "slug",
        );
        let list = ok(admin(s, "GET", A, None), 200);
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["slug"] == "acme")
        );
        let view = ok(admin(s, "GET", &format!("{A}/acme/integration"), None), 200);
        assert_eq!(view["tenantUrl"], "https://scim.example.net/scim/v2/acme");
        assert_eq!(view["tokenCreatedAt"], Value::Null);
        admin_error(
            &admin(s, "GET", &format!("{A}/nope/integration"), None),
            404,
            "nope",
        );

        // Generate, twice: the first token dies at once.
        let first = ok(
            admin(s, "POST", &format!("{A}/acme/integration/token"), None),
            201,
        );
        let first = first["secretToken"].as_str().unwrap().to_owned();
        let generated = ok(
            admin(s, "POST", &format!("{A}/acme/integration/token"), None),
            201,
        );
        assert!(
            generated["message"].as_str().unwrap().contains("Entra ID"),
            "{generated}"
        );
        let token = generated["secretToken"].as_str().unwrap().to_owned();
        let view = ok(admin(s, "GET", &format!("{A}/acme/integration"), None), 200);
        assert_eq!(view["tokenCreatedAt"], generated["createdAt"]);
        assert!(
            !view.to_string().contains(&token),
            "the view never shows the secret"
        );
        let users = "/scim/v2/acme/Users?filter=userName%20eq%20%22x%22";
        assert_eq!(s.request().bearer(&first).get(users).status, 401);
        assert_eq!(s.request().bearer(&token).get(users).status, 200);
        // Tokens do not cross over: SCIM token on admin routes, admin token on SCIM.
        admin_error(&s.request().bearer(&token).get(A), 401, "admin token");
        admin_error(&s.request().get(A), 401, "admin token");
        assert_eq!(s.request().bearer(ADMIN).get(users).status, 401);

        // SCIM settings: automatic invitation on; absent keys stay.
        let settings = ok(
            admin(s, "GET", &format!("{A}/acme/scim-settings"), None),
            200,
        );
        assert_eq!(
            settings,
            json!({"automaticInvitation": false, "requireMobileAuthForUsers": true, "requireMobileAuthForGroups": true})
        );
        let settings = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"automaticInvitation": true})),
            ),
            200,
        );
        assert_eq!(settings["automaticInvitation"], true);
        assert_eq!(settings["requireMobileAuthForUsers"], true);
        admin_error(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"automaticInvitation": "yes"})),
            ),
            400,
            "automaticInvitation",
        );
        admin_error(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"colour": true})),
            ),
            400,
            "colour",
        );

        // Entra provisions two users: Staged, invitations queued, nothing sent.
        let alice = scim_user(s, &token, "alice@acme.example", "Alice");
        let bob = scim_user(s, &token, "bob@acme.example", "Bob");
        let staged = ok(
            admin(s, "GET", &format!("{A}/acme/users?status=Staged"), None),
            200,
        );
        assert_eq!(staged["items"].as_array().unwrap().len(), 2, "{staged}");
        let queued = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/invitations?state=queued"),
                None,
            ),
            200,
        );
        assert_eq!(queued["items"].as_array().unwrap().len(), 2, "{queued}");
        assert_eq!(queued["items"][0]["trigger"], "automatic");
        admin_error(
            &admin(s, "GET", &format!("{A}/acme/users?status=Nope"), None),
            400,
            "status",
        );
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            smtp.mails().is_empty(),
            "nothing is sent before an admin check-in"
        );

        // Bob does not need the mobile app: a per-user override.
        let b = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/users/{bob}/settings"),
                Some(&json!({"requireMobileAuth": false})),
            ),
            200,
        );
        assert_eq!(
            b["overrides"],
            json!({"automaticInvitation": null, "requireMobileAuth": false})
        );
        assert_eq!(
            b["effective"]["requireMobileAuth"],
            json!({"value": false, "source": "override"})
        );
        assert_eq!(
            b["effective"]["automaticInvitation"],
            json!({"value": true, "source": "tenantDefault"})
        );
        let scim_bob = ok(
            s.request()
                .bearer(&token)
                .get(&format!("/scim/v2/acme/Users/{bob}")),
            200,
        );
        assert_eq!(scim_bob[EXT]["requireMobileAuth"], false, "{scim_bob}");
        admin_error(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/users/{bob}/settings"),
                Some(&json!({"requireMobileAuth": 1})),
            ),
            400,
            "requireMobileAuth",
        );
        admin_error(
            &admin(s, "GET", &format!("{A}/acme/users/nobody"), None),
            404,
            "nobody",
        );

        // The admin opens the mobile app: both invitations go out, once.
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r, json!({"released": 2}));
        let r = ok(
            admin(
                s,
                "POST",
                &format!("{A}/acme/admin-checkins"),
                Some(&json!({})),
            ),
            200,
        );
        assert_eq!(r, json!({"released": 0}));
        let mails = smtp.wait_for(2, Duration::from_secs(30));
        assert_eq!(mails.len(), 2, "{mails:?}");
        std::thread::sleep(Duration::from_millis(1500));
        let mails = smtp.mails();
        assert_eq!(
            mails.len(),
            2,
            "exactly one email per invitation: {mails:?}"
        );
        assert_eq!(to_of(&mails, "alice@acme.example"), 1);
        assert_eq!(to_of(&mails, "bob@acme.example"), 1);
        for m in &mails {
            assert_eq!(m.from, "no-reply@vault.example");
            let body = m.decoded();
            assert!(body.contains("Acme Corp"), "names the organisation: {body}");
            assert!(
                body.contains("text/plain") && body.contains("text/html"),
                "{body}"
            );
            assert!(
                body.contains("https://scim.example.net/activate?token="),
                "{body}"
            );
        }
        let mail_of = |who: &str| {
            mails
                .iter()
                .find(|m| m.to.iter().any(|t| t == who))
                .and_then(|m| m.activation_token())
                .unwrap()
        };
        let alice_link = mail_of("alice@acme.example");
        let bob_link = mail_of("bob@acme.example");
        let invited = ok(
            admin(s, "GET", &format!("{A}/acme/users?status=Invited"), None),
            200,
        );
        assert_eq!(invited["items"].as_array().unwrap().len(), 2);
        let sent = ok(
            admin(s, "GET", &format!("{A}/acme/invitations?state=sent"), None),
            200,
        );
        assert_eq!(sent["items"].as_array().unwrap().len(), 2, "{sent}");
        assert!(sent["items"][0]["sentAt"].is_string(), "{sent}");

        // Alice must enrol her phone (tenant default); a refusal changes nothing.
        let r = activate(s, &json!({"token": alice_link}));
        admin_error(&r, 400, "mobileDevice");
        let a = ok(
            admin(s, "GET", &format!("{A}/acme/users/{alice}"), None),
            200,
        );
        assert_eq!(a["status"], "Invited");
        admin_error(
            &activate(s, &json!({"token": alice_link, "mobileDevice": "phone"})),
            400,
            "mobileDevice",
        );
        let r = ok(
            activate(
                s,
                &json!({"token": alice_link, "mobileDevice": {"name": "Alice's phone"}}),
            ),
            200,
        );
        assert_eq!(r, json!({"status": "Active", "mobileDeviceEnrolled": true}));
        admin_error(
            &activate(
                s,
                &json!({"token": alice_link, "mobileDevice": {"name": "again"}}),
            ),
            410,
            "already been used",
        );
        let a = ok(
            admin(s, "GET", &format!("{A}/acme/users/{alice}"), None),
            200,
        );
        assert_eq!(a["status"], "Active");
        assert_eq!(a["mobileDevice"], json!({"name": "Alice's phone"}));
        assert_eq!(a["invitation"]["state"], "accepted");

        // Bob activates without a phone (his override).
        let r = ok(activate(s, &json!({"token": bob_link})), 200);
        assert_eq!(
            r,
            json!({"status": "Active", "mobileDeviceEnrolled": false})
        );
        admin_error(&activate(s, &json!({"token": bob_link})), 410, "token");
        admin_error(&activate(s, &json!({"token": "not-a-link"})), 400, "token");
        admin_error(&activate(s, &json!({})), 400, "token");
        // A SCIM token is not an activation link.
        admin_error(&activate(s, &json!({"token": token})), 400, "token");
        let active = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/users?status=Active&limit=1"),
                None,
            ),
            200,
        );
        assert_eq!(active["items"].as_array().unwrap().len(), 1);
        let next = active["next"].as_str().unwrap();
        let rest = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/users?status=Active&limit=1&after={next}"),
                None,
            ),
            200,
        );
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert_ne!(rest["items"][0]["id"], active["items"][0]["id"]);

        // Groups: the mobile requirement hides data from phoneless Bob until
        // the group overrides it; storing follows membersCanStoreData.
        let g = ok(
            s.request().bearer(&token).json(
                "POST",
                "/scim/v2/acme/Groups",
                &json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Finance vault",
                    "members": [{"value": alice}, {"value": bob}],
                }),
            ),
            201,
        );
        let gid = g["id"].as_str().unwrap().to_owned();
        let group = ok(
            admin(s, "GET", &format!("{A}/acme/groups/{gid}"), None),
            200,
        );
        assert_eq!(group["memberCount"], 2);
        assert_eq!(
            group["effective"]["requireMobileAuth"],
            json!({"value": true, "source": "tenantDefault"})
        );
        assert_eq!(
            group["settings"],
            json!({"requireMobileAuth": null, "membersCanStoreData": true})
        );
        let access = |user: &str| {
            ok(
                admin(
                    s,
                    "GET",
                    &format!("{A}/acme/groups/{gid}/access/{user}"),
                    None,
                ),
                200,
            )
        };
        let a = access(&alice);
        assert_eq!(
            (a["canView"].as_bool(), a["canStore"].as_bool()),
            (Some(true), Some(true)),
            "{a}"
        );
        let b = access(&bob);
        assert_eq!(
            (b["canView"].as_bool(), b["canStore"].as_bool()),
            (Some(false), Some(false)),
            "{b}"
        );
        assert!(
            b["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "mobileDeviceMissing"),
            "{b}"
        );
        let group = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/groups/{gid}/settings"),
                Some(&json!({"requireMobileAuth": false})),
            ),
            200,
        );
        assert_eq!(
            group["effective"]["requireMobileAuth"],
            json!({"value": false, "source": "override"})
        );
        assert_eq!(
            group["settings"]["membersCanStoreData"], true,
            "absent keys stay"
        );
        let b = access(&bob);
        assert_eq!(
            (b["canView"].as_bool(), b["canStore"].as_bool()),
            (Some(true), Some(true)),
            "{b}"
        );
        ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/groups/{gid}/settings"),
                Some(&json!({"membersCanStoreData": false})),
            ),
            200,
        );
        let b = access(&bob);
        assert_eq!(
            (b["canView"].as_bool(), b["canStore"].as_bool()),
            (Some(true), Some(false)),
            "{b}"
        );
        assert!(
            b["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "storingDisabled"),
            "{b}"
        );
        let group = ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/groups/{gid}/settings"),
                Some(&json!({"requireMobileAuth": null})),
            ),
            200,
        );
        assert_eq!(
            group["effective"]["requireMobileAuth"]["source"],
            "tenantDefault"
        );
        assert_eq!(access(&bob)["canView"], false);
        admin_error(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/groups/{gid}/settings"),
                Some(&json!({"membersCanStoreData": null})),
            ),
            400,
            "membersCanStoreData",
        );
        admin_error(
            &admin(
                s,
                "GET",
                &format!("{A}/acme/groups/nope/access/{bob}"),
                None,
            ),
            404,
            "nope",
        );

        // The audit log: oldest first, paged, SCIM and admin actors, no secrets.
        let log = audit_all(s, 7);
        let seqs: Vec<i64> = log.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let actions: Vec<&str> = log.iter().map(|r| r["action"].as_str().unwrap()).collect();
        for wanted in [
            "tenant.create",
            "token.generate",
            "tenant.settings.update",
            "user.create",
            "lifecycle.invitationQueued",
            "user.settings.update",
            "admin.checkin",
            "lifecycle.invitationReleased",
            "invitation.delivered",
            "lifecycle.userActivated",
            "group.settings.update",
        ] {
            assert!(
                actions.contains(&wanted),
                "{wanted} missing from {actions:?}"
            );
        }
        assert!(
            log.iter().any(|r| r["actor"] == "scim") && log.iter().any(|r| r["actor"] == "admin")
        );
        let text = serde_json::to_string(&log).unwrap();
        for secret in [&first, &token, &alice_link, &bob_link] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into the audit log"
            );
        }
        assert_eq!(smtp.mails().len(), 2, "still exactly two emails");
    });
}

#[test]
fn explicit_invitations_suspension_and_reactivation() {
    on_both_with_mail(|s, smtp| {
        ok(
            admin(
                s,
                "POST",
                A,
                Some(&json!({"slug": "acme", "name": "Acme Corp"})),
            ),
            201,
        );
        let token = ok(
            admin(s, "POST", &format!("{A}/acme/integration/token"), None),
            201,
        );
        let token = token["secretToken"].as_str().unwrap().to_owned();

        // Automatic invitation off (the default): Carol stays Staged.
        let carol = scim_user(s, &token, "carol@acme.example", "Carol");
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r["released"], 0);
        let c = ok(
            admin(s, "GET", &format!("{A}/acme/users/{carol}"), None),
            200,
        );
        assert_eq!(c["invitation"], Value::Null);

        // The admin invites her; twice is a conflict.
        let c = ok(
            admin(s, "POST", &format!("{A}/acme/users/{carol}/invite"), None),
            200,
        );
        assert_eq!(c["invitation"]["state"], "queued");
        assert_eq!(c["invitation"]["trigger"], "explicit");
        admin_error(
            &admin(s, "POST", &format!("{A}/acme/users/{carol}/invite"), None),
            409,
            "queued",
        );

        // Entra suspends her: the queued invitation is cancelled, nothing goes out.
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        });
        ok(
            s.request().bearer(&token).json(
                "PATCH",
                &format!("/scim/v2/acme/Users/{carol}"),
                &patch,
            ),
            200,
        );
        let cancelled = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/invitations?state=cancelled"),
                None,
            ),
            200,
        );
        assert_eq!(
            cancelled["items"].as_array().unwrap().len(),
            1,
            "{cancelled}"
        );
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r["released"], 0);
        admin_error(
            &admin(s, "POST", &format!("{A}/acme/users/{carol}/invite"), None),
            409,
            "suspended",
        );

        // Reactivation queues the held invitation again (never sent before).
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": true}],
        });
        ok(
            s.request().bearer(&token).json(
                "PATCH",
                &format!("/scim/v2/acme/Users/{carol}"),
                &patch,
            ),
            200,
        );
        let queued = ok(
            admin(
                s,
                "GET",
                &format!("{A}/acme/invitations?state=queued"),
                None,
            ),
            200,
        );
        assert_eq!(queued["items"][0]["trigger"], "reactivation", "{queued}");
        assert_eq!(queued["items"][0]["number"], 2);
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r["released"], 1);
        let mails = smtp.wait_for(1, Duration::from_secs(30));
        assert_eq!(mails.len(), 1);

        // Suspended again after the email went out, then reactivated: no
        // second email; the link is refused while suspended.
        let link = mails[0].activation_token().unwrap();
        let off = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}],
        });
        ok(
            s.request()
                .bearer(&token)
                .json("PATCH", &format!("/scim/v2/acme/Users/{carol}"), &off),
            200,
        );
        admin_error(
            &activate(s, &json!({"token": link, "mobileDevice": {"name": "p"}})),
            400,
            "suspended",
        );
        ok(
            s.request().bearer(&token).json(
                "PATCH",
                &format!("/scim/v2/acme/Users/{carol}"),
                &patch,
            ),
            200,
        );
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(
            r["released"], 0,
            "no second invitation for someone already invited"
        );
        let r = ok(
            activate(
                s,
                &json!({"token": link, "mobileDevice": {"name": "Carol's phone"}}),
            ),
            200,
        );
        assert_eq!(r["status"], "Active");

        // Deleting a user cancels the pending invitation: Dave's link dies.
        ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"automaticInvitation": true})),
            ),
            200,
        );
        let dave = scim_user(s, &token, "dave@acme.example", "Dave");
        ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        let mails = smtp.wait_for(2, Duration::from_secs(30));
        let dave_link = mails
            .iter()
            .find(|m| m.to.iter().any(|t| t == "dave@acme.example"))
            .and_then(|m| m.activation_token())
            .unwrap();
        assert_eq!(
            s.request()
                .bearer(&token)
                .delete(&format!("/scim/v2/acme/Users/{dave}"))
                .status,
            204
        );
        let r = activate(
            s,
            &json!({"token": dave_link, "mobileDevice": {"name": "p"}}),
        );
        assert!(
            matches!(r.status, 400 | 410),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(smtp.mails().len(), 2);
    });
}

#[test]
fn admin_api_is_off_without_a_token_and_links_are_logged_without_smtp() {
    let db = TestDb::sqlite();
    let s = Server::start(db, &[]);
    let r = s.request().bearer("anything").get(A);
    admin_error(&r, 403, "SCIM_ADMIN_TOKEN");
    let r = s.request().get(&format!("{A}/default/integration"));
    admin_error(&r, 403, "--admin-token");
}

#[test]
fn unknown_admin_routes_and_bad_bodies_are_json_errors() {
    let db = TestDb::sqlite();
    let s = Server::start(db, &["--admin-token", ADMIN]);
    admin_error(
        &admin(&s, "GET", "/admin/v1/nothing-here", None),
        404,
        "route",
    );
    let r = s
        .request()
        .bearer(ADMIN)
        .send("POST", A, Some(b"{not json"));
    admin_error(&r, 400, "body");
    admin_error(
        &admin(&s, "GET", &format!("{A}/default/audit?limit=0"), None),
        400,
        "limit",
    );
    admin_error(
        &admin(&s, "GET", &format!("{A}/default/audit?after=x"), None),
        400,
        "after",
    );
    admin_error(
        &admin(
            &s,
            "GET",
            &format!("{A}/default/invitations?state=odd"),
            None,
        ),
        400,
        "state",
    );
    // The first tenant's creation on an empty database is a CLI action: its
    // audit log is readable and starts empty or with its own records.
    let page = ok(admin(&s, "GET", &format!("{A}/default/audit"), None), 200);
    assert!(page["items"].is_array());
}

/// A NUL in a path id, a cursor, a tenant name or a device name is bad input
/// on both backends (PostgreSQL text cannot hold one: it used to answer 500).
#[test]
fn nul_characters_are_bad_input_not_server_errors() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let s = Server::start(db, &["--admin-token", ADMIN]);
        for path in [
            format!("{A}/%00/integration"),
            format!("{A}/default/users/%00"),
            format!("{A}/default/groups/%00"),
        ] {
            admin_error(&admin(&s, "GET", &path, None), 404, "no ");
        }
        admin_error(
            &admin(&s, "GET", &format!("{A}/default/users?after=%00"), None),
            400,
            "after",
        );
        admin_error(
            &admin(
                &s,
                "POST",
                A,
                Some(&json!({"slug": "zz", "name": "a\u{0}b"})),
            ),
            400,
            "name",
        );
        admin_error(
            &activate(
                &s,
                &json!({"token": "x", "mobileDevice": {"name": "a\u{0}b"}}),
            ),
            400,
            "mobileDevice",
        );
    }
}

/// A second replica of the server on the same database (no TestDb of its
/// own; stopped on drop).
pub(crate) struct Replica {
    pub(crate) addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replica {
    pub(crate) fn start(database_url: &str, extra: &[&str]) -> Replica {
        use clap::Parser;
        let mut argv: Vec<String> = [
            "scim-server",
            "--database-url",
            database_url,
            "--public-url",
            "https://scim.example.net",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let cli = scim_server::cli::Cli::parse_from(argv);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let scim_server::cli::Command::Serve(args) = &cli.command else {
                    unreachable!()
                };
                let running = scim_server::start(&cli, args).expect("replica starts");
                tx.send((running.addr, running.server.handle())).unwrap();
                running.server.await.expect("replica runs");
                running.outbox.stop();
                running.activity.flush_now();
            });
        });
        let (addr, handle) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        Replica {
            addr,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let h = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(false))).join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn two_replicas_on_one_postgres_send_each_invitation_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let args = [
        "--admin-token",
        ADMIN,
        "--smtp-url",
        &url,
        "--outbox-poll-ms",
        "50",
    ];
    let db_url = db.url().to_owned();
    let s = Server::start(db, &args);
    let _replica = Replica::start(&db_url, &args);

    ok(
        admin(
            &s,
            "POST",
            A,
            Some(&json!({"slug": "acme", "name": "Acme Corp"})),
        ),
        201,
    );
    let token = ok(
        admin(&s, "POST", &format!("{A}/acme/integration/token"), None),
        201,
    );
    let token = token["secretToken"].as_str().unwrap().to_owned();
    ok(
        admin(
            &s,
            "PUT",
            &format!("{A}/acme/scim-settings"),
            Some(&json!({"automaticInvitation": true})),
        ),
        200,
    );
    let n = 24;
    for i in 0..n {
        scim_user(
            &s,
            &token,
            &format!("user{i}@acme.example"),
            &format!("User {i}"),
        );
    }
    let r = ok(
        admin(&s, "POST", &format!("{A}/acme/admin-checkins"), None),
        200,
    );
    assert_eq!(r["released"], n);
    let mails = smtp.wait_for(n, Duration::from_secs(60));
    assert_eq!(mails.len(), n, "{mails:?}");
    std::thread::sleep(Duration::from_millis(1500));
    let mails = smtp.mails();
    assert_eq!(mails.len(), n, "no invitation was sent twice");
    for i in 0..n {
        assert_eq!(
            to_of(&mails, &format!("user{i}@acme.example")),
            1,
            "user{i}"
        );
    }
}

#[test]
fn a_failed_delivery_is_recorded_and_retried_later() {
    // A port nobody listens on: the relay is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smtp://127.0.0.1:{port}");
    let s = Server::start(
        TestDb::sqlite(),
        &[
            "--admin-token",
            ADMIN,
            "--smtp-url",
            &url,
            "--outbox-poll-ms",
            "50",
        ],
    );
    ok(
        admin(
            &s,
            "POST",
            A,
            Some(&json!({"slug": "acme", "name": "Acme"})),
        ),
        201,
    );
    let token = ok(
        admin(&s, "POST", &format!("{A}/acme/integration/token"), None),
        201,
    );
    let token = token["secretToken"].as_str().unwrap().to_owned();
    let erin = scim_user(&s, &token, "erin@acme.example", "Erin");
    ok(
        admin(&s, "POST", &format!("{A}/acme/users/{erin}/invite"), None),
        200,
    );
    ok(
        admin(&s, "POST", &format!("{A}/acme/admin-checkins"), None),
        200,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let invitation = loop {
        let list = ok(
            admin(&s, "GET", &format!("{A}/acme/invitations"), None),
            200,
        );
        let inv = list["items"][0].clone();
        if inv["deliveryAttempts"] == 1 || std::time::Instant::now() > deadline {
            break inv;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(invitation["deliveryAttempts"], 1, "{invitation}");
    assert_eq!(invitation["sentAt"], Value::Null, "{invitation}");
    assert!(
        invitation["lastDeliveryError"]
            .as_str()
            .is_some_and(|e| e.contains("SMTP")),
        "{invitation}"
    );
    // Backoff: no second attempt within the first 30 s.
    std::thread::sleep(Duration::from_millis(500));
    let list = ok(
        admin(&s, "GET", &format!("{A}/acme/invitations"), None),
        200,
    );
    assert_eq!(list["items"][0]["deliveryAttempts"], 1);
    assert_eq!(
        list["items"][0]["state"], "sent",
        "the link itself stays valid"
    );
}

/// Ids of one tenant are 404 under another tenant's admin URL, and of eight
/// concurrent `POST /activate` with one link exactly one succeeds.
#[test]
fn ids_stay_in_their_tenant_and_a_link_works_once_under_concurrency() {
    on_both_with_mail(|s, smtp| {
        let acme = s.tenant("acme");
        s.tenant("globex");
        ok(
            admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"automaticInvitation": true})),
            ),
            200,
        );
        let alice = scim_user(s, &acme, "alice@acme.example", "Alice");
        for (method, path) in [
            ("GET", format!("{A}/globex/users/{alice}")),
            ("PUT", format!("{A}/globex/users/{alice}/settings")),
            ("POST", format!("{A}/globex/users/{alice}/invite")),
        ] {
            admin_error(&admin(s, method, &path, Some(&json!({}))), 404, &alice);
        }
        let r = ok(
            admin(s, "POST", &format!("{A}/globex/admin-checkins"), None),
            200,
        );
        assert_eq!(r, json!({"released": 0}), "globex has nothing queued");
        let r = ok(
            admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r, json!({"released": 1}));
        let mails = smtp.wait_for(1, Duration::from_secs(30));
        let link = mails[0].activation_token().unwrap();
        let body = json!({"token": link, "mobileDevice": {"name": "phone"}});
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let requests: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| activate(s, &body).status))
                .collect();
            requests.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            statuses.iter().filter(|c| **c == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|c| matches!(c, 200 | 410)),
            "{statuses:?}"
        );
        let a = ok(
            admin(s, "GET", &format!("{A}/acme/users/{alice}"), None),
            200,
        );
        assert_eq!(a["status"], "Active");
        assert_eq!(a["invitation"]["state"], "accepted");
        let activations = audit_all(s, 50)
            .into_iter()
            .filter(|r| r["action"] == "lifecycle.userActivated")
            .count();
        assert_eq!(activations, 1, "one activation is audited");
    });
}

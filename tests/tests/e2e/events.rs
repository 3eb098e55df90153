//! The change events feed (`docs/events.md`), on both backends: every SCIM
//! write path (POST, PUT, PATCH in Entra's and Okta's dialects, DELETE, Bulk
//! with POST, PUT, PATCH and DELETE) and the admin
//! writes produce exactly the expected events in order; rejected requests
//! produce none; "deactivation wins" produces only the suspension; the long
//! poll answers soon after a write.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store_diesel::Backend;
use store_diesel::testing::TestDb;

use crate::harness::{ADMIN, Request, Response, Server, admin, on_both_with_admin};

const A: &str = "/admin/v1/tenants";
const T: &str = "/scim/v2/acme";

fn ok(r: &Response, status: u16) -> Value {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    body
}

/// Every event after `after`, as the feed serves them.
fn feed(s: &Server, after: i64) -> Vec<Value> {
    let r = admin(s, "GET", &format!("{A}/acme/events?after={after}"), None);
    ok(&r, 200)["items"].as_array().cloned().unwrap_or_default()
}

/// The events since the last call: checks that their seqs continue without a
/// gap and returns them.
struct Cursor(i64);

impl Cursor {
    fn next(&mut self, s: &Server) -> Vec<Value> {
        let items = feed(s, self.0);
        for e in &items {
            self.0 += 1;
            assert_eq!(e["seq"], self.0, "no gap: {items:?}");
            assert!(e["id"].as_str().is_some_and(|id| id.len() == 36));
            assert!(e["time"].is_string());
        }
        items
    }

    /// The types of the new events, and the events themselves.
    fn types(&mut self, s: &Server) -> (Vec<String>, Vec<Value>) {
        let items = self.next(s);
        (
            items
                .iter()
                .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
                .collect(),
            items,
        )
    }
}

fn created(r: &Response) -> String {
    let b = ok(r, 201);
    b["id"].as_str().unwrap().to_owned()
}

fn user(req: &Request<'_>, user_name: &str) -> String {
    created(&req.json(
        "POST",
        &format!("{T}/Users"),
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true}),
    ))
}

#[test]
fn every_scim_write_path_emits_its_events_in_order() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let mut c = Cursor(0);

        // POST
        let alice = user(&req, "alice@acme.example");
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.provisioned"]);
        assert_eq!(ev[0]["actor"], "directory");
        assert_eq!(ev[0]["data"]["id"], alice.as_str());
        assert_eq!(ev[0]["data"]["status"], "Staged");
        assert_eq!(ev[0]["data"]["active"], true);
        assert_eq!(
            ev[0]["data"]["effective"]["requireMobileAuth"],
            json!({"value": true, "source": "tenantDefault"})
        );

        // PUT: the changed attributes, by name.
        let r = req.json(
            "PUT",
            &format!("{T}/Users/{alice}"),
            &json!({"userName": "alice@acme.example", "displayName": "Alice", "active": true}),
        );
        ok(&r, 200);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.updated"]);
        assert_eq!(ev[0]["data"]["changed"], json!(["displayName"]));

        // PATCH, Entra's dialect: suspend, then reactivate.
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{alice}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        );
        assert!(r.status == 200 || r.status == 204, "{}", r.json());
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.suspended"]);
        assert_eq!(ev[0]["data"]["status"], "Suspended");
        assert_eq!(ev[0]["data"]["active"], false);
        assert_eq!(ev[0]["data"]["previousStatus"], "Staged");
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{alice}"),
            &json!({"Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
        );
        assert!(r.status == 200 || r.status == 204);
        assert_eq!(c.types(s).0, ["user.reactivated"]);

        // A PATCH that changes nothing: no event.
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{alice}"),
            &json!({"Operations": [{"op": "Replace", "path": "displayName", "value": "Alice"}]}),
        );
        assert!(r.status == 200 || r.status == 204);
        assert!(c.next(s).is_empty());

        // Groups: create with a member, add and remove in Entra's dialect.
        let g = created(&req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "Vault users", "members": [{"value": alice}]}),
        ));
        let (types, ev) = c.types(s);
        assert_eq!(types, ["group.created", "group.member_added"]);
        assert_eq!(ev[0]["data"]["memberCount"], 1);
        assert_eq!(ev[1]["data"], json!({"groupId": g, "userId": alice}));
        let bob = user(&req, "bob@acme.example");
        let r = req.json(
            "PATCH",
            &format!("{T}/Groups/{g}"),
            &json!({"Operations": [{"op": "Add", "path": "members",
                "value": [{"$ref": null, "value": bob}, {"$ref": null, "value": alice}]}]}),
        );
        assert_eq!(r.status, 204, "{}", r.json());
        let (types, ev) = c.types(s);
        assert_eq!(
            types,
            ["user.provisioned", "group.member_added"],
            "alice was a member already"
        );
        assert_eq!(ev[1]["data"]["userId"], bob.as_str());
        let r = req.json(
            "PATCH",
            &format!("{T}/Groups/{g}"),
            &json!({"Operations": [{"op": "Remove", "path": format!("members[value eq \"{alice}\"]")}]}),
        );
        assert_eq!(r.status, 204);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["group.member_removed"]);
        assert_eq!(ev[0]["data"]["userId"], alice.as_str());

        // PUT a group: renamed, bob out, alice in.
        let r = req.json(
            "PUT",
            &format!("{T}/Groups/{g}"),
            &json!({"displayName": "Vault people", "members": [{"value": alice}]}),
        );
        ok(&r, 200);
        let (types, ev) = c.types(s);
        assert_eq!(
            types,
            [
                "group.updated",
                "group.member_removed",
                "group.member_added"
            ]
        );
        assert_eq!(ev[0]["data"]["changed"], json!(["displayName"]));
        assert_eq!(ev[1]["data"]["userId"], bob.as_str());
        assert_eq!(ev[2]["data"]["userId"], alice.as_str());

        // DELETE: one group event with the member count; the user's own.
        assert_eq!(req.delete(&format!("{T}/Groups/{g}")).status, 204);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["group.deleted"]);
        assert_eq!(ev[0]["data"]["memberCount"], 1);
        assert_eq!(req.delete(&format!("{T}/Users/{bob}")).status, 204);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.deleted"]);
        assert_eq!(ev[0]["resourceId"], bob.as_str());

        // Bulk: one event stream, in operation order; a failed operation's
        // events are not in it.
        let r = req.json(
            "POST",
            &format!("{T}/Bulk"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "bulkId": "c", "path": "/Users", "data": {"userName": "carol@acme.example"}},
                {"method": "POST", "bulkId": "dup", "path": "/Users", "data": {"userName": "ALICE@acme.example"}},
                {"method": "POST", "bulkId": "g", "path": "/Groups",
                 "data": {"displayName": "Bulk group", "members": [{"value": "bulkId:c"}]}}
            ]}),
        );
        let b = ok(&r, 200);
        assert_eq!(b["Operations"][1]["status"], "409", "{b}");
        let (types, _) = c.types(s);
        assert_eq!(
            types,
            ["user.provisioned", "group.created", "group.member_added"]
        );

        // Rejected requests: nothing.
        let r = req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "alice@ACME.example"}),
        );
        assert_eq!(r.status, 409);
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{alice}"),
            &json!({"Operations": [{"op": "Replace", "path": "userName", "value": "carol@acme.example"}]}),
        );
        assert_eq!(r.status, 409);
        assert!(c.next(s).is_empty());

        // Deactivation wins: the suspension's event only.
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{alice}"),
            &json!({"Operations": [
                {"op": "Replace", "path": "userName", "value": "CAROL@acme.example"},
                {"op": "Replace", "path": "displayName", "value": "Gone"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]}),
        );
        assert_eq!(r.status, 409, "{}", r.json());
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.suspended"]);
        assert_eq!(ev[0]["data"]["userName"], "alice@acme.example");
    });
}

#[test]
fn admin_writes_emit_their_events() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let mut c = Cursor(0);
        let alice = user(&req, "alice@acme.example");
        let g = created(&req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"displayName": "Vault users"}),
        ));
        assert_eq!(c.types(s).0, ["user.provisioned", "group.created"]);

        // A tenant default: one tenant event, with the new values and sources.
        let r = admin(
            s,
            "PUT",
            &format!("{A}/acme/scim-settings"),
            Some(&json!({"automaticInvitation": true})),
        );
        ok(&r, 200);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["settings.changed"]);
        assert_eq!(ev[0]["actor"], "admin");
        assert_eq!(ev[0]["resourceType"], "Tenant");
        assert_eq!(
            ev[0]["data"]["settings"]["automaticInvitation"],
            json!({"value": true, "source": "tenantDefault"})
        );
        // The same values again: no change, no event.
        ok(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/scim-settings"),
                Some(&json!({"automaticInvitation": true})),
            ),
            200,
        );
        assert!(c.next(s).is_empty());

        // Overrides of a user and a group.
        ok(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/users/{alice}/settings"),
                Some(&json!({"requireMobileAuth": false})),
            ),
            200,
        );
        let (types, ev) = c.types(s);
        assert_eq!(types, ["settings.changed"]);
        assert_eq!(ev[0]["data"]["scope"], "user");
        assert_eq!(
            ev[0]["data"]["effective"]["requireMobileAuth"],
            json!({"value": false, "source": "override"})
        );
        ok(
            &admin(
                s,
                "PUT",
                &format!("{A}/acme/groups/{g}/settings"),
                Some(&json!({"membersCanStoreData": false})),
            ),
            200,
        );
        let (types, ev) = c.types(s);
        assert_eq!(types, ["settings.changed"]);
        assert_eq!(ev[0]["data"]["scope"], "group");
        assert_eq!(ev[0]["data"]["membersCanStoreData"], false);

        // Invitation: queued by the admin, released by a check-in.
        ok(
            &admin(s, "POST", &format!("{A}/acme/users/{alice}/invite"), None),
            200,
        );
        assert_eq!(c.types(s).0, ["user.invitation_queued"]);
        // Provisioned with automatic invitation on: queued at once.
        let bob = user(&req, "bob@acme.example");
        assert_eq!(c.types(s).0, ["user.provisioned", "user.invitation_queued"]);
        let r = ok(
            &admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        assert_eq!(r["released"], 2);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.invited", "user.invited"]);
        let mut invited: Vec<&str> = ev
            .iter()
            .map(|e| e["resourceId"].as_str().unwrap())
            .collect();
        invited.sort_unstable();
        let mut want = vec![alice.as_str(), bob.as_str()];
        want.sort_unstable();
        assert_eq!(invited, want);
        assert!(ev.iter().all(|e| e["data"]["status"] == "Invited"));

        // A new Secret Token: the event never carries it.
        let r = ok(
            &admin(s, "POST", &format!("{A}/acme/integration/token"), None),
            201,
        );
        let secret = r["secretToken"].as_str().unwrap().to_owned();
        let (types, ev) = c.types(s);
        assert_eq!(types, ["token.regenerated"]);
        assert!(!ev[0].to_string().contains(&secret));

        // The type filter.
        let r = admin(
            s,
            "GET",
            &format!("{A}/acme/events?type=user.invited,token.regenerated&limit=2"),
            None,
        );
        let b = ok(&r, 200);
        let types: Vec<&str> = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["user.invited", "user.invited"]);
        let next = b["next"].as_str().unwrap().to_owned();
        let r = admin(
            s,
            "GET",
            &format!("{A}/acme/events?type=user.invited,token.regenerated&after={next}"),
            None,
        );
        assert_eq!(ok(&r, 200)["items"][0]["type"], "token.regenerated");
    });
}

#[test]
fn the_feed_checks_its_parameters_and_its_token() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        for q in [
            "limit=0",
            "limit=1001",
            "wait=31",
            "after=x",
            "type=User.Created",
        ] {
            let r = admin(s, "GET", &format!("{A}/acme/events?{q}"), None);
            assert_eq!(r.status, 400, "{q}");
        }
        let r = s.request().bearer(&token).get(&format!("{A}/acme/events"));
        assert_eq!(r.status, 401, "a SCIM token does not open the feed");
        assert_eq!(
            admin(s, "GET", &format!("{A}/nope/events"), None).status,
            404
        );
        let b = ok(
            &admin(s, "GET", &format!("{A}/acme/events?after=7"), None),
            200,
        );
        assert_eq!(b, json!({"items": [], "next": "7"}));
    });
}

#[test]
fn a_long_poll_answers_soon_after_a_write() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        // Nothing happens: the wait runs out, empty.
        let start = Instant::now();
        let b = ok(
            &admin(s, "GET", &format!("{A}/acme/events?wait=1"), None),
            200,
        );
        assert!(start.elapsed() >= Duration::from_millis(900));
        assert_eq!(b["items"], json!([]));

        std::thread::scope(|scope| {
            let poll = scope.spawn(|| {
                let r = admin(s, "GET", &format!("{A}/acme/events?after=0&wait=20"), None);
                (Instant::now(), ok(&r, 200))
            });
            std::thread::sleep(Duration::from_millis(700));
            let written = Instant::now();
            user(&s.request().bearer(&token), "late@acme.example");
            let (answered, b) = poll.join().unwrap();
            assert_eq!(b["items"][0]["type"], "user.provisioned");
            assert_eq!(b["next"], "1");
            let lag = answered.saturating_duration_since(written);
            assert!(
                lag < Duration::from_millis(1000),
                "answered {lag:?} after the write"
            );
        });
    });
}

#[test]
fn activation_emits_user_activated_and_a_deletion_cancels_the_invitation() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::of(backend) else {
            continue;
        };
        let smtp = crate::smtp::SmtpServer::start();
        let url = smtp.url();
        let s = &Server::start(
            db,
            &[
                "--admin-token",
                ADMIN,
                "--smtp-url",
                &url,
                "--outbox-poll-ms",
                "100",
            ],
        );
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let mut c = Cursor(0);
        let alice = user(&req, "alice@acme.example");
        let bob = user(&req, "bob@acme.example");
        for u in [&alice, &bob] {
            ok(
                &admin(s, "POST", &format!("{A}/acme/users/{u}/invite"), None),
                200,
            );
        }
        ok(
            &admin(s, "POST", &format!("{A}/acme/admin-checkins"), None),
            200,
        );
        let mails = smtp.wait_for(2, Duration::from_secs(30));
        let link = mails
            .iter()
            .find(|m| m.to.iter().any(|t| t == "alice@acme.example"))
            .and_then(|m| m.activation_token())
            .unwrap();
        let (types, ev) = c.types(s);
        assert_eq!(
            types,
            [
                "user.provisioned",
                "user.provisioned",
                "user.invitation_queued",
                "user.invitation_queued",
                "user.invited",
                "user.invited"
            ]
        );
        assert!(
            ev.iter().all(|e| !e.to_string().contains(&link)),
            "no activation secret in the feed"
        );

        // Alice activates with her phone.
        let r = s.request().json(
            "POST",
            "/activate",
            &json!({"token": link, "mobileDevice": {"name": "Pixel"}}),
        );
        ok(&r, 200);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.activated"]);
        assert_eq!(ev[0]["actor"], "activation");
        assert_eq!(ev[0]["data"]["status"], "Active");
        assert_eq!(ev[0]["data"]["mobileDeviceEnrolled"], true);

        // Bob is suspended before he activates: his invitation is cancelled.
        let r = req.json(
            "PATCH",
            &format!("{T}/Users/{bob}"),
            &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
        );
        assert!(r.status == 200 || r.status == 204);
        let (types, ev) = c.types(s);
        assert_eq!(types, ["user.suspended"], "the invitation is held: {ev:?}");
        assert_eq!(ev[0]["data"]["previousStatus"], "Invited");

        // Deleted: his invitation is cancelled with him.
        assert_eq!(req.delete(&format!("{T}/Users/{bob}")).status, 204);
        let (types, ev) = c.types(s);
        assert_eq!(
            types,
            ["user.invitation_cancelled", "user.deleted"],
            "{ev:?}"
        );
        assert_eq!(ev[0]["data"]["reason"], "userDeleted");
    }
}

/// Okta's PATCH dialect (no `path`, a `value` object; member arrays) and
/// Bulk's PUT, PATCH and DELETE emit the same events as their direct
/// counterparts, a failed Bulk operation none.
#[test]
fn okta_patches_and_bulk_put_patch_delete_emit_their_events() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let a = user(&req, "a@acme.example");
        let b = user(&req, "b@acme.example");
        let mut c = Cursor(0);
        c.next(s);
        let patch = |path: &str, ops: Value| {
            let r = req.json(
                "PATCH",
                path,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
            );
            assert!(r.status == 200 || r.status == 204, "{path}: {}", r.json());
        };

        // Okta: a user suspended and reactivated through a value object.
        patch(
            &format!("{T}/Users/{a}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        );
        assert_eq!(c.types(s).0, ["user.suspended"]);
        patch(
            &format!("{T}/Users/{a}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        );
        assert_eq!(c.types(s).0, ["user.reactivated"]);

        // Okta: group members added as an array, removed by filter, renamed.
        let g = created(&req.json(
            "POST",
            &format!("{T}/Groups"),
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Okta group"}),
        ));
        assert_eq!(c.types(s).0, ["group.created"]);
        patch(
            &format!("{T}/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
        );
        let (types, ev) = c.types(s);
        assert_eq!(types, ["group.member_added", "group.member_added"]);
        let mut members: Vec<&str> = ev
            .iter()
            .map(|e| e["data"]["userId"].as_str().unwrap())
            .collect();
        members.sort_unstable();
        let mut want = vec![a.as_str(), b.as_str()];
        want.sort_unstable();
        assert_eq!(members, want, "one event per member: {ev:?}");
        patch(
            &format!("{T}/Groups/{g}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
        );
        let (types, ev) = c.types(s);
        assert_eq!(types, ["group.member_removed"]);
        assert_eq!(ev[0]["data"]["userId"], a.as_str());
        patch(
            &format!("{T}/Groups/{g}"),
            json!([{"op": "replace", "value": {"id": g, "displayName": "Okta group renamed"}}]),
        );
        assert_eq!(c.types(s).0, ["group.updated"]);

        // Bulk PUT, PATCH, DELETE; a failed operation in the middle emits nothing.
        let r = req.json(
            "POST",
            &format!("{T}/Bulk"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "PUT", "path": format!("/Users/{b}"),
                 "data": {"userName": "b@acme.example", "displayName": "Bee", "active": true}},
                {"method": "PATCH", "path": format!("/Groups/{g}"),
                 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]}},
                {"method": "PATCH", "path": "/Users/00000000-0000-0000-0000-000000000000",
                 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "replace", "path": "active", "value": false}]}},
                {"method": "DELETE", "path": format!("/Groups/{g}")},
                {"method": "DELETE", "path": format!("/Users/{a}")}
            ]}),
        );
        let body = ok(&r, 200);
        let statuses: Vec<&str> = body["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(statuses[2], "404", "{body}");
        let (types, ev) = c.types(s);
        assert_eq!(
            types,
            [
                "user.updated",
                "group.member_added",
                "group.deleted",
                "user.deleted"
            ],
            "{ev:?}"
        );
        assert_eq!(ev[0]["data"]["changed"], json!(["displayName"]));
        assert_eq!(ev[2]["data"]["memberCount"], 2, "{}", ev[2]);
    });
}

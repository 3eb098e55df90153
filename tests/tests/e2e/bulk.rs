//! `POST /Bulk` (RFC 7644 §3.7): bulkId references, per-operation results,
//! `failOnErrors`, the operation limit and authentication.

use serde_json::{Value, json};

use crate::harness::{Request, Server, admin, on_both, on_both_with_admin};

const T: &str = "/scim/v2/acme";
const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Sends a bulk request; asserts the 200 and returns the operation results.
fn bulk(req: &Request<'_>, body: &Value) -> Vec<Value> {
    let r = req.json("POST", &format!("{T}/Bulk"), body);
    let b = r.json();
    assert_eq!(r.status, 200, "{b}");
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(b["schemas"][0], BULK_RESPONSE_URN, "{b}");
    b["Operations"].as_array().cloned().unwrap_or_default()
}

fn user_op(bulk_id: &str, user_name: &str) -> Value {
    json!({
        "method": "POST",
        "bulkId": bulk_id,
        "path": "/Users",
        "data": {"schemas": [USER_URN], "userName": user_name},
    })
}

/// How many users of the tenant have this userName.
fn users_named(req: &Request<'_>, user_name: &str) -> u64 {
    let r = req.get(&format!(
        "{T}/Users?filter=userName%20eq%20%22{user_name}%22"
    ));
    assert_eq!(r.status, 200);
    r.json()["totalResults"].as_u64().unwrap()
}

#[test]
fn bulk_creates_resolves_bulk_ids_patches_and_deletes() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let ops = bulk(
            &req,
            &json!({
                "schemas": [BULK_URN],
                "Operations": [
                    user_op("alice", "alice@example.net"),
                    user_op("bob", "bob@example.net"),
                    {
                        "method": "post",
                        "bulkId": "team",
                        "path": "/Groups",
                        "data": {
                            "schemas": [GROUP_URN],
                            "displayName": "Team",
                            "members": [{"value": "bulkId:alice"}],
                        },
                    },
                    {
                        "method": "PATCH",
                        "path": "/Groups/bulkId:team",
                        "data": {
                            "schemas": [PATCH_URN],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:bob"}]}],
                        },
                    },
                    {
                        "method": "PATCH",
                        "path": "/Users/bulkId:alice",
                        "version": "W/\"1\"",
                        "data": {
                            "schemas": [PATCH_URN],
                            "Operations": [{"op": "replace", "path": "displayName", "value": "Alice"}],
                        },
                    },
                    {
                        "method": "PATCH",
                        "path": "/Users/bulkId:alice",
                        "version": "W/\"1\"",
                        "data": {
                            "schemas": [PATCH_URN],
                            "Operations": [{"op": "replace", "path": "displayName", "value": "Stale"}],
                        },
                    },
                    {"method": "DELETE", "path": "/Users/bulkId:bob"},
                ],
            }),
        );
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(
            statuses,
            ["201", "201", "201", "204", "200", "412", "204"],
            "{ops:?}"
        );
        assert_eq!(ops[2]["method"], "POST");
        assert_eq!(ops[0]["bulkId"], "alice");
        assert_eq!(ops[0]["version"], "W/\"1\"");
        assert!(ops[0].get("response").is_none(), "{}", ops[0]);
        assert_eq!(ops[5]["response"]["status"], "412", "{}", ops[5]);

        let base = "https://scim.example.net/scim/v2/acme";
        let location = |i: usize| ops[i]["location"].as_str().unwrap().to_owned();
        let alice_id = location(0)
            .strip_prefix(&format!("{base}/Users/"))
            .unwrap()
            .to_owned();
        let bob_id = location(1)
            .strip_prefix(&format!("{base}/Users/"))
            .unwrap()
            .to_owned();
        let team_id = location(2)
            .strip_prefix(&format!("{base}/Groups/"))
            .unwrap()
            .to_owned();
        assert_eq!(location(3), format!("{base}/Groups/{team_id}"));
        assert_eq!(location(4), format!("{base}/Users/{alice_id}"));
        assert_eq!(ops[4]["version"], "W/\"2\"");

        let alice = req.get(&format!("{T}/Users/{alice_id}"));
        assert_eq!(alice.status, 200);
        assert_eq!(alice.json()["displayName"], "Alice");
        assert_eq!(req.get(&format!("{T}/Users/{bob_id}")).status, 404);
        let team = req.get(&format!("{T}/Groups/{team_id}")).json();
        let members: Vec<&str> = team["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert!(members.contains(&alice_id.as_str()), "{team}");
        assert!(!members.contains(&bob_id.as_str()), "{team}");
    });
}

#[test]
fn a_failing_operation_is_reported_and_fail_on_errors_stops_the_run() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "taken@example.net"}),
        );
        assert_eq!(r.status, 201);

        // Without failOnErrors every operation runs; each is its own transaction.
        let ops = bulk(
            &req,
            &json!({
                "schemas": [BULK_URN],
                "Operations": [
                    user_op("a", "taken@example.net"),
                    user_op("b", "second@example.net"),
                ],
            }),
        );
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(ops[0]["status"], "409", "{ops:?}");
        assert_eq!(ops[0]["response"]["status"], "409");
        assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
        assert_eq!(
            ops[0]["response"]["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert!(ops[0].get("location").is_none(), "{}", ops[0]);
        assert_eq!(ops[1]["status"], "201", "{ops:?}");
        assert_eq!(users_named(&req, "second@example.net"), 1);

        // With failOnErrors: 1 the run stops after the first error.
        let ops = bulk(
            &req,
            &json!({
                "schemas": [BULK_URN],
                "failOnErrors": 1,
                "Operations": [
                    user_op("c", "third@example.net"),
                    user_op("d", "taken@example.net"),
                    user_op("e", "fourth@example.net"),
                ],
            }),
        );
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(ops[0]["status"], "201");
        assert_eq!(ops[1]["status"], "409");
        assert_eq!(users_named(&req, "third@example.net"), 1);
        assert_eq!(users_named(&req, "fourth@example.net"), 0);
    });
}

#[test]
fn unknown_and_failed_bulk_ids_are_409() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "taken@example.net"}),
        );
        let ops = bulk(
            &req,
            &json!({
                "schemas": [BULK_URN],
                "Operations": [
                    {
                        "method": "POST",
                        "path": "/Groups",
                        "data": {"displayName": "Orphans", "members": [{"value": "bulkId:nobody"}]},
                    },
                    user_op("dup", "taken@example.net"),
                    {"method": "DELETE", "path": "/Users/bulkId:dup"},
                    {"method": "DELETE", "path": "/Users/bulkId:later"},
                    user_op("later", "later@example.net"),
                ],
            }),
        );
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        // The DELETE of `later` waits for the POST that declares it (RFC 7644
        // §3.7.3), so it succeeds; the others refer to nothing or to a failure.
        assert_eq!(statuses, ["409", "409", "409", "204", "201"], "{ops:?}");
        for i in [0, 2] {
            assert_eq!(ops[i]["response"]["status"], "409", "{}", ops[i]);
            assert!(
                ops[i]["response"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("bulkId"),
                "{}",
                ops[i]
            );
        }
        let groups = req.get(&format!("{T}/Groups")).json();
        assert_eq!(groups["totalResults"], 0, "{groups}");
        assert_eq!(
            users_named(&req, "later@example.net"),
            0,
            "created, then deleted"
        );
    });
}

#[test]
fn forward_bulk_id_references_resolve_and_only_cycles_fail() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let ops = bulk(
            &req,
            &json!({
                "schemas": [BULK_URN],
                "Operations": [
                    // A group naming two users that come later.
                    {
                        "method": "POST",
                        "path": "/Groups",
                        "bulkId": "g",
                        "data": {"displayName": "Early", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]},
                    },
                    // A PATCH of the group and of a later user, before either exists.
                    {
                        "method": "PATCH",
                        "path": "/Users/bulkId:u2",
                        "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                 "Operations": [{"op": "replace", "path": "title", "value": "Late"}]},
                    },
                    user_op("u1", "u1@example.net"),
                    user_op("u2", "u2@example.net"),
                    // A true cycle: two groups naming each other can never resolve.
                    {
                        "method": "POST", "path": "/Groups", "bulkId": "c1",
                        "data": {"displayName": "C1", "members": [{"value": "bulkId:c2"}]},
                    },
                    {
                        "method": "POST", "path": "/Groups", "bulkId": "c2",
                        "data": {"displayName": "C2", "members": [{"value": "bulkId:c1"}]},
                    },
                ],
            }),
        );
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(
            statuses,
            ["201", "200", "201", "201", "409", "409"],
            "{ops:?}"
        );
        assert_eq!(ops[0]["bulkId"], "g");
        let gid = ops[0]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let g = req.get(&format!("{T}/Groups/{gid}")).json();
        assert_eq!(g["members"].as_array().unwrap().len(), 2, "{g}");
        let u2 = ops[3]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(req.get(&format!("{T}/Users/{u2}")).json()["title"], "Late");
        let groups = req.get(&format!("{T}/Groups")).json();
        assert_eq!(
            groups["totalResults"], 1,
            "the cycle created nothing: {groups}"
        );
    });
}

#[test]
fn too_many_operations_are_413_and_nothing_runs() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let ops: Vec<Value> = (0..1001)
            .map(|i| user_op(&format!("u{i}"), &format!("u{i}@example.net")))
            .collect();
        let r = req.json(
            "POST",
            &format!("{T}/Bulk"),
            &json!({"schemas": [BULK_URN], "Operations": ops}),
        );
        r.assert_error(413, None);
        assert_eq!(users_named(&req, "u0@example.net"), 0);
    });
}

#[test]
fn bulk_requires_authentication() {
    on_both(|s| {
        let token = s.tenant("acme");
        let body = json!({"schemas": [BULK_URN], "Operations": [user_op("a", "anon@example.net")]});
        let r = s.request().json("POST", &format!("{T}/Bulk"), &body);
        r.assert_error(401, None);
        let r = s
            .request()
            .bearer("not-a-token")
            .json("POST", &format!("{T}/Bulk"), &body);
        r.assert_error(401, None);
        assert_eq!(
            users_named(&s.request().bearer(&token), "anon@example.net"),
            0
        );
    });
}

#[test]
fn service_provider_config_advertises_bulk() {
    on_both(|s| {
        let token = s.tenant("acme");
        let r = s
            .request()
            .bearer(&token)
            .get(&format!("{T}/ServiceProviderConfig"));
        assert_eq!(r.status, 200);
        let b = r.json();
        assert_eq!(b["bulk"]["supported"], true, "{b}");
        assert_eq!(b["bulk"]["maxOperations"], 1000, "{b}");
        assert_eq!(b["bulk"]["maxPayloadSize"], 1024 * 1024, "{b}");
    });
}

/// Every audit record of the tenant `acme`, oldest first.
fn audit_all(s: &Server) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let r = admin(
            s,
            "GET",
            &format!("/admin/v1/tenants/acme/audit?limit=500&after={after}"),
            None,
        );
        let page = r.json();
        assert_eq!(r.status, 200, "{page}");
        all.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => return all,
        }
    }
}

/// Every change event of the tenant `acme`, oldest first.
fn events_all(s: &Server) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e["seq"].as_i64().unwrap());
        let r = admin(
            s,
            "GET",
            &format!("/admin/v1/tenants/acme/events?after={after}"),
            None,
        );
        let page = r.json();
        assert_eq!(r.status, 200, "{page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return all;
        }
        all.extend(items);
    }
}

/// The user's id from a `location`.
fn id_of(location: &Value) -> String {
    location
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// What a record says, without what differs from user to user.
fn audit_shape(r: &Value, user_name: &str) -> Value {
    let mut r = r.clone();
    let o = r.as_object_mut().unwrap();
    o.remove("seq");
    o.remove("at");
    o.remove("targetId");
    let details = serde_json::to_string(&o["details"])
        .unwrap()
        .replace(user_name, "NAME");
    let mut details: Value = serde_json::from_str(&details).unwrap();
    if let Some(d) = details.as_object_mut() {
        d.remove("at");
    }
    o.insert("details".into(), details);
    r
}

/// A run of user creates is stored in one pass (multi-row statements). What
/// it stores must be what one create at a time stores: the user, its emails
/// (a filter on them finds it), its audit records in order, its change
/// events, its version; and the audit log and the feed go on without a gap
/// or a repeat afterwards.
#[test]
fn a_run_of_creates_stores_what_single_creates_store() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let user = |name: &str, active: bool| {
            json!({
                "schemas": [USER_URN],
                "userName": name,
                "active": active,
                "displayName": format!("Dn {name}"),
                "emails": [
                    {"value": format!("w.{name}"), "type": "work", "primary": true},
                    {"value": format!("h.{name}"), "type": "home"},
                ],
            })
        };
        let single = req.json(
            "POST",
            &format!("{T}/Users"),
            &user("one@example.net", true),
        );
        assert_eq!(single.status, 201);
        let single_id = single.json()["id"].as_str().unwrap().to_owned();
        let suspended = req.json(
            "POST",
            &format!("{T}/Users"),
            &user("off@example.net", false),
        );
        assert_eq!(suspended.status, 201);
        let suspended_id = suspended.json()["id"].as_str().unwrap().to_owned();
        let audit_before = audit_all(s).len();
        let events_before = events_all(s).len();

        let names: Vec<String> = (0..40).map(|i| format!("run{i}@example.net")).collect();
        let operations: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"method": "POST", "bulkId": format!("b{i}"), "path": "/Users",
                       "data": user(name, i != 7)})
            })
            .collect();
        let ops = bulk(
            &req,
            &json!({"schemas": [BULK_URN], "Operations": operations}),
        );
        assert_eq!(ops.len(), 40);
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op["status"], "201", "{op}");
            assert_eq!(op["bulkId"], format!("b{i}"));
            assert_eq!(op["version"], "W/\"1\"");
        }
        let ids: Vec<String> = ops.iter().map(|o| id_of(&o["location"])).collect();

        // The documents: as a single create's, but for the names.
        let doc = |id: &str| {
            let mut d = req.get(&format!("{T}/Users/{id}")).json();
            let o = d.as_object_mut().unwrap();
            o.remove("id");
            o.remove("meta");
            d
        };
        let bulk_doc = serde_json::to_string(&doc(&ids[0]))
            .unwrap()
            .replace("run0@example.net", "N");
        let single_doc = serde_json::to_string(&doc(&single_id))
            .unwrap()
            .replace("one@example.net", "N");
        assert_eq!(bulk_doc, single_doc);
        let bulk_doc = serde_json::to_string(&doc(&ids[7]))
            .unwrap()
            .replace("run7@example.net", "N");
        let off_doc = serde_json::to_string(&doc(&suspended_id))
            .unwrap()
            .replace("off@example.net", "N");
        assert_eq!(bulk_doc, off_doc, "the suspended one");
        // The email rows: a filter on a secondary address finds the user.
        let found = req.get(&format!(
            "{T}/Users?filter=emails.value%20eq%20%22h.run39@example.net%22"
        ));
        assert_eq!(
            found.json()["Resources"][0]["id"],
            ids[39],
            "{}",
            found.json()
        );

        // The audit log: per user what a single create records, user after user.
        let audit = audit_all(s);
        let of = |id: &str, records: &[Value]| -> Vec<Value> {
            records
                .iter()
                .filter(|r| r["targetId"] == id)
                .cloned()
                .collect()
        };
        let single_records: Vec<Value> = of(&single_id, &audit)
            .iter()
            .map(|r| audit_shape(r, "one@example.net"))
            .collect();
        let off_records: Vec<Value> = of(&suspended_id, &audit)
            .iter()
            .map(|r| audit_shape(r, "off@example.net"))
            .collect();
        let new_records = &audit[audit_before..];
        let per_user = single_records.len();
        assert!(per_user >= 2, "{single_records:?}");
        let mut expected_targets = Vec::new();
        for (i, (id, name)) in ids.iter().zip(&names).enumerate() {
            let records: Vec<Value> = of(id, new_records)
                .iter()
                .map(|r| audit_shape(r, name))
                .collect();
            let want = if i == 7 {
                &off_records
            } else {
                &single_records
            };
            assert_eq!(&records, want, "user {i}");
            expected_targets.extend(std::iter::repeat_n(id.clone(), records.len()));
        }
        let targets: Vec<String> = new_records
            .iter()
            .map(|r| r["targetId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            targets, expected_targets,
            "user after user, in request order"
        );
        let seqs: Vec<i64> = audit.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

        // The feed: per user the events of a single create, in order, no gap.
        let events = events_all(s);
        let types_of = |id: &str, list: &[Value]| -> Vec<Value> {
            list.iter()
                .filter(|e| e["resourceId"] == id)
                .map(|e| e["type"].clone())
                .collect()
        };
        let single_types = types_of(&single_id, &events);
        let off_types = types_of(&suspended_id, &events);
        assert!(!single_types.is_empty());
        for (i, id) in ids.iter().enumerate() {
            let want = if i == 7 { &off_types } else { &single_types };
            assert_eq!(&types_of(id, &events[events_before..]), want, "user {i}");
        }
        for (n, e) in events.iter().enumerate() {
            assert_eq!(e["seq"].as_i64(), Some(n as i64 + 1), "no gap, no repeat");
        }

        // A single write afterwards goes on from where the run left off.
        let after = req.json(
            "POST",
            &format!("{T}/Users"),
            &user("after@example.net", true),
        );
        assert_eq!(after.status, 201);
        let audit2 = audit_all(s);
        assert_eq!(audit2.len(), audit.len() + per_user);
        assert!(audit2.last().unwrap()["seq"].as_i64() > audit.last().unwrap()["seq"].as_i64());
        assert_eq!(events_all(s).len(), events.len() + single_types.len());
    });
}

/// When a run of creates fails as a whole (a userName taken by the tenant,
/// or twice in the run, or a document the store refuses), nothing of the
/// pass is kept and each operation gets the answer it would have had on its
/// own; `failOnErrors` counts them in order.
#[test]
fn a_run_of_creates_with_a_conflict_answers_each_operation() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = s.request().bearer(&token);
        let r = req.json(
            "POST",
            &format!("{T}/Users"),
            &json!({"userName": "taken@example.net"}),
        );
        assert_eq!(r.status, 201);
        let audit_before = audit_all(s).len();
        let events_before = events_all(s).len();
        let mut operations: Vec<Value> = (0..30)
            .map(|i| user_op(&format!("b{i}"), &format!("u{i}@example.net")))
            .collect();
        operations[10] = user_op("b10", "TAKEN@example.net");
        operations[20] = user_op("b20", "u3@example.net");
        // An operation after the failing ones refers to a user of the run.
        operations.push(json!({
            "method": "POST", "path": "/Groups",
            "data": {"displayName": "All", "members": [{"value": "bulkId:b29"}, {"value": "bulkId:b0"}]},
        }));
        let ops = bulk(
            &req,
            &json!({"schemas": [BULK_URN], "Operations": operations}),
        );
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        let mut want = vec!["201"; 31];
        want[10] = "409";
        want[20] = "409";
        assert_eq!(statuses, want, "{ops:?}");
        assert_eq!(ops[10]["response"]["scimType"], "uniqueness");
        assert_eq!(ops[20]["response"]["scimType"], "uniqueness");
        assert_eq!(users_named(&req, "u3@example.net"), 1);
        let all = req.get(&format!("{T}/Users?count=100")).json();
        assert_eq!(all["totalResults"], 29, "28 of the run and the taken one");
        let group = id_of(&ops[30]["location"]);
        let members = req.get(&format!("{T}/Groups/{group}")).json()["members"].clone();
        assert_eq!(members.as_array().unwrap().len(), 2, "{members}");

        // The audit log holds the 28 creates and the 2 refusals once each:
        // nothing of the failed pass.
        let audit = audit_all(s);
        let new = &audit[audit_before..];
        let creates = new.iter().filter(|r| r["action"] == "user.create").count();
        assert_eq!(creates, 28, "{new:?}");
        let user_ids: std::collections::HashSet<String> = ops[..30]
            .iter()
            .filter(|o| o["status"] == "201")
            .map(|o| id_of(&o["location"]))
            .collect();
        assert_eq!(user_ids.len(), 28);
        let events = events_all(s);
        let created: Vec<&Value> = events[events_before..]
            .iter()
            .filter(|e| e["resourceType"] == "User")
            .collect();
        let event_users: std::collections::HashSet<String> = created
            .iter()
            .map(|e| e["resourceId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(event_users, user_ids, "events only of the stored users");

        // failOnErrors: the run stops at its limit, counting in order.
        let mut operations: Vec<Value> = (0..10)
            .map(|i| user_op(&format!("c{i}"), &format!("c{i}@example.net")))
            .collect();
        operations[3] = user_op("c3", "taken@example.net");
        operations[6] = user_op("c6", "taken@example.net");
        let ops = bulk(
            &req,
            &json!({"schemas": [BULK_URN], "failOnErrors": 2, "Operations": operations}),
        );
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["201", "201", "201", "409", "201", "201", "409"]);
        assert_eq!(users_named(&req, "c5@example.net"), 1);
        assert_eq!(users_named(&req, "c7@example.net"), 0);
    });
}

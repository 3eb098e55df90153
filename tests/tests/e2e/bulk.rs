//! `POST /Bulk` (RFC 7644 §3.7): bulkId references, per-operation results,
//! `failOnErrors`, the operation limit and authentication.

use serde_json::{Value, json};

use crate::harness::{Request, on_both};

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

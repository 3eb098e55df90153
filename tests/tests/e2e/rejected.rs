//! A write an authenticated client made fail (4xx) changes nothing and is
//! audited (`request.rejected`, with the request, status and detail); an
//! unauthenticated one leaves no trace.

use serde_json::{Value, json};

use crate::harness::{Server, admin, on_both_with_admin};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn rejected(s: &Server) -> Vec<Value> {
    let page = admin(s, "GET", "/admin/v1/tenants/acme/audit?limit=200", None).json();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "request.rejected")
        .cloned()
        .collect()
}

#[test]
fn rejected_writes_are_audited_and_change_nothing() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = || s.request().bearer(&token);
        let u = req().json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": [USER], "userName": "taken@example.net"}),
        );
        let uid = u.json()["id"].as_str().unwrap().to_owned();
        let g = req().json(
            "POST",
            "/scim/v2/acme/Groups",
            &json!({"schemas": [GROUP], "displayName": "G"}),
        );
        let gid = g.json()["id"].as_str().unwrap().to_owned();
        assert!(rejected(s).is_empty());

        // 409: a taken userName.
        req()
            .json(
                "POST",
                "/scim/v2/acme/Users",
                &json!({"schemas": [USER], "userName": "TAKEN@example.net"}),
            )
            .assert_error(409, Some("uniqueness"));
        // 400: a nested group.
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Groups/{gid}"),
                &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": gid}]}]}),
            )
            .assert_error(400, Some("invalidValue"));
        // 400: a bad PATCH.
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Users/{uid}"),
                &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "nosuchattribute", "value": "x"}]}),
            )
            .assert_error(400, None);
        // Not audited: no credentials, and reads.
        s.request()
            .json(
                "POST",
                "/scim/v2/acme/Users",
                &json!({"schemas": [USER], "userName": "x@example.net"}),
            )
            .assert_error(401, None);
        req()
            .get("/scim/v2/acme/Users/nosuchid")
            .assert_error(404, None);

        let log = rejected(s);
        let statuses: Vec<i64> = log
            .iter()
            .map(|r| r["details"]["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, [409, 400, 400], "{log:?}");
        assert_eq!(log[0]["targetType"], "User", "{}", log[0]);
        assert_eq!(log[0]["details"]["request"], "POST /scim/v2/acme/Users");
        assert!(
            log[0]["details"]["detail"]
                .as_str()
                .unwrap()
                .contains("already in use"),
            "{}",
            log[0]
        );
        assert_eq!(log[1]["targetType"], "Group");
        assert_eq!(log[1]["targetId"], gid.as_str());
        assert!(
            log[1]["details"]["detail"]
                .as_str()
                .unwrap()
                .contains("nested"),
            "{}",
            log[1]
        );
        assert_eq!(log[2]["targetId"], uid.as_str());
        // Nothing changed.
        let g = req().get(&format!("/scim/v2/acme/Groups/{gid}")).json();
        assert_eq!(g["meta"]["version"], "W/\"1\"", "{g}");
        let u = req().get(&format!("/scim/v2/acme/Users/{uid}")).json();
        assert_eq!(u["meta"]["version"], "W/\"1\"", "{u}");
        let users = req().get("/scim/v2/acme/Users").json();
        assert_eq!(users["totalResults"], 1);
    });
}

#[test]
fn failed_operations_inside_a_successful_bulk_are_audited() {
    on_both_with_admin(|s| {
        let token = s.tenant("acme");
        let req = || s.request().bearer(&token);
        let u = req().json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": [USER], "userName": "taken@example.net"}),
        );
        assert_eq!(u.status, 201);
        let bulk = req().json(
            "POST",
            "/scim/v2/acme/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"schemas": [USER], "userName": "new@example.net"}},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"schemas": [USER], "userName": "taken@example.net"}},
                {"method": "DELETE", "path": "/Groups/no-such-group"},
            ]}),
        );
        assert_eq!(bulk.status, 200);
        let statuses: Vec<String> = bulk.json()["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(statuses, ["201", "409", "404"]);
        let records = rejected(s);
        assert_eq!(records.len(), 2, "{records:?}");
        let dup = records
            .iter()
            .find(|r| r["details"]["status"] == 409)
            .expect("the 409 is audited");
        assert_eq!(dup["details"]["request"], "POST /Users (in POST /Bulk)");
        assert_eq!(dup["targetType"], "User");
        let missing = records
            .iter()
            .find(|r| r["details"]["status"] == 404)
            .expect("the 404 is audited");
        assert_eq!(missing["targetType"], "Group");
        assert_eq!(missing["targetId"], "no-such-group");
    });
}

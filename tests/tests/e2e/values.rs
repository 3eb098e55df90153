//! Values the store cannot take answer the same 400 on SQLite and PostgreSQL
//! and store nothing: NUL characters anywhere, over-long indexed values, too
//! many values in one attribute.

use serde_json::{Value, json};

use crate::harness::{Server, on_both};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn counts(s: &Server, token: &str) -> (u64, u64) {
    let n = |path: &str| {
        s.request().bearer(token).get(path).json()["totalResults"]
            .as_u64()
            .unwrap()
    };
    (n("/scim/v2/acme/Users"), n("/scim/v2/acme/Groups"))
}

#[test]
fn nul_characters_and_long_values_are_400_on_both_backends_and_store_nothing() {
    on_both(|s| {
        let token = s.tenant("acme");
        let req = || s.request().bearer(&token);
        let user = req().json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": [USER], "userName": "ok@example.net"}),
        );
        assert_eq!(user.status, 201);
        let uid = user.json()["id"].as_str().unwrap().to_owned();
        let group = req().json(
            "POST",
            "/scim/v2/acme/Groups",
            &json!({"schemas": [GROUP], "displayName": "ok"}),
        );
        let gid = group.json()["id"].as_str().unwrap().to_owned();
        let before = counts(s, &token);
        let long = "x".repeat(3000);
        let bad_users: Vec<(Value, &str)> = vec![
            (
                json!({"schemas": [USER], "userName": "a\u{0}b"}),
                "userName",
            ),
            (
                json!({"schemas": [USER], "userName": long.clone()}),
                "userName",
            ),
            (
                json!({"schemas": [USER], "userName": "d@x", "displayName": "\u{0}"}),
                "displayName",
            ),
            (
                json!({"schemas": [USER], "userName": "e@x", "externalId": "e\u{0}"}),
                "externalId",
            ),
            (
                json!({"schemas": [USER], "userName": "e2@x", "externalId": long.clone()}),
                "externalId",
            ),
            (
                json!({"schemas": [USER], "userName": "f@x", "emails": [{"value": "f\u{0}@x"}]}),
                "emails.value",
            ),
            (
                json!({"schemas": [USER], "userName": "f2@x", "emails": [{"value": format!("{long}@x")}]}),
                "emails.value",
            ),
            (
                json!({"schemas": [USER], "userName": "g@x", "emails": [{"value": "g@x", "type": "w\u{0}"}]}),
                "emails.type",
            ),
            (
                json!({"schemas": [USER], "userName": "h@x", "emails": (0..101).map(|i| json!({"value": format!("{i}@x")})).collect::<Vec<_>>()}),
                "emails",
            ),
        ];
        for (body, attr) in &bad_users {
            let r = req().json("POST", "/scim/v2/acme/Users", body);
            let e = r.assert_error(400, Some("invalidValue"));
            assert!(e["detail"].as_str().unwrap().contains(attr), "{e}");
            let r = req().json("PUT", &format!("/scim/v2/acme/Users/{uid}"), body);
            r.assert_error(400, Some("invalidValue"));
        }
        let bad_groups: Vec<Value> = vec![
            json!({"schemas": [GROUP], "displayName": "g\u{0}"}),
            json!({"schemas": [GROUP], "displayName": long.clone()}),
            json!({"schemas": [GROUP], "displayName": "m", "members": [{"value": "u\u{0}"}]}),
        ];
        for body in &bad_groups {
            req()
                .json("POST", "/scim/v2/acme/Groups", body)
                .assert_error(400, Some("invalidValue"));
        }
        // PATCH values and member filters.
        let patch = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Users/{uid}"),
                &patch(json!([{"op": "replace", "path": "displayName", "value": "a\u{0}"}])),
            )
            .assert_error(400, Some("invalidValue"));
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Groups/{gid}"),
                &patch(json!([{"op": "add", "path": "members", "value": [{"value": "x\u{0}"}]}])),
            )
            .assert_error(400, Some("invalidValue"));
        // A raw NUL in a path is a bad path; an escaped one reaches the member check.
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Groups/{gid}"),
                &patch(json!([{"op": "remove", "path": "members[value eq \"x\u{0}\"]"}])),
            )
            .assert_error(400, Some("invalidPath"));
        req()
            .json(
                "PATCH",
                &format!("/scim/v2/acme/Groups/{gid}"),
                &patch(json!([{"op": "remove", "path": "members[value eq \"x\\u0000\"]"}])),
            )
            .assert_error(400, Some("invalidValue"));
        // Ids in the URL and filters.
        req()
            .get("/scim/v2/acme/Users/a%00b")
            .assert_error(404, None);
        req()
            .delete("/scim/v2/acme/Groups/a%00b")
            .assert_error(404, None);
        req()
            .get("/scim/v2/acme/Users?filter=userName%20eq%20%22a%00b%22")
            .assert_error(400, Some("invalidFilter"));
        // Inside /Bulk: each such operation is a 400, the good one lands.
        let bulk = req().json(
            "POST",
            "/scim/v2/acme/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "n\u{0}"}},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"schemas": [GROUP], "displayName": long.clone()}},
                {"method": "PATCH", "path": format!("/Users/{uid}"), "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "\u{0}"}]}},
            ]}),
        );
        assert_eq!(bulk.status, 200);
        let ops = bulk.json()["Operations"].clone();
        for op in ops.as_array().unwrap() {
            assert_eq!(op["status"], "400", "{op}");
        }
        assert_eq!(counts(s, &token), before, "nothing was stored");
        let u = req().get(&format!("/scim/v2/acme/Users/{uid}")).json();
        assert_eq!(u["meta"]["version"], "W/\"1\"", "{u}");
    });
}

#[test]
fn deactivation_wins_over_a_value_the_store_cannot_take() {
    on_both(|s| {
        let token = s.tenant("acme");
        let r = s.request().bearer(&token).json(
            "POST",
            "/scim/v2/acme/Users",
            &json!({"schemas": [USER], "userName": "leaver@example.net"}),
        );
        let uid = r.json()["id"].as_str().unwrap().to_owned();
        let r = s.request().bearer(&token).json(
            "PATCH",
            &format!("/scim/v2/acme/Users/{uid}"),
            &json!({"schemas": [PATCH], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "displayName", "value": "x".repeat(20_000)},
            ]}),
        );
        r.assert_error(400, Some("invalidValue"));
        let u = s
            .request()
            .bearer(&token)
            .get(&format!("/scim/v2/acme/Users/{uid}"))
            .json();
        assert_eq!(u["active"], false, "{u}");
    });
}

#[test]
fn the_limits_are_operator_settings() {
    let s = Server::start(
        store_diesel::testing::TestDb::sqlite(),
        &["--max-indexed-chars", "10", "--max-values", "2"],
    );
    let token = s.tenant("acme");
    let post = |body: Value| {
        s.request()
            .bearer(&token)
            .json("POST", "/scim/v2/acme/Users", &body)
    };
    assert_eq!(
        post(json!({"schemas": [USER], "userName": "a@b.cd"})).status,
        201
    );
    let e = post(json!({"schemas": [USER], "userName": "abcdefghijk"}))
        .assert_error(400, Some("invalidValue"));
    assert!(e["detail"].as_str().unwrap().contains("at most 10"), "{e}");
    let e = post(json!({"schemas": [USER], "userName": "c@d", "emails": [{"value": "1@x"}, {"value": "2@x"}, {"value": "3@x"}]}))
        .assert_error(400, Some("invalidValue"));
    assert!(e["detail"].as_str().unwrap().contains("at most 2"), "{e}");
}

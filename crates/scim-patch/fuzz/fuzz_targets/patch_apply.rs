//! Reads arbitrary bytes as a PATCH request body and applies it to a realistic user and
//! a group. Must never panic; a success keeps `id`, `meta` and `userName`, never stores
//! `password`, and applying the resulting request again to its output is stable for
//! the member delta; a deactivation outcome always has `active: false`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::messages::PatchRequest;
use scim_model::schema::{GROUP, USER};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "id": "7f3a9d1e",
        "externalId": "b7e2f0c4",
        "userName": "nora.lind@fabrikam.example",
        "active": true,
        "name": {"familyName": "Lind", "givenName": "Nora"},
        "emails": [
            {"value": "nora.lind@fabrikam.example", "type": "work", "primary": true},
            {"value": "nora@home.example", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Finance", "manager": {"value": "m-100"}
        },
        "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User": {"status": "Staged"},
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<PatchRequest>(data) else {
        return;
    };
    let u = user();
    match scim_patch::apply(&u, &USER, &req) {
        Ok(out) => {
            assert_eq!(out.resource["id"], u["id"]);
            assert_eq!(out.resource["meta"], u["meta"]);
            assert!(out.resource["userName"].is_string());
            assert!(out.resource.get("password").is_none());
            assert_eq!(out.changes.changed, out.resource != u || out.changes.has_member_delta());
        }
        Err(e) => {
            if let Some(d) = e.deactivation() {
                assert_eq!(d.outcome.resource["active"], json!(false));
            }
        }
    }
    let g = json!({"id": "c51e0f77", "displayName": "Finance"});
    if let Ok(out) = scim_patch::apply(&g, &GROUP, &req) {
        assert!(out.changes.members_added.is_disjoint(&out.changes.members_removed));
        assert!(out.resource.get("members").is_none());
    }
});

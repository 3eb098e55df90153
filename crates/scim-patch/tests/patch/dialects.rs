//! The PATCH bodies clients really send, in the four dialects: Microsoft's tutorial,
//! Entra ID legacy (default), Entra ID compliant (`?aadOptscim062020`) and Okta.

use scim_model::schema::{GROUP, USER};
use serde_json::json;

use crate::common::*;

const U1: &str = "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10";
const U2: &str = "a0b9c8d7-1e2f-4a3b-8c4d-5e6f7a8b9c0d";

fn on_user(b: serde_json::Value) -> scim_patch::Outcome {
    scim_patch::apply(&user(), &USER, &body(b)).unwrap()
}
fn on_group(b: serde_json::Value) -> scim_patch::Outcome {
    scim_patch::apply(&group(), &GROUP, &body(b)).unwrap()
}

#[test]
fn s5_5_legacy_multi_valued_update() {
    let out = on_user(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nora.lind-berg@fabrikam.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Lind-Berg"}
        ]
    }));
    assert_eq!(
        out.resource["emails"][0],
        json!({"value": "nora.lind-berg@fabrikam.example", "type": "work", "primary": true})
    );
    assert_eq!(out.resource["emails"][1], user()["emails"][1]);
    assert_eq!(out.resource["name"]["familyName"], "Lind-Berg");
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        ["emails", "name.familyName"]
    );
}

#[test]
fn s5_6_single_valued_update() {
    let out = on_user(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "nora.lindberg@fabrikam.example"}]
    }));
    assert_eq!(out.resource["userName"], "nora.lindberg@fabrikam.example");
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        ["userName"]
    );
}

#[test]
fn s5_7_disable_tutorial_boolean_and_legacy_string() {
    for value in [json!(false), json!("False")] {
        let out = on_user(json!({
            "Operations": [{"op": "Replace", "path": "active", "value": value}],
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
        }));
        assert_eq!(out.resource["active"], json!(false));
        assert_eq!(out.changes.active_changed, Some(false));
        assert_eq!(
            out.changes.attributes.iter().collect::<Vec<_>>(),
            ["active"]
        );
    }
}

#[test]
fn s5_12_group_rename() {
    let out = on_group(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "displayName", "value": "Finance Vault Users (EMEA)"}]
    }));
    assert_eq!(out.resource["displayName"], "Finance Vault Users (EMEA)");
    assert!(!out.changes.has_member_delta());
}

#[test]
fn s5_13_add_members_with_null_ref() {
    let out = on_group(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "Add", "path": "members",
            "value": [{"$ref": null, "value": U1}, {"$ref": null, "value": U2}]
        }]
    }));
    assert_eq!(ids(&out.changes.members_added), [U1, U2]);
    assert!(!out.changes.members_cleared);
}

#[test]
fn s5_14_legacy_member_removal_removes_only_listed() {
    let out = on_group(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": U2}]}]
    }));
    assert_eq!(ids(&out.changes.members_removed), [U2]);
    assert!(
        !out.changes.members_cleared,
        "a Remove with a value must never clear the group"
    );
    assert!(out.changes.members_added.is_empty());
}

#[test]
fn s6_compliant_multi_attribute_replace() {
    let out = on_user(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "k.okafor@fabrikam.example"},
            {
                "op": "replace",
                "value": {
                    "displayName": "Kemi Okafor",
                    "name.givenName": "Kemi",
                    "name.familyName": "Okafor",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E-5120"
                }
            }
        ]
    }));
    let r = &out.resource;
    assert_eq!(r["emails"][0]["value"], "k.okafor@fabrikam.example");
    assert_eq!(r["displayName"], "Kemi Okafor");
    assert_eq!(
        r["name"],
        json!({"formatted": "Nora Lind", "givenName": "Kemi", "familyName": "Okafor"})
    );
    assert_eq!(r[ENT]["employeeNumber"], "E-5120");
    assert_eq!(r[ENT]["department"], "Finance");
    assert!(r.get("name.givenName").is_none());
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        [
            "displayName",
            "emails",
            "name.familyName",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
        ]
    );
}

#[test]
fn s6_legacy_six_replace_ops() {
    let out = on_user(legacy_six());
    let r = &out.resource;
    assert_eq!(r["displayName"], "Kemi Okafor");
    assert_eq!(r["emails"][0]["value"], "k.okafor@fabrikam.example");
    assert_eq!(r["name"]["givenName"], "Kemi");
    assert_eq!(r["name"]["familyName"], "Okafor");
    assert_eq!(r["externalId"], "5e1c2a7b");
    assert_eq!(r[ENT]["employeeNumber"], "E-5120");
    assert_eq!(out.changes.attributes.len(), 6);
    // The compliant request above and this legacy one give the same user.
    let compliant = on_user(json!({"Operations": [
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "k.okafor@fabrikam.example"},
        {"op": "replace", "value": {
            "displayName": "Kemi Okafor", "name.givenName": "Kemi", "name.familyName": "Okafor",
            "externalId": "5e1c2a7b",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E-5120"
        }}
    ]}));
    assert_eq!(compliant.resource, out.resource);
}

pub fn legacy_six() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Kemi Okafor"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "k.okafor@fabrikam.example"},
            {"op": "Replace", "path": "name.givenName", "value": "Kemi"},
            {"op": "Replace", "path": "name.familyName", "value": "Okafor"},
            {"op": "Replace", "path": "externalId", "value": "5e1c2a7b"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E-5120"}
        ]
    })
}

#[test]
fn s6_single_value_add_legacy_and_compliant() {
    for op in ["Add", "add"] {
        let out = on_user(json!({"Operations": [{"op": op, "path": "nickName", "value": "Kem"}]}));
        assert_eq!(out.resource["nickName"], "Kem");
    }
}

#[test]
fn s6_compliant_member_removal() {
    let out = on_group(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{U2}\"]")}]
    }));
    assert_eq!(ids(&out.changes.members_removed), [U2]);
    assert!(!out.changes.members_cleared);
}

#[test]
fn okta_pathless_deactivation() {
    let out = on_user(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    }));
    assert_eq!(out.resource["active"], json!(false));
    assert_eq!(out.changes.active_changed, Some(false));
}

#[test]
fn okta_group_membership_update() {
    let g = group();
    let out = on_group(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "value": {"id": g["id"], "displayName": "Finance Vault Users"}},
            {"op": "remove", "path": format!("members[value eq \"{U1}\"]")},
            {"op": "add", "path": "members", "value": [{"value": U2, "display": "kemi@fabrikam.example"}]}
        ]
    }));
    assert_eq!(ids(&out.changes.members_removed), [U1]);
    assert_eq!(ids(&out.changes.members_added), [U2]);
    assert_eq!(out.resource, g);
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        ["members"]
    );
}

#[test]
fn okta_full_members_replace() {
    let out = on_group(json!({"Operations": [
        {"op": "replace", "path": "members", "value": [{"value": U1, "display": "a"}]}
    ]}));
    assert!(out.changes.members_cleared);
    assert_eq!(ids(&out.changes.members_added), [U1]);
}

//! Fixtures and helpers.

use scim_model::ScimType;
use scim_model::messages::PatchRequest;
use scim_model::schema::{GROUP, ResourceType, USER};
use scim_patch::{Outcome, PatchError};
use serde_json::{Value, json};

pub const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PROV: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User";

/// A realistic stored user (what a create from Entra ID stores, plus the product extension).
pub fn user() -> Value {
    json!({
        "id": "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10",
        "externalId": "b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31",
        "userName": "nora.lind@fabrikam.example",
        "active": true,
        "displayName": "Nora Lind",
        "name": {"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora"},
        "title": "Controller",
        "emails": [
            {"value": "nora.lind@fabrikam.example", "type": "work", "primary": true},
            {"value": "nora@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"type": "mobile", "value": "+46 70 555 01 23"}],
        ENT: {
            "employeeNumber": "E-4411",
            "department": "Finance",
            "manager": {"value": "m-100"}
        },
        PROV: {"status": "Staged", "requireMobileAuth": true},
        "meta": {
            "resourceType": "User",
            "created": "2026-11-02T09:14:07Z",
            "lastModified": "2026-11-02T09:14:07Z",
            "version": "W/\"1\""
        }
    })
}

/// A stored group, without members (they are never materialised).
pub fn group() -> Value {
    json!({
        "id": "c51e0f77-6a2b-4d3e-9f10-2b8a7c6d5e41",
        "externalId": "3d9c41a0-8e62-4f0b-b1c7-59e0d2a4f688",
        "displayName": "Finance Vault Users",
        "meta": {"resourceType": "Group", "version": "W/\"3\""}
    })
}

/// A PatchOp body with these operations.
pub fn req(ops: Value) -> PatchRequest {
    serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    }))
    .unwrap()
}

/// A full request body as sent on the wire.
pub fn body(b: Value) -> PatchRequest {
    serde_json::from_value(b).unwrap()
}

pub fn ok_on(rt: &ResourceType, res: &Value, ops: Value) -> Outcome {
    match scim_patch::apply(res, rt, &req(ops.clone())) {
        Ok(o) => o,
        Err(e) => panic!("PATCH {ops} failed: {e}"),
    }
}

pub fn err_on(rt: &ResourceType, res: &Value, ops: Value) -> PatchError {
    match scim_patch::apply(res, rt, &req(ops.clone())) {
        Ok(o) => panic!("PATCH {ops} succeeded: {:?}", o.changes),
        Err(e) => e,
    }
}

pub fn ok_user(ops: Value) -> Outcome {
    ok_on(&USER, &user(), ops)
}
pub fn err_user(ops: Value) -> PatchError {
    err_on(&USER, &user(), ops)
}
pub fn ok_group(ops: Value) -> Outcome {
    ok_on(&GROUP, &group(), ops)
}
pub fn err_group(ops: Value) -> PatchError {
    err_on(&GROUP, &group(), ops)
}

pub fn assert_err(e: &PatchError, t: ScimType, op: Option<usize>) {
    assert_eq!(e.scim_type(), t, "{e}");
    assert_eq!(e.operation(), op, "{e}");
}

pub fn ids(s: &std::collections::BTreeSet<String>) -> Vec<&str> {
    s.iter().map(String::as_str).collect()
}

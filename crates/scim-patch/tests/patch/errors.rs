//! Mutability, invalid paths and filters, limits, member values, password, and
//! "deactivation wins".

use scim_model::ScimError;
use scim_model::ScimType;
use scim_model::schema::{GROUP, USER};
use scim_patch::PatchLimits;
use serde_json::json;

use crate::common::*;

#[test]
fn read_only_changes_are_mutability_equal_values_ignored() {
    for op in [
        json!({"op": "replace", "path": "id", "value": "x"}),
        json!({"op": "remove", "path": "id"}),
        json!({"op": "replace", "path": "meta.version", "value": "W/\"9\""}),
        json!({"op": "replace", "value": {"meta": {"lastModified": "2030-01-01T00:00:00Z"}}}),
        json!({"op": "add", "path": "groups", "value": [{"value": "g1"}]}),
        json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:status", "value": "Active"}),
        json!({"op": "replace", "value": {PROV: {"mobileDeviceEnrolled": true}}}),
    ] {
        let e = err_user(json!([op.clone()]));
        assert_err(&e, ScimType::Mutability, Some(0));
    }
    let u = user();
    let out = ok_user(json!([
        {"op": "replace", "path": "id", "value": u["id"]},
        {"op": "replace", "path": "meta.version", "value": "W/\"1\""},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:status", "value": "Staged"},
        {"op": "add", "path": "groups", "value": []},
        {"op": "replace", "value": {PROV: {"requireMobileAuth": "false"}}}
    ]));
    assert_eq!(
        out.resource[PROV],
        json!({"status": "Staged", "requireMobileAuth": false})
    );
    assert_eq!(out.changes.attributes.len(), 1);
    // Removing the whole product extension keeps its read-only status.
    let out = ok_user(json!([{"op": "remove", "path": PROV}]));
    assert_eq!(out.resource[PROV], json!({"status": "Staged"}));
}

#[test]
fn members_sub_attributes_are_immutable() {
    let e = err_group(json!([{"op": "replace", "path": "members.value", "value": "x"}]));
    assert_err(&e, ScimType::Mutability, Some(0));
    let e = err_group(json!([{"op": "remove", "path": "members[value eq \"u1\"].display"}]));
    assert_err(&e, ScimType::Mutability, Some(0));
}

#[test]
fn unknown_paths_are_invalid_path() {
    for path in [
        "nope",
        "name.nope",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope",
        "emails[",
        "a.b.c",
        "title[value eq \"x\"]",
    ] {
        let e = err_user(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_err(&e, ScimType::InvalidPath, Some(0));
    }
    let e = err_user(json!([{"op": "add", "value": {"nickName": "a", "shoeSize": 44}}]));
    assert_err(&e, ScimType::InvalidPath, Some(0));
    // Group attributes are not user attributes.
    let e = err_user(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]));
    assert_err(&e, ScimType::InvalidPath, Some(0));
}

#[test]
fn bad_filters_are_invalid_filter() {
    for path in [
        "emails[shoe eq \"x\"].value",
        "emails[primary gt true]",
        "manager[displayName eq 5]",
    ] {
        let e = err_user(json!([{"op": "remove", "path": path}]));
        assert_err(&e, ScimType::InvalidFilter, Some(0));
    }
}

#[test]
fn wrong_types_are_invalid_value() {
    for op in [
        json!({"op": "replace", "path": "title", "value": 5}),
        json!({"op": "replace", "path": "name", "value": [1, 2]}),
        json!({"op": "replace", "path": "emails[type eq \"work\"].value", "value": {"x": 1}}),
        json!({"op": "add", "path": "title"}),
        json!({"op": "replace", "value": "not an object"}),
    ] {
        let e = err_user(json!([op]));
        assert_err(&e, ScimType::InvalidValue, Some(0));
    }
}

#[test]
fn empty_operations_is_invalid_syntax() {
    let e = scim_patch::apply(&user(), &USER, &req(json!([]))).unwrap_err();
    assert_err(&e, ScimType::InvalidSyntax, None);
}

#[test]
fn limits_are_too_many() {
    let limits = PatchLimits {
        max_operations: 2,
        max_values_per_operation: 3,
    };
    let three = req(json!([
        {"op": "add", "path": "nickName", "value": "a"},
        {"op": "add", "path": "nickName", "value": "b"},
        {"op": "add", "path": "nickName", "value": "c"}
    ]));
    let e = scim_patch::apply_with(&user(), &USER, &three, limits).unwrap_err();
    assert_err(&e, ScimType::TooMany, None);
    let many = req(json!([{"op": "add", "path": "members", "value": [
        {"value": "1"}, {"value": "2"}, {"value": "3"}, {"value": "4"}
    ]}]));
    let e = scim_patch::apply_with(&group(), &GROUP, &many, limits).unwrap_err();
    assert_err(&e, ScimType::TooMany, Some(0));
    assert!(scim_patch::apply_with(&group(), &GROUP, &many, PatchLimits::default()).is_ok());
    assert_eq!(PatchLimits::default().max_operations, 1000);
    assert_eq!(PatchLimits::default().max_values_per_operation, 10_000);
}

#[test]
fn nested_groups_and_bad_members_are_invalid_value() {
    for v in [
        json!([{"value": "g1", "type": "Group"}]),
        json!([{"value": "g1", "type": "group"}]),
        json!([{"value": "g1", "$ref": "https://scim.example.net/v2/Groups/g1"}]),
        json!([{"display": "no id"}]),
        json!([{"value": 42}]),
        json!([null]),
    ] {
        let e = err_group(json!([{"op": "add", "path": "members", "value": v.clone()}]));
        assert_err(&e, ScimType::InvalidValue, Some(0));
    }
    // Nothing of such a request applies.
    let e = err_group(json!([
        {"op": "replace", "path": "displayName", "value": "X"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "g1", "type": "Group"}]}
    ]));
    assert_eq!(e.operation(), Some(1));
    assert!(e.deactivation().is_none());
    assert!(e.detail().contains("nested groups"));
}

#[test]
fn password_is_reported_never_stored() {
    let out = ok_user(json!([{"op": "replace", "path": "password", "value": "t0p-s3cret"}]));
    assert!(out.changes.password_set);
    assert!(!out.changes.changed);
    assert!(!out.resource.to_string().contains("t0p-s3cret"));
    let out = ok_user(json!([{"op": "replace", "value": {"password": "x", "title": "T"}}]));
    assert!(out.changes.password_set);
    assert!(out.resource.get("password").is_none());
}

#[test]
fn no_op_patch_changes_nothing() {
    let u = user();
    let out = ok_user(json!([
        {"op": "Replace", "path": "userName", "value": "nora.lind@fabrikam.example"},
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nora.lind@fabrikam.example"},
        {"op": "replace", "value": {"name.givenName": "Nora", "id": u["id"]}}
    ]));
    assert!(!out.changes.changed);
    assert!(out.changes.attributes.is_empty());
    assert_eq!(out.changes.active_changed, None);
    assert_eq!(out.resource, u);
}

// ---- deactivation wins ----------------------------------------------------------------

#[test]
fn deactivation_wins_in_every_form() {
    let bad = json!({"op": "replace", "path": "nope", "value": 1});
    for deact in [
        json!({"op": "Replace", "path": "active", "value": "False"}),
        json!({"op": "replace", "path": "ACTIVE", "value": false}),
        json!({"op": "add", "path": "active", "value": "false"}),
        json!({"op": "replace", "value": {"active": false}}),
        json!({"op": "replace", "value": {"Active": "FALSE", "displayName": null, "userName": null}}),
        json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": false}),
        json!({"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"active": false}}}),
        json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User", "value": {"active": false}}),
    ] {
        let e = err_user(
            json!([{"op": "replace", "path": "title", "value": "CFO"}, deact.clone(), bad.clone()]),
        );
        // The first rejected operation is named (the deactivating op itself may
        // carry a rejected part, as `userName: null` does).
        assert!(matches!(e.operation(), Some(1 | 2)), "{deact}");
        let d = e
            .deactivation()
            .unwrap_or_else(|| panic!("no deactivation for {deact}"));
        assert_eq!(d.operations, [1]);
        let mut want = user();
        want["active"] = json!(false);
        assert_eq!(d.outcome.resource, want, "only active changes: {deact}");
        assert_eq!(d.outcome.changes.active_changed, Some(false));
        let scim = ScimError::from(e);
        assert_eq!(scim.status, 400);
        let detail = scim.detail.unwrap();
        assert!(
            detail.contains("Operations[1]") && detail.contains("applied on its own"),
            "{detail}"
        );
    }
}

#[test]
fn deactivation_does_not_win_when_not_the_last_word() {
    let e = err_user(json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "active", "value": true},
        {"op": "replace", "path": "nope", "value": 1}
    ]));
    assert!(e.deactivation().is_none());
    let e = err_user(json!([
        {"op": "replace", "path": "active", "value": "maybe"},
        {"op": "replace", "path": "title", "value": 1}
    ]));
    assert!(e.deactivation().is_none());
    // Already inactive: the deactivation outcome is a no-op.
    let mut u = user();
    u["active"] = json!(false);
    let e = err_on(
        &USER,
        &u,
        json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "nope", "value": 1}
        ]),
    );
    assert!(!e.deactivation().unwrap().outcome.changes.changed);
}

#[test]
fn deactivation_survives_limits() {
    let limits = PatchLimits {
        max_operations: 1,
        max_values_per_operation: 10,
    };
    let r = req(json!([
        {"op": "replace", "path": "active", "value": "False"},
        {"op": "replace", "path": "title", "value": "x"}
    ]));
    let e = scim_patch::apply_with(&user(), &USER, &r, limits).unwrap_err();
    assert_eq!(e.scim_type(), ScimType::TooMany);
    assert_eq!(
        e.deactivation().unwrap().outcome.resource["active"],
        json!(false)
    );
}

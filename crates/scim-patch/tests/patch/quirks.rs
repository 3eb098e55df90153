//! One test per Entra ID / Okta quirk that reaches the PATCH engine, numbered as in
//! `docs/patch.md` ("Quirks").
//! Each fails if the quirk handling is removed.

use scim_model::ScimType;
use scim_model::schema::{GROUP, USER};
use serde_json::json;

use crate::common::*;

/// Quirk 1: Capitalised (and any-case) ops.
#[test]
fn q01_op_in_any_letter_case() {
    for op in ["Replace", "replace", "REPLACE", "rEpLaCe"] {
        let out = ok_user(json!([{"op": op, "path": "title", "value": "CFO"}]));
        assert_eq!(out.resource["title"], "CFO");
    }
    let out = ok_user(json!([{"op": "Remove", "path": "title"}]));
    assert!(out.resource.get("title").is_none());
    let out = ok_user(json!([{"op": "Add", "path": "nickName", "value": "N"}]));
    assert_eq!(out.resource["nickName"], "N");
}

/// Quirk 2: Booleans as strings: any case accepted, anything else 400 invalidValue.
#[test]
fn q02_string_booleans() {
    for (v, want) in [
        (json!("False"), false),
        (json!("false"), false),
        (json!("FALSE"), false),
        (json!(false), false),
        (json!("True"), true),
        (json!("tRuE"), true),
    ] {
        let mut u = user();
        u["active"] = json!(!want);
        let out = ok_on(
            &USER,
            &u,
            json!([{"op": "Replace", "path": "active", "value": v}]),
        );
        assert_eq!(out.resource["active"], json!(want), "{v}");
        assert_eq!(out.changes.active_changed, Some(want));
    }
    for v in [
        json!("0"),
        json!("no"),
        json!(""),
        json!(null),
        json!(0),
        json!("yes"),
        json!([]),
    ] {
        let e = err_user(json!([{"op": "Replace", "path": "active", "value": v}]));
        assert_err(&e, ScimType::InvalidValue, Some(0));
        assert!(
            e.deactivation().is_none(),
            "{v} is not a valid deactivation"
        );
    }
    // Garbage never reactivates a suspended user.
    let mut u = user();
    u["active"] = json!(false);
    let e = err_on(
        &USER,
        &u,
        json!([{"op": "replace", "value": {"active": "yes please"}}]),
    );
    assert_err(&e, ScimType::InvalidValue, Some(0));
    // Other boolean attributes too, and `primary eq "True"` in a role path.
    let out = ok_user(json!([
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:automaticInvitation", "value": "True"},
        {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}
    ]));
    assert_eq!(out.resource[PROV]["automaticInvitation"], json!(true));
    assert_eq!(
        out.resource["roles"],
        json!([{"primary": true, "value": "Admin"}])
    );
}

/// Quirk 3: Path-less replace with plain, dotted and URN-qualified keys; read-only keys
/// equal to the current value are ignored.
#[test]
fn q03_pathless_keys_and_equal_read_only() {
    let u = user();
    let out = ok_user(json!([{"op": "replace", "value": {
        "id": u["id"],
        "meta": {"resourceType": "User"},
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "DisplayName": "N. Lind",
        "name.GivenName": "Norah",
        "urn:ietf:params:scim:schemas:core:2.0:User:title": "CFO",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Treasury",
        ENT: {"costCenter": "CC-9"},
        "name": {"middleName": "K"}
    }}]));
    let r = &out.resource;
    assert_eq!(r["displayName"], "N. Lind");
    assert_eq!(r["name"]["givenName"], "Norah");
    assert_eq!(r["name"]["middleName"], "K");
    assert_eq!(r["title"], "CFO");
    assert_eq!(r[ENT]["department"], "Treasury");
    assert_eq!(r[ENT]["costCenter"], "CC-9");
    assert_eq!(r["id"], u["id"]);
    assert_eq!(r["meta"], u["meta"]);
    // A different id is a change to a read-only attribute.
    let e = err_user(json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]));
    assert_err(&e, ScimType::Mutability, Some(0));
}

/// Quirk 4: A filtered path to an element that does not exist creates it; several ops for
/// the same type merge into one element; other elements stay.
#[test]
fn q04_filtered_path_creates_and_merges() {
    let out = ok_user(json!([
        {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+46 8 555 00 00"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "111 22"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Stockholm"},
        {"op": "Replace", "path": "emails[type eq \"other\"].value", "value": "n@other.example"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nl@fabrikam.example"}
    ]));
    let r = &out.resource;
    assert_eq!(
        r["phoneNumbers"],
        json!([
            {"type": "mobile", "value": "+46 70 555 01 23"},
            {"type": "work", "value": "+46 8 555 00 00"}
        ])
    );
    assert_eq!(
        r["addresses"],
        json!([{"type": "work", "postalCode": "111 22", "locality": "Stockholm"}])
    );
    assert_eq!(
        r["emails"],
        json!([
            {"value": "nl@fabrikam.example", "type": "work", "primary": true},
            {"value": "nora@home.example", "type": "home"},
            {"value": "n@other.example", "type": "other"}
        ])
    );
    // The same request again is a no-op.
    let again = scim_patch::apply(
        r,
        &USER,
        &req(json!([{"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "111 22"}])),
    )
    .unwrap();
    assert!(!again.changes.changed);
}

/// Quirk 5: Remove of `members` with a value array removes exactly those ids.
#[test]
fn q05_member_removal_with_value_array() {
    let out = ok_group(json!([{"op": "Remove", "path": "members", "value": [
        {"$ref": null, "value": "u1"}, {"value": "u2"}
    ]}]));
    assert_eq!(ids(&out.changes.members_removed), ["u1", "u2"]);
    assert!(!out.changes.members_cleared);
    // An empty list removes nothing (and never everything).
    let out = ok_group(json!([{"op": "Remove", "path": "members", "value": []}]));
    assert!(!out.changes.members_cleared);
    assert!(!out.changes.changed);
    // Only a bare remove clears.
    let out = ok_group(json!([{"op": "Remove", "path": "members"}]));
    assert!(out.changes.members_cleared);
    // An unparseable removal is a 400, never a wider removal (§10.4.7).
    for v in [
        json!([{"display": "x"}]),
        json!(null),
        json!([42]),
        json!({"value": ""}),
    ] {
        let e = err_group(json!([{"op": "Remove", "path": "members", "value": v}]));
        assert_err(&e, ScimType::InvalidValue, Some(0));
    }
}

/// Quirk 6: Member removal via a filter path; a non-member is a no-op success.
#[test]
fn q06_member_removal_by_filter() {
    let out = ok_group(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "remove", "path": "members[value eq \"u2\" or value eq \"u3\"]"}
    ]));
    assert_eq!(ids(&out.changes.members_removed), ["u1", "u2", "u3"]);
    assert!(!out.changes.members_cleared);
    // A filter the engine cannot turn into ids is rejected, never widened.
    let e = err_group(json!([{"op": "remove", "path": "members[display co \"a\"]"}]));
    assert_err(&e, ScimType::InvalidFilter, Some(0));
}

/// Quirk 7: Redundant adds are idempotent; add/remove of one id in one request net out.
#[test]
fn q07_redundant_adds_and_netting() {
    let out = ok_group(json!([
        {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u1"}]},
        {"op": "Add", "path": "members", "value": [{"value": "u1"}]}
    ]));
    assert_eq!(ids(&out.changes.members_added), ["u1"]);
    let out = ok_group(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": "members[value eq \"u1\"]"}
    ]));
    assert_eq!(ids(&out.changes.members_added), ["u2"]);
    assert_eq!(ids(&out.changes.members_removed), ["u1"]);
    let out = ok_group(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}]}
    ]));
    assert_eq!(ids(&out.changes.members_added), ["u1"]);
    assert!(out.changes.members_removed.is_empty());
    // A redundant user attribute add writes nothing.
    let out = ok_user(json!([{"op": "Add", "path": "emails", "value": [
        {"value": "nora.lind@fabrikam.example", "type": "work"}
    ]}]));
    assert!(!out.changes.changed);
    assert_eq!(out.resource, user());
}

/// Quirk 8: `"$ref": null` inside member values (and in manager) is accepted.
#[test]
fn q08_null_ref() {
    let out = ok_group(
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
    );
    assert_eq!(ids(&out.changes.members_added), ["u1"]);
    let out = ok_user(
        json!([{"op": "Add", "path": "manager", "value": {"$ref": null, "value": "m-200"}}]),
    );
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "m-200"}));
}

/// Quirk 10: Extension data recognised by key or path, not by `schemas`; other vendors'
/// schema URNs ignored.
#[test]
fn q10_extension_by_key_and_unknown_urns() {
    let mut u = user();
    u.as_object_mut().unwrap().remove(ENT);
    let out = ok_on(
        &USER,
        &u,
        json!([
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", "value": "CC-1"},
            {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"division": "North"}}},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomApp:2.0:User:badge", "value": "x"},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:CustomApp:2.0:User": {"badge": "x"}}},
            {"op": "replace", "value": {"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {"x": 1}}}
        ]),
    );
    assert_eq!(
        out.resource[ENT],
        json!({"costCenter": "CC-1", "division": "North"})
    );
    assert!(
        out.resource
            .get("urn:ietf:params:scim:schemas:extension:CustomApp:2.0:User")
            .is_none()
    );
    // URNs are case-insensitive; the canonical URN is written.
    let out = ok_user(
        json!([{"op": "Replace", "path": "URN:IETF:params:scim:schemas:extension:ENTERPRISE:2.0:User:Department", "value": "Legal"}]),
    );
    assert_eq!(out.resource[ENT]["department"], "Legal");
}

/// Quirk 11: Enterprise manager as a bare string, an object or a one-element array; removal
/// by a filter on this single-valued attribute or by replace to empty.
#[test]
fn q11_manager_shapes_and_removal() {
    for v in [
        json!("m-200"),
        json!({"value": "m-200"}),
        json!([{"$ref": null, "value": "m-200"}]),
    ] {
        let out = ok_user(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": v}]),
        );
        assert_eq!(
            out.resource[ENT]["manager"],
            json!({"value": "m-200"}),
            "{v}"
        );
    }
    // Removal by filter: the current manager, another manager, no manager.
    let out = ok_user(json!([{"op": "remove", "path": "manager[value eq \"m-100\"]"}]));
    assert!(out.resource[ENT].get("manager").is_none());
    assert_eq!(out.resource[ENT]["department"], "Finance");
    let out = ok_user(
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m-999\"]"}]),
    );
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "m-100"}));
    assert!(!out.changes.changed);
    let out = ok_on(
        &USER,
        &out.resource.clone(),
        json!([{"op": "remove", "path": "manager"}]),
    );
    let again = ok_on(
        &USER,
        &out.resource,
        json!([{"op": "remove", "path": "manager[value eq \"m-100\"]"}]),
    );
    assert!(!again.changes.changed);
    // Removal by replace to empty (the Validator), and Remove with a value.
    for v in [
        json!(""),
        json!(null),
        json!({}),
        json!({"value": ""}),
        json!([]),
    ] {
        let out = ok_user(json!([{"op": "replace", "path": "manager", "value": v}]));
        assert!(out.resource[ENT].get("manager").is_none(), "{v}");
    }
    let out = ok_user(json!([{"op": "Remove", "path": "manager", "value": "m-100"}]));
    assert!(out.resource[ENT].get("manager").is_none());
    let out = ok_user(json!([{"op": "Remove", "path": "manager", "value": [{"value": "m-999"}]}]));
    assert_eq!(out.resource[ENT]["manager"], json!({"value": "m-100"}));
}

/// Quirk 12: What Entra/Okta bundle with a deactivation cannot make it fail.
#[test]
fn q12_deactivation_with_bundled_manager_removal() {
    let out = ok_user(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "remove", "path": "manager[value eq \"m-100\"]"},
        {"op": "Add", "path": "roles", "value": []},
        {"op": "replace", "value": {"id": user()["id"]}}
    ]));
    assert_eq!(out.resource["active"], json!(false));
    assert!(out.resource[ENT].get("manager").is_none());
}

/// Quirk 13/18: Values are stored exactly as sent (no reformatting), so the echo matches.
#[test]
fn q13_exact_round_trip() {
    let out = ok_user(json!([
        {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+46 (0)70-555 01 99"},
        {"op": "Replace", "path": "displayName", "value": "NoRa  LiND "}
    ]));
    assert_eq!(
        out.resource["phoneNumbers"][0]["value"],
        "+46 (0)70-555 01 99"
    );
    assert_eq!(out.resource["displayName"], "NoRa  LiND ");
}

/// Quirk 14: Roles: `[]` ignored; stringified JSON values stored as the strings they are.
#[test]
fn q14_roles() {
    let out = ok_user(json!([{"op": "Add", "path": "roles", "value": []}]));
    assert!(!out.changes.changed);
    let out = ok_user(json!([{"op": "replace", "value": {"roles": []}}]));
    assert!(!out.changes.changed);
    let role = "{\"id\":\"3f2a\",\"value\":\"Admin\",\"displayName\":\"Admin\"}";
    let out = ok_user(json!([{"op": "Add", "path": "roles", "value": [{"value": role}]}]));
    assert_eq!(out.resource["roles"], json!([{"value": role}]));
}

/// Quirk 15: Attribute names in any case; canonical camelCase written.
#[test]
fn q15_attribute_name_case() {
    let mut u = user();
    u["addresses"] = json!([{"type": "other", "formatted": "old"}]);
    let out = ok_on(
        &USER,
        &u,
        json!([
            {"op": "Replace", "path": "emails[Type eq \"work\"].Value", "value": "a@fabrikam.example"},
            {"op": "Replace", "path": "addresses[type eq \"other\"].Formatted", "value": "new"},
            {"op": "Replace", "path": "USERNAME", "value": "A@fabrikam.example"},
            {"op": "Replace", "path": "NAME.GIVENNAME", "value": "A"}
        ]),
    );
    let r = &out.resource;
    assert_eq!(r["emails"][0]["value"], "a@fabrikam.example");
    assert_eq!(
        r["addresses"],
        json!([{"type": "other", "formatted": "new"}])
    );
    assert_eq!(r["userName"], "A@fabrikam.example");
    assert_eq!(r["name"]["givenName"], "A");
    assert!(r.get("USERNAME").is_none());
}

/// Quirk 19: `null` or `""` on an optional attribute removes it; on a required one, 400.
#[test]
fn q19_nulls_and_empty_strings() {
    for v in [json!(""), json!(null)] {
        let out = ok_user(json!([
            {"op": "replace", "path": "title", "value": v},
            {"op": "add", "path": "displayName", "value": v},
            {"op": "replace", "path": "name.formatted", "value": v},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": v}},
            {"op": "replace", "path": "emails[type eq \"home\"].value", "value": v}
        ]));
        let r = &out.resource;
        assert!(
            r.get("title").is_none() && r.get("displayName").is_none(),
            "{v}"
        );
        assert!(r["name"].get("formatted").is_none());
        assert!(r[ENT].get("department").is_none());
        assert_eq!(
            r["emails"].as_array().unwrap().len(),
            1,
            "an email without value goes"
        );
        let e = err_user(json!([{"op": "replace", "path": "userName", "value": v}]));
        assert_err(&e, ScimType::InvalidValue, Some(0));
        let e = err_on(
            &GROUP,
            &group(),
            json!([{"op": "replace", "value": {"displayName": v}}]),
        );
        assert_err(&e, ScimType::InvalidValue, Some(0));
    }
    let e = err_user(json!([{"op": "remove", "path": "userName"}]));
    assert_err(&e, ScimType::InvalidValue, Some(0));
}

//! Every example of RFC 7644 §3.5.2, plus the base semantics it defines.

use scim_model::ScimType;
use scim_model::schema::USER;
use serde_json::json;

use crate::common::*;

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";

// ---- §3.5.2.1 add ---------------------------------------------------------------------

#[test]
fn rfc_add_member_to_group() {
    let out = ok_group(json!([{
        "op": "add",
        "path": "members",
        "value": [{
            "display": "Babs Jensen",
            "$ref": format!("https://example.com/v2/Users/{BABS}"),
            "value": BABS
        }]
    }]));
    assert_eq!(ids(&out.changes.members_added), [BABS]);
    assert!(out.changes.members_removed.is_empty());
    assert!(!out.changes.members_cleared);
    assert!(out.changes.changed);
    assert!(out.changes.attributes.contains("members"));
    // The group document never holds members.
    assert_eq!(out.resource, group());
}

#[test]
fn rfc_pathless_add_appends_email_and_sets_nickname() {
    let out = ok_user(json!([{
        "op": "add",
        "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }
    }]));
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(
        emails[2],
        json!({"value": "babs@jensen.org", "type": "home"})
    );
    assert_eq!(emails[0], user()["emails"][0]);
    assert_eq!(out.resource["nickName"], "Babs");
    assert!(out.resource.get("nickname").is_none());
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        ["emails", "nickName"]
    );
}

#[test]
fn add_single_valued_sets_and_complex_merges() {
    let out = ok_user(json!([
        {"op": "add", "path": "title", "value": "CFO"},
        {"op": "add", "path": "name", "value": {"middleName": "K"}}
    ]));
    assert_eq!(out.resource["title"], "CFO");
    assert_eq!(
        out.resource["name"],
        json!({"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora", "middleName": "K"})
    );
    assert!(out.changes.attributes.contains("name.middleName"));
}

#[test]
fn add_existing_multi_value_is_not_duplicated() {
    let out = ok_user(json!([{
        "op": "add", "path": "emails",
        "value": [{"value": "NORA@home.example", "type": "home"}]
    }]));
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 2);
    assert!(!out.changes.changed);
}

#[test]
fn add_primary_clears_the_other_primary() {
    let out = ok_user(json!([{
        "op": "add", "path": "emails",
        "value": [{"value": "n@other.example", "type": "other", "primary": true}]
    }]));
    let emails = out.resource["emails"].as_array().unwrap();
    let primaries: Vec<_> = emails
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "n@other.example");
    assert_eq!(emails[0]["primary"], json!(false));
}

#[test]
fn replace_primary_by_filter_clears_the_other_primary() {
    let out = ok_user(json!([{
        "op": "replace", "path": "emails[type eq \"home\"].primary", "value": true
    }]));
    assert_eq!(out.resource["emails"][1]["primary"], json!(true));
    assert_eq!(out.resource["emails"][0]["primary"], json!(false));
}

// ---- §3.5.2.2 remove ------------------------------------------------------------------

#[test]
fn rfc_remove_one_member_by_filter() {
    let out = ok_group(json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]));
    assert_eq!(ids(&out.changes.members_removed), [BABS]);
    assert!(!out.changes.members_cleared);
}

#[test]
fn rfc_remove_all_members() {
    let out = ok_group(json!([{"op": "remove", "path": "members"}]));
    assert!(out.changes.members_cleared);
    assert!(out.changes.changed);
}

#[test]
fn rfc_remove_by_complex_filter() {
    let out = ok_user(json!([{
        "op": "remove",
        "path": "emails[type eq \"work\" and value ew \"example\"]"
    }]));
    assert_eq!(
        out.resource["emails"],
        json!([{"value": "nora@home.example", "type": "home"}])
    );
}

#[test]
fn rfc_remove_all_members_then_add() {
    let out = ok_group(json!([
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [
            {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS},
            {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
        ]}
    ]));
    assert!(out.changes.members_cleared);
    assert_eq!(ids(&out.changes.members_added), ["08e1d05d", BABS]);
}

#[test]
fn remove_single_attribute_and_sub_attribute() {
    let out = ok_user(json!([
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.formatted"}
    ]));
    assert!(out.resource.get("title").is_none());
    assert_eq!(
        out.resource["name"],
        json!({"familyName": "Lind", "givenName": "Nora"})
    );
    // Removing what is absent is not an error and changes nothing.
    let again = scim_patch::apply(
        &out.resource,
        &USER,
        &req(json!([{"op": "remove", "path": "title"}])),
    )
    .unwrap();
    assert!(!again.changes.changed);
}

#[test]
fn remove_without_path_is_no_target() {
    let e = err_user(json!([{"op": "remove"}]));
    assert_err(&e, ScimType::NoTarget, Some(0));
}

#[test]
fn remove_by_filter_matching_nothing_is_no_target() {
    let e = err_user(json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]));
    assert_err(&e, ScimType::NoTarget, Some(0));
}

// ---- §3.5.2.3 replace -----------------------------------------------------------------

#[test]
fn rfc_replace_all_members() {
    let out = ok_group(json!([{
        "op": "replace", "path": "members",
        "value": [
            {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS},
            {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
        ]
    }]));
    assert!(out.changes.members_cleared);
    assert_eq!(ids(&out.changes.members_added), ["08e1d05d", BABS]);
}

#[test]
fn rfc_replace_whole_element_by_filter() {
    let mut u = user();
    u["addresses"] = json!([
        {"type": "work", "streetAddress": "100 Old St", "locality": "Hollywood", "primary": true},
        {"type": "home", "streetAddress": "1 Home Rd"}
    ]);
    let out = ok_on(
        &USER,
        &u,
        json!([{
            "op": "replace",
            "path": "addresses[type eq \"work\"]",
            "value": {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true
            }
        }]),
    );
    assert_eq!(
        out.resource["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(out.resource["addresses"][0]["postalCode"], "91608");
    assert_eq!(
        out.resource["addresses"][1],
        json!({"type": "home", "streetAddress": "1 Home Rd"})
    );
}

#[test]
fn rfc_replace_sub_attribute_by_filter() {
    let mut u = user();
    u["addresses"] =
        json!([{"type": "work", "streetAddress": "100 Old St", "locality": "Hollywood"}]);
    let out = ok_on(
        &USER,
        &u,
        json!([{
            "op": "replace",
            "path": "addresses[type eq \"work\"].streetAddress",
            "value": "1010 Broadway Ave"
        }]),
    );
    assert_eq!(
        out.resource["addresses"],
        json!([{"type": "work", "streetAddress": "1010 Broadway Ave", "locality": "Hollywood"}])
    );
}

#[test]
fn rfc_pathless_replace_emails_and_nickname() {
    let out = ok_user(json!([{
        "op": "replace",
        "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickname": "Babs"
        }
    }]));
    assert_eq!(
        out.resource["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    assert_eq!(out.resource["nickName"], "Babs");
}

#[test]
fn replace_complex_keeps_unmentioned_sub_attributes() {
    let out = ok_user(json!([{"op": "replace", "path": "name", "value": {"givenName": "Nor"}}]));
    assert_eq!(
        out.resource["name"],
        json!({"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nor"})
    );
    assert_eq!(
        out.changes.attributes.iter().collect::<Vec<_>>(),
        ["name.givenName"]
    );
}

#[test]
fn replace_multi_valued_without_filter_replaces_all() {
    let out = ok_user(
        json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "+1 555", "type": "work"}]}]),
    );
    assert_eq!(
        out.resource["phoneNumbers"],
        json!([{"value": "+1 555", "type": "work"}])
    );
}

#[test]
fn replace_with_two_primaries_is_invalid() {
    let e = err_user(json!([{"op": "replace", "path": "emails", "value": [
        {"value": "a@x.example", "primary": true},
        {"value": "b@x.example", "primary": true}
    ]}]));
    assert_err(&e, ScimType::InvalidValue, Some(0));
}

#[test]
fn ops_apply_in_order_and_atomically() {
    // The second op fails: nothing of the first applies (the caller gets the error only).
    let e = err_user(json!([
        {"op": "replace", "path": "title", "value": "CFO"},
        {"op": "replace", "path": "nope", "value": 1}
    ]));
    assert_err(&e, ScimType::InvalidPath, Some(1));
    assert!(e.deactivation().is_none());
    // Later ops see earlier ones.
    let out = ok_user(json!([
        {"op": "add", "path": "nickName", "value": "A"},
        {"op": "replace", "path": "nickName", "value": "B"}
    ]));
    assert_eq!(out.resource["nickName"], "B");
}

/// Generic SCIM client libraries serialise an extension object with its own
/// `schemas` member when the path is the extension's URN: accepted and
/// ignored for add and replace, on both extensions of users and on groups; a
/// `schemas` naming anything else is a clear 400.
#[test]
fn extension_urn_paths_accept_a_schemas_member_naming_the_extension() {
    const GRP_EXT: &str = "urn:ietf:params:scim:schemas:extension:provisioning:2.0:Group";
    for op in ["add", "replace"] {
        let out = ok_user(json!([{"op": op, "path": ENT,
            "value": {"schemas": [ENT], "employeeNumber": "1"}}]));
        assert_eq!(out.resource[ENT]["employeeNumber"], "1", "{op}");
        assert!(out.resource[ENT].get("schemas").is_none());
        let out = ok_user(json!([{"op": op, "path": PROV,
            "value": {"schemas": [PROV.to_ascii_lowercase()], "requireMobileAuth": false}}]));
        assert_eq!(out.resource[PROV]["requireMobileAuth"], false, "{op}");
        let out = ok_group(json!([{"op": op, "path": GRP_EXT,
            "value": {"schemas": GRP_EXT, "membersCanStoreData": false}}]));
        assert_eq!(out.resource[GRP_EXT]["membersCanStoreData"], false, "{op}");
        let e = err_user(json!([{"op": op, "path": ENT,
            "value": {"schemas": [ENT, PROV], "employeeNumber": "2"}}]));
        assert_eq!(e.scim_type(), ScimType::InvalidValue, "{e}");
        assert!(e.to_string().contains("'schemas'"), "{e}");
        let e = err_user(json!([{"op": op, "path": ENT,
            "value": {"schemas": ["urn:example:other"], "employeeNumber": "2"}}]));
        assert_eq!(e.scim_type(), ScimType::InvalidValue, "{e}");
    }
}

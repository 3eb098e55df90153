#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Tests for attribute paths and PATCH paths.

use scim_model::filter::{CompValue, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use scim_model::path::{AttrPath, PatchPath};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn eq(name: &str, v: &str) -> Filter {
    Filter::Compare {
        path: AttrPath::new(name),
        op: CompareOp::Eq,
        value: CompValue::String(v.to_owned()),
    }
}

fn check(input: &str, expected: PatchPath) {
    let got = PatchPath::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(got, expected, "{input:?}");
    let printed = got.to_string();
    assert_eq!(PatchPath::parse(&printed).unwrap(), expected, "{printed:?}");
}

fn plain(attr: AttrPath) -> PatchPath {
    PatchPath {
        attr,
        filter: None,
        sub_attr: None,
    }
}

fn filtered(attr: &str, f: Filter, sub: Option<&str>) -> PatchPath {
    PatchPath {
        attr: AttrPath::parse(attr).unwrap(),
        filter: Some(f),
        sub_attr: sub.map(str::to_owned),
    }
}

fn err_at(input: &str, pos: usize) {
    match PatchPath::parse(input) {
        Ok(p) => panic!("{input:?} parsed as {p:?}"),
        Err(e) => assert_eq!(e.pos, pos, "{input:?}: {e}"),
    }
}

#[test]
fn attr_paths() {
    check("members", plain(AttrPath::new("members")));
    check(
        "name.givenName",
        plain(AttrPath::with_sub("name", "givenName")),
    );
    check(
        "Name.GivenName",
        plain(AttrPath::with_sub("Name", "GivenName")),
    );
    check(
        &format!("{ENTERPRISE}:employeeNumber"),
        plain(AttrPath::qualified(ENTERPRISE, "employeeNumber", None)),
    );
    check(
        &format!("{ENTERPRISE}:manager.value"),
        plain(AttrPath::qualified(
            ENTERPRISE,
            "manager",
            Some("value".into()),
        )),
    );
    // A bare extension URN: split at the last colon; the schema layer resolves it.
    check(
        ENTERPRISE,
        plain(AttrPath::qualified(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
            "User",
            None,
        )),
    );
    let p = AttrPath::parse(&format!("{ENTERPRISE}:manager.value")).unwrap();
    assert_eq!(p.to_string(), format!("{ENTERPRISE}:manager.value"));
    assert_eq!(p.urn.as_deref(), Some(ENTERPRISE));
    assert_eq!(
        "members.$ref"
            .parse::<AttrPath>()
            .unwrap()
            .sub_attr
            .as_deref(),
        Some("$ref")
    );
    // `$` is allowed in the name part of a URN-qualified path, not in the URN.
    check(
        "urn:x:y:$ref",
        plain(AttrPath::qualified("urn:x:y", "$ref", None)),
    );
    check(
        "urn:x:y:members.$ref",
        plain(AttrPath::qualified(
            "urn:x:y",
            "members",
            Some("$ref".into()),
        )),
    );
    err_at("urn:x$:y:name", 5);
}

#[test]
fn value_selection_paths() {
    check(
        "emails[type eq \"work\"].value",
        filtered("emails", eq("type", "work"), Some("value")),
    );
    check(
        "members[value eq \"a0b9c8d7-1e2f-4a3b-8c4d-5e6f7a8b9c0d\"]",
        filtered(
            "members",
            eq("value", "a0b9c8d7-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
            None,
        ),
    );
    check(
        "addresses[type eq \"work\"].postalCode",
        filtered("addresses", eq("type", "work"), Some("postalCode")),
    );
    check(
        "roles[primary eq \"True\"].value",
        filtered("roles", eq("primary", "True"), Some("value")),
    );
    check(
        "emails[type eq \"other\"].Value",
        filtered("emails", eq("type", "other"), Some("Value")),
    );
    check(
        "manager[value eq \"m\"]",
        filtered("manager", eq("value", "m"), None),
    );
    check(
        &format!("{ENTERPRISE}:manager[value eq \"m\"]"),
        PatchPath {
            attr: AttrPath::qualified(ENTERPRISE, "manager", None),
            filter: Some(eq("value", "m")),
            sub_attr: None,
        },
    );
    check(
        "emails[type eq \"work\" and primary eq true]",
        filtered(
            "emails",
            Filter::And(
                Box::new(eq("type", "work")),
                Box::new(Filter::Compare {
                    path: AttrPath::new("primary"),
                    op: CompareOp::Eq,
                    value: CompValue::Bool(true),
                }),
            ),
            None,
        ),
    );
    check(
        "emails[ type eq \"work\" ]",
        filtered("emails", eq("type", "work"), None),
    );
    // Brackets inside strings are not structure.
    check(
        "members[value eq \"a]b[c\"]",
        filtered("members", eq("value", "a]b[c"), None),
    );
    let p = PatchPath::parse("emails[TYPE EQ \"work\"].value").unwrap();
    assert_eq!(p.to_string(), "emails[TYPE eq \"work\"].value");
    assert!(p.attr.sub_attr.is_none());
}

#[test]
fn bad_paths() {
    err_at("", 0);
    err_at(" members", 0);
    err_at("members ", 7);
    err_at("members[value eq \"x\"] ", 21);
    err_at("name.", 5);
    err_at("name..x", 5);
    err_at("a.b.c", 3);
    err_at("1abc", 0);
    err_at("foo:bar", 3);
    err_at("members[", 8);
    err_at("members[]", 8);
    err_at("members[value eq \"x\"", 7);
    err_at("members[value eq x]", 17);
    err_at("members[value eq \"x\"]x", 21);
    err_at("members[value eq \"x\"].", 22);
    err_at("members[value eq \"x\"].a.b", 23);
    err_at("members[value eq \"x\"].value eq \"y\"", 28);
    err_at("members[value eq \"x\"][type pr]", 21);
    err_at("emails[type[x pr]]", 11);
    err_at("name.givenName[x pr]", 0);
    err_at("members [value pr]", 7);
    err_at("members]", 7);
    err_at("[value pr]", 0);
    err_at(&format!("{ENTERPRISE}:"), ENTERPRISE.len() + 1);
    let e = PatchPath::parse("a.b.c").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("invalid path at position 3: {}", e.message)
    );
}

#[test]
fn limits() {
    let long = format!("members[value eq \"{}\"]", "a".repeat(MAX_FILTER_LEN));
    assert_eq!(PatchPath::parse(&long).unwrap_err().pos, MAX_FILTER_LEN);
    assert!(AttrPath::parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
    let deep = format!(
        "members[{}value pr{}]",
        "(".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert!(PatchPath::parse(&deep).is_err());
}

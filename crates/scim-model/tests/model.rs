//! Schema, evaluator, projection and normalization tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scim_model::filter::parse_filter;
use scim_model::path::AttrPath;
use scim_model::projection::Projection;
use scim_model::resource::{
    NormalizeOptions, UnknownAttributes, check_required, finish_output, normalize,
};
use scim_model::schema::{
    self, ALL_SCHEMAS, AttrLocation, AttrType, ENTERPRISE_USER_URN, GROUP, Mutability,
    PROVISIONING_USER_URN, Returned, USER, Uniqueness,
};
use scim_model::{ScimError, ScimType};
use serde_json::{Value, json};

fn nora() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN],
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
        ENTERPRISE_USER_URN: {
            "employeeNumber": "E-4411",
            "department": "Finance",
            "manager": {"value": "boss-id"}
        },
        PROVISIONING_USER_URN: {"status": "Staged", "mobileDeviceEnrolled": false},
        "meta": {
            "resourceType": "User",
            "created": "2026-11-02T09:14:07Z",
            "lastModified": "2026-11-03T10:00:00Z",
            "version": "W/\"3\""
        }
    })
}

fn m(filter: &str, doc: &Value) -> bool {
    parse_filter(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(doc, &USER)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
}

fn invalid(filter: &str) -> String {
    match parse_filter(filter).unwrap().compile(&USER) {
        Ok(_) => panic!("{filter} compiled"),
        Err(e) => e.to_string(),
    }
}

// ---- schema --------------------------------------------------------------------------

#[test]
fn resolution_ignores_case_and_understands_urns() {
    let r = USER.resolve(&AttrPath::parse("USERNAME").unwrap()).unwrap();
    assert_eq!(r.attr.name, "userName");
    assert_eq!(r.location, AttrLocation::Core);
    let r = USER
        .resolve(
            &AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:name.GivenName").unwrap(),
        )
        .unwrap();
    assert_eq!(r.canonical_path(), "name.givenName");
    let r = USER
        .resolve(
            &AttrPath::parse(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.value",
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(
        r.canonical_path(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
    );
    assert!(r.is_extension());
    // Unqualified extension attribute names resolve too (Entra's `manager eq ...`).
    let r = USER.resolve(&AttrPath::new("employeeNumber")).unwrap();
    assert_eq!(
        r.location,
        AttrLocation::Extension(&schema::ENTERPRISE_USER_SCHEMA)
    );
    // Common attributes.
    assert_eq!(
        USER.resolve(&AttrPath::with_sub("meta", "LASTMODIFIED"))
            .unwrap()
            .target()
            .name,
        "lastModified"
    );
    // Unknown names and sub-attributes of simple attributes.
    assert!(USER.resolve(&AttrPath::new("shoeSize")).is_none());
    assert!(
        USER.resolve(&AttrPath::with_sub("userName", "value"))
            .is_none()
    );
    assert!(GROUP.resolve(&AttrPath::new("userName")).is_none());
    // A bare extension URN.
    let whole = AttrPath::parse(ENTERPRISE_USER_URN).unwrap();
    assert_eq!(
        USER.whole_extension(&whole).unwrap().id,
        ENTERPRISE_USER_URN
    );
    assert!(USER.resolve(&whole).is_none());
}

#[test]
fn characteristics_follow_rfc_7643() {
    let user_name = USER.schema.attribute("userName").unwrap();
    assert!(user_name.required && !user_name.case_exact);
    assert_eq!(user_name.uniqueness, Uniqueness::Server);
    let id = schema::common_attribute("id").unwrap();
    assert!(id.case_exact);
    assert_eq!(id.mutability, Mutability::ReadOnly);
    assert_eq!(id.returned, Returned::Always);
    assert!(schema::common_attribute("externalId").unwrap().case_exact);
    let password = USER.schema.attribute("password").unwrap();
    assert_eq!(password.returned, Returned::Never);
    assert_eq!(password.mutability, Mutability::WriteOnly);
    let emails = USER.schema.attribute("emails").unwrap();
    assert!(emails.multi_valued);
    assert_eq!(
        emails.sub_attribute("type").unwrap().canonical_values,
        ["work", "home", "other"]
    );
    assert!(!emails.sub_attribute("value").unwrap().case_exact);
    let members = GROUP.schema.attribute("members").unwrap();
    assert_eq!(
        members.sub_attribute("$ref").unwrap().attr_type,
        AttrType::Reference
    );
    let status = USER
        .extension(PROVISIONING_USER_URN)
        .unwrap()
        .attribute("status")
        .unwrap();
    assert_eq!(status.mutability, Mutability::ReadOnly);
    assert_eq!(
        status.canonical_values,
        ["Staged", "Invited", "Active", "Suspended"]
    );
}

#[test]
fn schemas_render_for_discovery() {
    let v = schema::USER_SCHEMA.to_json("https://h/scim/v2/acme");
    assert_eq!(v["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(
        v["meta"]["location"],
        "https://h/scim/v2/acme/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
    );
    let attrs = v["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(
        user_name,
        &json!({"name": "userName", "type": "string", "multiValued": false,
                "description": user_name["description"], "required": true, "caseExact": false,
                "mutability": "readWrite", "returned": "default", "uniqueness": "server"})
    );
    let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
    assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 4);
    assert!(
        emails.get("caseExact").is_none(),
        "complex attributes carry no caseExact"
    );
    // No nulls anywhere in any schema.
    fn no_nulls(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Array(a) => a.iter().all(no_nulls),
            Value::Object(o) => o.values().all(no_nulls),
            _ => true,
        }
    }
    for s in ALL_SCHEMAS {
        assert!(no_nulls(&s.to_json("")), "{}", s.id);
    }
    let rt = USER.to_json("https://h");
    assert_eq!(rt["endpoint"], "/Users");
    assert_eq!(
        rt["schemaExtensions"][0],
        json!({"schema": ENTERPRISE_USER_URN, "required": false})
    );
}

// ---- evaluator -----------------------------------------------------------------------

#[test]
fn case_rules_come_from_the_schema() {
    let u = nora();
    assert!(m(r#"userName eq "NORA.LIND@fabrikam.example""#, &u));
    assert!(m(r#"emails.value eq "Nora@Home.Example""#, &u));
    assert!(m(r#"id eq "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10""#, &u));
    assert!(!m(r#"id eq "7F3A9D1E-5B2C-4E8F-A1D0-3C6B2E9F4A10""#, &u));
    assert!(m(
        r#"externalId eq "b7e2f0c4-2f1d-4a55-9a0e-6d0c2a1f9e31""#,
        &u
    ));
    assert!(!m(
        r#"externalId eq "B7E2F0C4-2F1D-4A55-9A0E-6D0C2A1F9E31""#,
        &u
    ));
    assert!(m(r#"USERNAME Eq "nora.lind@fabrikam.example""#, &u));
}

#[test]
fn every_operator_on_strings() {
    let u = nora();
    let table = [
        (r#"title eq "controller""#, true),
        (r#"title ne "controller""#, false),
        (r#"title ne "CEO""#, true),
        (r#"title co "TROL""#, true),
        (r#"title co "boss""#, false),
        (r#"title sw "Con""#, true),
        (r#"title sw "trol""#, false),
        (r#"title ew "LER""#, true),
        (r#"title ew "Con""#, false),
        (r#"title gt "b""#, true),
        (r#"title gt "d""#, false),
        (r#"title ge "controller""#, true),
        (r#"title lt "d""#, true),
        (r#"title lt "controller""#, false),
        (r#"title le "controller""#, true),
        (r#"nickName ne "x""#, true),
        (r#"nickName eq "x""#, false),
        ("title pr", true),
        ("nickName pr", false),
        ("nickName eq null", true),
        ("title ne null", true),
        ("title eq null", false),
    ];
    for (f, want) in table {
        assert_eq!(m(f, &u), want, "{f}");
    }
}

#[test]
fn logic_and_value_paths() {
    let u = nora();
    let table = [
        (r#"title eq "Controller" and displayName sw "Nora""#, true),
        (r#"title eq "x" or displayName sw "Nora""#, true),
        (
            r#"title eq "x" or displayName sw "x" and userName pr"#,
            false,
        ),
        (r#"not (title eq "x")"#, true),
        (r#"not (title eq "Controller")"#, false),
        (
            r#"emails[type eq "work" and value co "@fabrikam.example"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@fabrikam.example"]"#,
            false,
        ),
        (
            r#"emails[type eq "work"].value eq "nora.lind@fabrikam.example""#,
            true,
        ),
        (
            r#"emails[type eq "home"].value eq "nora.lind@fabrikam.example""#,
            false,
        ),
        (r#"emails[primary eq "True"].value co "fabrikam""#, true),
        (r#"emails[not (type eq "work")]"#, true),
        (
            r#"phoneNumbers[type eq "mobile"].value eq "+46 70 555 01 23""#,
            true,
        ),
        (r#"emails co "home.example""#, true),
        (r#"emails.type eq "other""#, false),
        (r#"name.familyName eq "lind""#, true),
        (r#"name[givenName eq "Nora"]"#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "boss-id""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E-4411""#,
            true,
        ),
        (
            r#"id eq "7f3a9d1e-5b2c-4e8f-a1d0-3c6b2e9f4a10" and manager eq "boss-id""#,
            true,
        ),
        (r#"manager eq "Boss-ID""#, false),
        ("emails pr", true),
        ("ims pr", false),
        ("emails[type eq \"fax\"]", false),
    ];
    for (f, want) in table {
        assert_eq!(m(f, &u), want, "{f}");
    }
}

#[test]
fn booleans_numbers_and_datetimes() {
    let mut u = nora();
    let table = [
        ("active eq true", true),
        ("active eq false", false),
        (r#"active eq "TRUE""#, true),
        ("active ne false", true),
        (r#"meta.created eq "2026-11-02T11:14:07+02:00""#, true),
        (r#"meta.created gt "2026-11-02T09:14:06Z""#, true),
        (r#"meta.created gt "2026-11-02T09:14:07Z""#, false),
        (r#"meta.created ge "2026-11-02T09:14:07Z""#, true),
        (r#"meta.lastModified lt "2026-11-03T10:00:00.001Z""#, true),
        (r#"meta.lastModified le "2026-11-03T09:00:00Z""#, false),
        (r#"meta.created sw "2026-11""#, true),
    ];
    for (f, want) in table {
        assert_eq!(m(f, &u), want, "{f}");
    }
    u["active"] = json!(false);
    assert!(m("active eq false", &u));
}

#[test]
fn forbidden_comparisons_are_invalid_filters() {
    for f in [
        "active gt true",
        "active co \"t\"",
        r#"active eq "yes""#,
        "active eq 1",
        r#"name gt "x""#,
        r#"name eq "x""#,
        r#"meta.created gt "yesterday""#,
        "userName eq 5",
        "userName gt null",
        r#"shoeSize eq "42""#,
        r#"emails[shoe eq "x"]"#,
        r#"userName[value eq "x"]"#,
        r#"x509Certificates.value gt "AA==""#,
    ] {
        let e = invalid(f);
        assert!(!e.is_empty(), "{f}");
    }
    assert!(invalid(r#"shoeSize eq "42""#).contains("shoeSize"));
    let as_scim: ScimError = parse_filter("active gt true")
        .unwrap()
        .compile(&USER)
        .unwrap_err()
        .into();
    assert_eq!(as_scim.status, 400);
    assert_eq!(as_scim.scim_type, Some(ScimType::InvalidFilter));
}

#[test]
fn group_filters() {
    let g = json!({"id": "g1", "displayName": "Finance Vault Users",
                   "members": [{"value": "u1"}, {"value": "u2"}]});
    let f = |s: &str| parse_filter(s).unwrap().matches(&g, &GROUP).unwrap();
    assert!(f(r#"displayName eq "finance vault users""#));
    assert!(f(r#"members.value eq "u2""#));
    assert!(!f(r#"members.value eq "U2""#), "member ids are case-exact");
    assert!(f(r#"members[value eq "u1"]"#));
    assert!(f(r#"members eq "u1""#));
}

// ---- projection ----------------------------------------------------------------------

#[test]
fn projection_follows_returned_rules() {
    let mut u = nora();
    u["password"] = json!("secret");
    let p = Projection::new(&USER, &["userName", "name.givenName"], &[] as &[&str]).unwrap();
    let out = p.apply(&u);
    assert_eq!(out["userName"], "nora.lind@fabrikam.example");
    assert_eq!(out["name"], json!({"givenName": "Nora"}));
    assert_eq!(out["id"], u["id"], "id is returned always");
    assert_eq!(out["active"], true, "active is returned always");
    assert!(out.get("title").is_none());
    assert!(out.get("meta").is_none());
    assert!(out.get("password").is_none());
    assert!(out.get(ENTERPRISE_USER_URN).is_none());

    let p = Projection::new(
        &USER,
        &[] as &[&str],
        &[
            "emails",
            "ID",
            "name.familyName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ],
    )
    .unwrap();
    let out = p.apply(&u);
    assert!(out.get("emails").is_none());
    assert_eq!(out["id"], u["id"], "id cannot be excluded");
    assert_eq!(
        out["name"],
        json!({"formatted": "Nora Lind", "givenName": "Nora"})
    );
    assert_eq!(
        out[ENTERPRISE_USER_URN],
        json!({"employeeNumber": "E-4411", "manager": {"value": "boss-id"}})
    );
    assert!(out.get("password").is_none(), "password is never returned");
    assert_eq!(out["title"], "Controller");

    let all = Projection::all(&USER).apply(&u);
    assert!(all.get("password").is_none());
    assert_eq!(all["emails"], u["emails"]);
    assert!(Projection::new(&USER, &["emails[type"], &[] as &[&str]).is_err());
}

#[test]
fn group_reads_without_members() {
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
                   "displayName": "G", "members": [{"value": "u1"}]});
    let p = Projection::new(&GROUP, &[] as &[&str], &["members"]).unwrap();
    assert!(!p.includes("members"));
    assert!(p.includes("displayName"));
    let out = p.apply(&g);
    assert!(out.get("members").is_none());
    assert_eq!(out["displayName"], "G");
    assert!(Projection::all(&GROUP).includes("members"));
    assert!(
        Projection::new(&GROUP, &["displayName"], &[] as &[&str])
            .map(|p| !p.includes("members"))
            .unwrap()
    );
    assert!(
        Projection::new(&GROUP, &["members.value"], &[] as &[&str])
            .map(|p| p.includes("members"))
            .unwrap()
    );
}

// ---- normalization -------------------------------------------------------------------

#[test]
fn entra_create_user_body_normalizes() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN],
        "externalId": "b7e2f0c4",
        "UserName": "nora.lind@fabrikam.example",
        "active": "True",
        "displayName": "Nora Lind",
        "emails": [{"primary": true, "type": "work", "value": "nora.lind@fabrikam.example"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora"},
        "phoneNumbers": [{"type": "mobile", "value": "+46 70 555 01 23"}],
        ENTERPRISE_USER_URN: {"employeeNumber": "E-4411", "department": "Finance", "manager": "boss-id"},
        "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:requireMobileAuth": "false",
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"shoe": 42},
        "roles": [],
        "addresses": null,
        "password": "hunter2",
        "id": "client-chosen"
    });
    let mut doc = normalize(&USER, &body, NormalizeOptions::default()).unwrap();
    finish_output(&USER, &mut doc);
    assert_eq!(
        doc,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_URN, PROVISIONING_USER_URN],
            "externalId": "b7e2f0c4",
            "userName": "nora.lind@fabrikam.example",
            "active": true,
            "displayName": "Nora Lind",
            "emails": [{"primary": true, "type": "work", "value": "nora.lind@fabrikam.example"}],
            "name": {"formatted": "Nora Lind", "familyName": "Lind", "givenName": "Nora"},
            "phoneNumbers": [{"type": "mobile", "value": "+46 70 555 01 23"}],
            ENTERPRISE_USER_URN: {"employeeNumber": "E-4411", "department": "Finance", "manager": {"value": "boss-id"}},
            PROVISIONING_USER_URN: {"requireMobileAuth": false}
        })
    );
    check_required(&USER, &doc).unwrap();
}

#[test]
fn wrong_types_and_unknown_attributes_are_rejected() {
    let cases = [
        (json!({"userName": 5}), ScimType::InvalidValue, "userName"),
        (
            json!({"userName": "a", "active": "yes"}),
            ScimType::InvalidValue,
            "active",
        ),
        (
            json!({"userName": "a", "active": ""}),
            ScimType::InvalidValue,
            "active",
        ),
        (
            json!({"userName": "a", "emails": [{"value": 1}]}),
            ScimType::InvalidValue,
            "emails.value",
        ),
        (
            json!({"userName": "a", "name": "Nora"}),
            ScimType::InvalidValue,
            "name",
        ),
        (
            json!({"userName": "a", "shoeSize": 42}),
            ScimType::InvalidSyntax,
            "shoeSize",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": "True"}]}),
            ScimType::InvalidValue,
            "primary",
        ),
        (
            json!({"userName": "a", "displayName": ["a", "b"]}),
            ScimType::InvalidValue,
            "single-valued",
        ),
        (
            json!(["not", "an", "object"]),
            ScimType::InvalidSyntax,
            "object",
        ),
    ];
    for (body, ty, needle) in cases {
        let e = normalize(&USER, &body, NormalizeOptions::default()).unwrap_err();
        assert_eq!(e.scim_type, ty, "{body}");
        assert!(e.detail.contains(needle), "{body}: {}", e.detail);
    }
    let lenient = NormalizeOptions {
        unknown: UnknownAttributes::Ignore,
    };
    let doc = normalize(&USER, &json!({"userName": "a", "shoeSize": 42}), lenient).unwrap();
    assert_eq!(doc, json!({"userName": "a"}));
}

#[test]
fn required_attributes() {
    let doc = normalize(
        &USER,
        &json!({"displayName": "x", "userName": ""}),
        NormalizeOptions::default(),
    )
    .unwrap();
    let e = check_required(&USER, &doc).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidValue);
    assert!(e.detail.contains("userName"));
    let g = normalize(&GROUP, &json!({"members": []}), NormalizeOptions::default()).unwrap();
    assert!(
        check_required(&GROUP, &g)
            .unwrap_err()
            .detail
            .contains("displayName")
    );
}

#[test]
fn element_filters_for_patch_paths() {
    let f = parse_filter(r#"type eq "WORK" and primary eq "True""#).unwrap();
    let ef = f
        .compile_for_elements(&USER, &AttrPath::new("Emails"))
        .unwrap();
    assert!(ef.matches(&json!({"type": "work", "value": "a", "primary": true})));
    assert!(!ef.matches(&json!({"type": "work", "value": "a"})));
    assert!(!ef.matches(&json!("work")));
    // A single-valued complex attribute (Entra's manager removal by filter).
    let mgr = parse_filter(r#"value eq "boss-id""#).unwrap();
    let ef = mgr
        .compile_for_elements(
            &USER,
            &AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap(),
        )
        .unwrap();
    assert!(ef.matches(&json!({"value": "boss-id"})));
    assert!(!ef.matches(&json!({"value": "Boss-ID"})));
    assert!(
        f.compile_for_elements(&USER, &AttrPath::new("userName"))
            .is_err()
    );
    assert!(
        parse_filter(r#"shoe eq "x""#)
            .unwrap()
            .compile_for_elements(&USER, &AttrPath::new("emails"))
            .is_err()
    );
}

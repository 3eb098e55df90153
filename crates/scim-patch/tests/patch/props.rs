//! Property tests: idempotent adds, add-then-remove restores, no panics.

use proptest::prelude::*;
use scim_model::messages::{PatchOpKind, PatchOperation, PatchRequest};
use scim_model::schema::{GROUP, USER};
use serde_json::{Value, json};

use crate::common::*;

fn apply_user(
    res: &Value,
    ops: Vec<PatchOperation>,
) -> Result<scim_patch::Outcome, scim_patch::PatchError> {
    scim_patch::apply(res, &USER, &PatchRequest::new(ops))
}

fn op(kind: PatchOpKind, path: Option<&str>, value: Option<Value>) -> PatchOperation {
    PatchOperation {
        op: kind,
        path: path.map(str::to_owned),
        value,
    }
}

/// A valid add operation on the realistic user.
fn arb_add() -> impl Strategy<Value = PatchOperation> {
    let text = "[a-zA-Z0-9 @.+-]{1,20}";
    prop_oneof![
        (
            text,
            prop::sample::select(vec!["work", "home", "other"]),
            any::<bool>()
        )
            .prop_map(|(v, t, p)| {
                op(
                    PatchOpKind::Add,
                    Some("emails"),
                    Some(json!([{"value": v, "type": t, "primary": p}])),
                )
            }),
        (
            text,
            prop::sample::select(vec![
                "nickName",
                "title",
                "displayName",
                "name.givenName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
            ])
        )
            .prop_map(|(v, p)| op(PatchOpKind::Add, Some(p), Some(json!(v)))),
        (text, prop::sample::select(vec!["work", "mobile", "fax"])).prop_map(|(v, t)| op(
            PatchOpKind::Add,
            Some(&format!("phoneNumbers[type eq \"{t}\"].value")),
            Some(json!(v))
        )),
        text.prop_map(|v| op(
            PatchOpKind::Add,
            None,
            Some(json!({"name.familyName": v, "addresses": [{"type": "work", "locality": "x"}]}))
        )),
        text.prop_map(|v| op(PatchOpKind::Add, Some("manager"), Some(json!(v)))),
        any::<bool>().prop_map(|b| op(
            PatchOpKind::Add,
            Some("active"),
            Some(json!(if b { "True" } else { "False" }))
        )),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "", "True", "false", "work", "u1", "x@y.z", "Group", "urn:x:y"
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "value",
            "type",
            "primary",
            "$ref",
            "display",
            "active",
            "userName",
            "name.givenName",
            "emails",
            "members",
            "manager",
            "id",
            "meta",
            "schemas",
            "givenName",
            "ACTIVE",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:status",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,10}",
    ]
}

fn arb_path() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "active", "userName", "emails", "emails.value", "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value", "emails[value co \"@\"].primary", "name", "name.givenName",
            "manager", "manager[value eq \"m-100\"]", "manager.value", "members", "members[value eq \"u1\"]",
            "members[value eq \"u1\" or value eq \"u2\"]", "members[display co \"x\"]", "members.value",
            "id", "meta", "meta.version", "groups", "password", "roles[primary eq \"True\"].value",
            "addresses[type eq \"work\" and locality eq \"x\"].postalCode", "displayName", "",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"x\"].value",
            "urn:ietf:params:scim:schemas:extension:provisioning:2.0:User:status",
            "urn:ietf:params:scim:schemas:core:2.0:User", "urn:x:y:z", "x509Certificates[value pr]",
            "emails[not (type eq \"work\")]", "emails[type eq \"work\"", "name[givenName eq \"Nora\"]",
        ])
        .prop_map(|s| Some(s.to_owned())),
        "\\PC{0,30}".prop_map(Some),
    ]
}

fn arb_op() -> impl Strategy<Value = PatchOperation> {
    (
        prop::sample::select(vec![
            PatchOpKind::Add,
            PatchOpKind::Replace,
            PatchOpKind::Remove,
        ]),
        arb_path(),
        prop::option::of(arb_json()),
    )
        .prop_map(|(kind, path, value)| PatchOperation {
            op: kind,
            path,
            value,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn add_twice_equals_add_once(add in arb_add()) {
        let once = apply_user(&user(), vec![add.clone()]).unwrap();
        let twice = apply_user(&once.resource, vec![add.clone()]).unwrap();
        prop_assert_eq!(&twice.resource, &once.resource);
        prop_assert!(!twice.changes.changed);
        let both = apply_user(&user(), vec![add.clone(), add]).unwrap();
        prop_assert_eq!(&both.resource, &once.resource);
    }

    #[test]
    fn add_then_remove_of_a_new_element_restores(
        v in "[a-z0-9.]{1,16}",
        t in prop::sample::select(vec!["work", "home", "other"]),
        attr in prop::sample::select(vec!["emails", "phoneNumbers", "roles", "entitlements"]),
        by_filter in any::<bool>(),
    ) {
        let value = format!("new-{v}");
        let add = op(PatchOpKind::Add, Some(attr), Some(json!([{"value": value, "type": t}])));
        let remove = if by_filter {
            let quoted = serde_json::to_string(&value).unwrap();
            op(PatchOpKind::Remove, Some(&format!("{attr}[value eq {quoted}]")), None)
        } else {
            op(PatchOpKind::Remove, Some(attr), Some(json!([{"value": value}])))
        };
        let out = apply_user(&user(), vec![add.clone(), remove.clone()]).unwrap();
        prop_assert_eq!(&out.resource, &user());
        prop_assert!(!out.changes.changed);
        let added = apply_user(&user(), vec![add]).unwrap();
        prop_assert!(added.changes.changed);
        let back = apply_user(&added.resource, vec![remove]).unwrap();
        prop_assert_eq!(back.resource, user());
    }

    #[test]
    fn member_add_then_remove_nets_out(ids in prop::collection::vec("[a-f0-9]{1,8}", 1..20)) {
        let add = op(PatchOpKind::Add, Some("members"), Some(Value::Array(ids.iter().map(|i| json!({"value": i})).collect())));
        let rm = op(PatchOpKind::Remove, Some("members"), Some(Value::Array(ids.iter().map(|i| json!({"$ref": null, "value": i})).collect())));
        let out = scim_patch::apply(&group(), &GROUP, &PatchRequest::new(vec![add, rm])).unwrap();
        prop_assert!(out.changes.members_added.is_empty());
        prop_assert_eq!(out.changes.members_removed.len(), ids.iter().collect::<std::collections::BTreeSet<_>>().len());
        prop_assert!(!out.changes.members_cleared);
    }

    #[test]
    fn apply_never_panics(ops in prop::collection::vec(arb_op(), 1..6)) {
        let r = PatchRequest::new(ops);
        let out = scim_patch::apply(&user(), &USER, &r);
        if let Ok(o) = &out {
            // A success never drops the read-only data or the required userName.
            prop_assert_eq!(&o.resource["id"], &user()["id"]);
            prop_assert_eq!(&o.resource["meta"], &user()["meta"]);
            prop_assert!(o.resource["userName"].is_string());
            prop_assert!(o.resource.get("password").is_none());
        }
        if let Err(e) = &out
            && let Some(d) = e.deactivation()
        {
            prop_assert_eq!(&d.outcome.resource["active"], &json!(false));
        }
        let _ = scim_patch::apply(&group(), &GROUP, &r);
    }
}

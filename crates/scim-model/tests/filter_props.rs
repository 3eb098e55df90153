#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests: canonical printing round-trips through the parser, and no input panics.

use proptest::prelude::*;
use scim_model::filter::{CompValue, CompareOp, Filter, parse_filter};
use scim_model::path::{AttrPath, PatchPath};

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_owned()),
        // Keywords are valid attribute names where an attribute is expected.
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "NOT", "Pr"])
            .prop_map(str::to_owned),
    ]
}

fn urn() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
        "(urn|URN|Urn):[a-z]{1,5}(:[A-Za-z0-9._-]{1,5}){0,3}",
    ]
}

/// A path in any position: optional URN, optional sub-attribute.
fn attr_path() -> impl Strategy<Value = AttrPath> {
    (prop::option::of(urn()), name(), prop::option::of(name())).prop_map(|(urn, name, sub)| {
        AttrPath {
            urn,
            name,
            sub_attr: sub,
        }
    })
}

/// The attribute of a value path: no sub-attribute.
fn vp_attr() -> impl Strategy<Value = AttrPath> {
    (prop::option::of(urn()), name()).prop_map(|(urn, name)| AttrPath {
        urn,
        name,
        sub_attr: None,
    })
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        r#"[a-z"\\/ é😀\t\n\u{1}#@.]{0,12}"#.prop_map(CompValue::String),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (attr_path(), op(), value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => attr_path().prop_map(Filter::Present),
    ]
}

fn logic(base: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    base.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            1 => inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            2 => (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
    .boxed()
}

/// Any filter the parser can produce: value paths (with and/or/not inside) at any level
/// outside brackets, never nested in another value path.
fn filter() -> BoxedStrategy<Filter> {
    let value_path = (vp_attr(), logic(leaf().boxed())).prop_map(|(attr, f)| Filter::ValuePath {
        attr,
        filter: Box::new(f),
    });
    logic(prop_oneof![3 => leaf(), 1 => value_path].boxed())
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        attr_path().prop_map(|attr| PatchPath {
            attr,
            filter: None,
            sub_attr: None,
        }),
        (vp_attr(), logic(leaf().boxed()), prop::option::of(name())).prop_map(
            |(attr, f, sub_attr)| PatchPath {
                attr,
                filter: Some(f),
                sub_attr,
            }
        ),
    ]
}

/// Applies character edits (insert, delete, replace) at positions taken modulo the length.
fn mutate(s: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for &(at, kind, c) in edits {
        let len = chars.len();
        match kind % 3 {
            0 => chars.insert(at % (len + 1), c),
            1 if len > 0 => {
                chars.remove(at % len);
            }
            _ if len > 0 => chars[at % len] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

/// Characters that matter to the grammar, so that mutations reach interesting states.
fn edit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '(', ')', '[', ']', '.', '"', '\\', ' ', ':', '$', '-', '0', '1', 'e', 'u', 'n', 'o',
            't', 'a', 'r',
        ]),
        any::<char>(),
    ]
}

/// If `input` parses, its canonical form parses back to the same tree.
fn check_no_panic(input: &str) -> Result<(), TestCaseError> {
    if let Ok(f) = parse_filter(input) {
        let printed = f.to_string();
        prop_assert_eq!(parse_filter(&printed), Ok(f), "printed {:?}", printed);
    }
    if let Ok(p) = PatchPath::parse(input) {
        let printed = p.to_string();
        prop_assert_eq!(PatchPath::parse(&printed), Ok(p), "printed {:?}", printed);
    }
    if let Ok(p) = AttrPath::parse(input) {
        prop_assert_eq!(AttrPath::parse(&p.to_string()), Ok(p));
    }
    Ok(())
}

proptest! {
    #[test]
    fn print_then_parse_round_trips(f in filter()) {
        let printed = f.to_string();
        prop_assert_eq!(parse_filter(&printed), Ok(f.clone()), "printed {:?}", printed);
        // Printing is canonical: a fixed point.
        prop_assert_eq!(parse_filter(&printed).map(|g| g.to_string()), Ok(printed));
    }

    #[test]
    fn patch_path_round_trips(p in patch_path()) {
        let printed = p.to_string();
        prop_assert_eq!(PatchPath::parse(&printed), Ok(p), "printed {:?}", printed);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_no_panic(&s)?;
    }

    #[test]
    fn filterish_strings_never_panic(
        s in r#"([a-zA-Z$:.\[\]()" \\0-9eu+-]|eq|and|or|not|pr|true|null| ){0,40}"#
    ) {
        check_no_panic(&s)?;
    }

    #[test]
    fn mutated_filters_never_panic(
        f in filter(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), edit_char()), 1..4),
    ) {
        check_no_panic(&mutate(&f.to_string(), &edits))?;
    }

    #[test]
    fn mutated_patch_paths_never_panic(
        p in patch_path(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), edit_char()), 1..4),
    ) {
        check_no_panic(&mutate(&p.to_string(), &edits))?;
    }
}

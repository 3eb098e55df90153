//! Property tests: `users::list` / `groups::list` select exactly what
//! scim-model's `CompiledFilter::matches` selects on each `to_resource()`, on
//! random data and random filters (indexed and non-indexed attributes, every
//! operator, `and`/`or`/`not`, value paths, `%`, `_` and `\` in literals).
//! One data set per case is inserted into a fresh tenant; many filters run
//! against it.

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scim_model::filter::{CompValue, CompareOp};
use scim_model::{AttrPath, Filter, GROUP, USER};
use serde_json::{Value, json};
use store_diesel::groups;
use store_diesel::users::{self};
use store_diesel::{ListQuery, tenants};

use super::lists::{UserSpec, base_time, group_record, user_record};
use super::*;

const CASES: u32 = 64;
const FILTERS_PER_CASE: usize = 24;

const NAMES: &[&str] = &[
    "alice",
    "Alice",
    "ÄRGER",
    "ärger",
    "bob%",
    "Bob_x",
    "b\\c",
    "ǅemal",
    "Σίσυφος",
    "x",
];
const TEXTS: &[&str] = &[
    "", "a", "A", "al", "ÄR", "är", "%", "_", "\\", "b%", "_x", "o", "ß", "σ", "Σ", "ext-1",
    "EXT-1", "e%1", "e_1", "boss", "Boss", "work", "WORK", "home", "@x.org", "a@x.org", "A@X.ORG",
];
const EXTS: &[&str] = &["ext-1", "EXT-1", "e%1", "e_1", "a\\b", ""];
const DISPLAYS: &[&str] = &["Ärger", "ärger", "Bob", "bob smith", "50%", ""];
const TITLES: &[&str] = &["boss", "Boss", "a_b", ""];
const EMAILS: &[&str] = &[
    "a@x.org",
    "A@X.ORG",
    "b%@y.org",
    "c_d@z.net",
    "ä@ö.de",
    "\\@q",
];
const TYPES: &[&str] = &["work", "home", "other", "Work"];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(list).prop_map(str::to_owned)
}

fn user_spec(i: usize) -> impl Strategy<Value = UserSpec> {
    (
        pick(NAMES),
        prop::option::of(pick(EXTS)),
        prop::option::of(pick(DISPLAYS)),
        prop::option::of(pick(TITLES)),
        prop::collection::vec(
            (pick(EMAILS), prop::option::of(pick(TYPES)), any::<bool>()),
            0..=3,
        ),
        any::<bool>(),
        0i64..3,
        prop::sample::select(&[0i64, 1, 999_999][..]),
        0i64..5,
    )
        .prop_map(
            move |(name, ext, display, title, emails, active, sec, micros, modified)| {
                let created = base_time()
                    + Duration::seconds(sec)
                    + Duration::microseconds(micros)
                    + Duration::milliseconds(i64::try_from(i).unwrap_or(0));
                UserSpec {
                    id: format!("u{i:02}"),
                    // Unique after folding: the index follows a '#'.
                    user_name: format!("{name}#{i}"),
                    external_id: ext,
                    display_name: display,
                    title,
                    emails,
                    active,
                    created,
                    last_modified: created + Duration::seconds(modified),
                }
            },
        )
}

fn users_strategy() -> impl Strategy<Value = Vec<UserSpec>> {
    (1usize..10).prop_flat_map(|n| (0..n).map(user_spec).collect::<Vec<_>>())
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(&CompareOp::ALL[..])
}

fn text_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        8 => pick(TEXTS).prop_map(CompValue::String),
        2 => pick(NAMES).prop_map(CompValue::String),
        2 => pick(EMAILS).prop_map(CompValue::String),
        1 => pick(EXTS).prop_map(CompValue::String),
        1 => Just(CompValue::Null),
    ]
}

fn time_value() -> impl Strategy<Value = CompValue> {
    (
        0i64..4,
        prop::sample::select(&[0i64, 1, 999_999, 1_000][..]),
        prop::sample::select(&["Z", "+02:00"][..]),
        any::<bool>(),
        0i64..10,
    )
        .prop_map(|(sec, micros, zone, nanos, ms)| {
            let t = base_time()
                + Duration::seconds(sec)
                + Duration::microseconds(micros)
                + Duration::milliseconds(ms);
            let t = if nanos {
                t + Duration::nanoseconds(500)
            } else {
                t
            };
            let s = if zone == "Z" {
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            } else {
                t.with_timezone(
                    &chrono::FixedOffset::east_opt(7200).unwrap_or_else(|| unreachable!()),
                )
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
            };
            CompValue::String(s)
        })
}

fn path(p: &str) -> AttrPath {
    match p.split_once('.') {
        Some((a, b)) => AttrPath::with_sub(a, b),
        None => AttrPath::new(p),
    }
}

/// A leaf over the User resource.
fn user_leaf() -> impl Strategy<Value = Filter> {
    let string_attrs = prop::sample::select(
        &[
            "userName",
            "displayName",
            "externalId",
            "id",
            "title",
            "emails.value",
            "emails.type",
            "emails",
            "emails.display",
            "nickName",
            "name.givenName",
        ][..],
    );
    prop_oneof![
        6 => (string_attrs, op(), text_value()).prop_map(|(a, op, value)| Filter::Compare {
            path: path(a),
            op: match value { CompValue::Null => if matches!(op, CompareOp::Ne) { CompareOp::Ne } else { CompareOp::Eq }, _ => op },
            value,
        }),
        1 => (prop::sample::select(&["id", "ID", "u01", "u1", "U01", "u0"][..]), op())
            .prop_map(|(v, op)| Filter::Compare { path: path("id"), op, value: CompValue::String(v.into()) }),
        2 => (
            prop::sample::select(&["active", "emails.primary"][..]),
            any::<bool>(),
            prop::sample::select(&[CompareOp::Eq, CompareOp::Ne][..]),
            prop::sample::select(&["bool", "string"][..]),
        )
            .prop_map(|(a, b, op, form)| Filter::Compare {
                path: path(a),
                op,
                value: if form == "bool" { CompValue::Bool(b) } else { CompValue::String(if b { "True".into() } else { "false".into() }) },
            }),
        3 => (prop::sample::select(&["meta.created", "meta.lastModified"][..]), op(), time_value())
            .prop_map(|(a, op, value)| Filter::Compare { path: path(a), op, value }),
        2 => prop::sample::select(
            &["userName", "displayName", "externalId", "title", "emails", "emails.value", "emails.type", "active", "meta.created", "nickName"][..]
        )
            .prop_map(|a| Filter::Present(path(a))),
        2 => element_filter().prop_map(|f| Filter::ValuePath { attr: AttrPath::new("emails"), filter: Box::new(f) }),
    ]
}

/// A filter over one email element.
fn element_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        3 => (prop::sample::select(&["value", "type", "display"][..]), op(), text_value()).prop_map(|(a, op, value)| Filter::Compare {
            path: AttrPath::new(a),
            op: if matches!(value, CompValue::Null) && !matches!(op, CompareOp::Ne) { CompareOp::Eq } else { op },
            value,
        }),
        1 => any::<bool>().prop_map(|b| Filter::Compare { path: AttrPath::new("primary"), op: CompareOp::Eq, value: CompValue::Bool(b) }),
        1 => prop::sample::select(&["value", "type", "primary"][..]).prop_map(|a| Filter::Present(AttrPath::new(a))),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn combine(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    leaf.prop_recursive(3, 10, 2, |inner| {
        prop_oneof![
            1 => inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            2 => (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

store_test!(user_lists_agree_with_the_evaluator, |db| {
    let store = db.store();
    let case = std::cell::Cell::new(0u32);
    let nonempty = std::cell::Cell::new(0usize);
    let filtered = std::cell::Cell::new(0usize);
    let strategy = (
        users_strategy(),
        prop::collection::vec(combine(user_leaf().boxed()), FILTERS_PER_CASE),
        1u64..5,
        0u64..4,
    );
    runner()
        .run(&strategy, |(specs, filters, start, count)| {
            case.set(case.get() + 1);
            let t = store
                .transaction(|c| tenants::create(c, &format!("t{}", case.get()), "T"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .id;
            let records: Vec<_> = specs.iter().map(|s| user_record(&t, s)).collect();
            store
                .transaction(|c| {
                    for r in &records {
                        users::insert(c, r)?;
                    }
                    Ok(())
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for filter in &filters {
                let Ok(compiled) = filter.compile(&USER) else {
                    continue; // e.g. `title gt null`: the HTTP layer rejects it
                };
                filtered.set(filtered.get() + 1);
                let mut expected: Vec<_> = records
                    .iter()
                    .filter(|r| compiled.matches(&r.to_resource()))
                    .collect();
                expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                let expected: Vec<String> = expected.into_iter().map(|r| r.id.clone()).collect();
                nonempty.set(nonempty.get() + usize::from(!expected.is_empty()));
                let q = ListQuery {
                    filter: Some(filter),
                    sort_by: None,
                    descending: false,
                    start_index: 1,
                    count: 1000,
                    after: None,
                };
                let page = store
                    .with_conn(|c| users::list(c, &t, &q))
                    .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
                let got: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
                check(got == expected, || {
                    format!("{filter}\n got {got:?}\n expected {expected:?}")
                })?;
                check(page.total == expected.len() as u64, || {
                    format!("{filter}: total {}", page.total)
                })?;
                // Paging after evaluation.
                let q = ListQuery {
                    start_index: start,
                    count,
                    ..q
                };
                let page = store
                    .with_conn(|c| users::list(c, &t, &q))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let got: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
                let want: Vec<String> = expected
                    .iter()
                    .skip(usize::try_from(start - 1).unwrap_or(0))
                    .take(usize::try_from(count).unwrap_or(0))
                    .cloned()
                    .collect();
                check(got == want && page.total == expected.len() as u64, || {
                    format!("{filter} [{start}, {count}]: got {got:?}, want {want:?}")
                })?;
            }
            Ok(())
        })
        .unwrap();
    // The generator must produce matches, or the test proves little.
    let (filtered, nonempty) = (filtered.get(), nonempty.get());
    assert!(filtered > 500, "only {filtered} filters compiled");
    assert!(
        nonempty * 4 > filtered,
        "only {nonempty} of {filtered} filters matched anything"
    );
});

const MEMBER_IDS: &[&str] = &["u1", "U1", "u%", "u_", "u\\", "u10"];

fn group_leaf() -> impl Strategy<Value = Filter> {
    let ids =
        prop::sample::select(&["u1", "U1", "u", "%", "_", "\\", "u1%", "0", "g1", "G1", ""][..]);
    prop_oneof![
        3 => (prop::sample::select(&["members.value", "members", "id", "externalId", "displayName"][..]), op(), ids.clone())
            .prop_map(|(a, op, v)| Filter::Compare { path: path(a), op, value: CompValue::String(v.into()) }),
        1 => prop::sample::select(&["members", "members.value", "externalId", "displayName"][..])
            .prop_map(|a| Filter::Present(path(a))),
        1 => (prop::sample::select(&["members", "externalId"][..]), any::<bool>()).prop_map(|(a, eq)| Filter::Compare {
            path: path(a),
            op: if eq { CompareOp::Eq } else { CompareOp::Ne },
            value: CompValue::Null,
        }),
        1 => (op(), time_value()).prop_map(|(op, value)| Filter::Compare { path: path("meta.created"), op: if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) { CompareOp::Gt } else { op }, value }),
        2 => (op(), ids).prop_map(|(op, v)| Filter::ValuePath {
            attr: AttrPath::new("members"),
            filter: Box::new(Filter::Compare { path: AttrPath::new("value"), op, value: CompValue::String(v.into()) }),
        }),
    ]
}

fn groups_strategy() -> impl Strategy<Value = Vec<(Option<String>, Vec<usize>)>> {
    prop::collection::vec(
        (
            prop::option::of(pick(&["G1", "g1", "x%", ""])),
            prop::collection::vec(0usize..MEMBER_IDS.len(), 0..4),
        ),
        1..6,
    )
}

store_test!(group_lists_agree_with_the_evaluator, |db| {
    let store = db.store();
    let case = std::cell::Cell::new(0u32);
    let nonempty = std::cell::Cell::new(0usize);
    let total_filters = std::cell::Cell::new(0usize);
    let strategy = (
        groups_strategy(),
        prop::collection::vec(combine(group_leaf().boxed()), FILTERS_PER_CASE),
    );
    runner()
        .run(&strategy, |(specs, filters)| {
            case.set(case.get() + 1);
            let t = store
                .transaction(|c| tenants::create(c, &format!("g{}", case.get()), "T"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .id;
            let mut resources = Vec::new();
            store
                .transaction(|c| {
                    for (i, id) in MEMBER_IDS.iter().enumerate() {
                        let mut spec = super::lists::UserSpec {
                            id: (*id).to_owned(),
                            user_name: format!("user{i}"),
                            external_id: None,
                            display_name: None,
                            title: None,
                            emails: Vec::new(),
                            active: true,
                            created: base_time(),
                            last_modified: base_time(),
                        };
                        spec.created += Duration::seconds(i64::try_from(i).unwrap_or(0));
                        users::insert(c, &user_record(&t, &spec))?;
                    }
                    for (i, (ext, members)) in specs.iter().enumerate() {
                        let id = if i % 2 == 0 {
                            format!("g{i}")
                        } else {
                            format!("G{i}")
                        };
                        let mut g = group_record(
                            &t,
                            &id,
                            &format!("Group {i}"),
                            base_time() + Duration::seconds(i64::try_from(i).unwrap_or(0)),
                        );
                        g.external_id = ext.clone();
                        if let Some(ext) = ext {
                            g.document["externalId"] = json!(ext);
                        }
                        groups::insert(c, &g)?;
                        let ids: Vec<&str> = members.iter().map(|m| MEMBER_IDS[*m]).collect();
                        groups::add_members(c, &t, &id, &ids)?;
                        let mut res = g.to_resource();
                        let mut member_ids: Vec<&str> = ids.clone();
                        member_ids.sort_unstable();
                        member_ids.dedup();
                        if !member_ids.is_empty() {
                            res["members"] = Value::Array(
                                member_ids.iter().map(|m| json!({ "value": m })).collect(),
                            );
                        }
                        resources.push((g, res));
                    }
                    Ok(())
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for filter in &filters {
                let Ok(compiled) = filter.compile(&GROUP) else {
                    continue;
                };
                total_filters.set(total_filters.get() + 1);
                let mut expected: Vec<_> = resources
                    .iter()
                    .filter(|(_, res)| compiled.matches(res))
                    .map(|(g, _)| g)
                    .collect();
                expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                let expected: Vec<String> = expected.into_iter().map(|g| g.id.clone()).collect();
                nonempty.set(nonempty.get() + usize::from(!expected.is_empty()));
                let q = ListQuery {
                    filter: Some(filter),
                    sort_by: None,
                    descending: false,
                    start_index: 1,
                    count: 1000,
                    after: None,
                };
                let page = store
                    .with_conn(|c| groups::list(c, &t, &q))
                    .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
                let got: Vec<String> = page.items.iter().map(|g| g.id.clone()).collect();
                check(
                    got == expected && page.total == expected.len() as u64,
                    || format!("{filter}\n got {got:?}\n expected {expected:?}"),
                )?;
            }
            Ok(())
        })
        .unwrap();
    let (total_filters, nonempty) = (total_filters.get(), nonempty.get());
    assert!(total_filters > 500, "only {total_filters} filters compiled");
    assert!(
        nonempty * 4 > total_filters,
        "only {nonempty} of {total_filters} matched"
    );
});

/// Display names of the groups in [`user_group_filters_agree_with_the_evaluator`].
const GROUP_NAMES: &[&str] = &["Ärger", "Eng", "eng%x", "Ops_x", "ǅemal"];
/// Group ids, of different letter case (ids compare case-exactly).
const GROUP_IDS: &[&str] = &["g0", "G1", "g2", "g_3", "g%4"];

/// A leaf over a user's `groups`, or an indexed user attribute to combine it
/// with (a `groups` filter combined with a non-indexed attribute is refused).
fn user_groups_leaf() -> impl Strategy<Value = Filter> {
    let value = prop_oneof![
        3 => pick(GROUP_IDS).prop_map(CompValue::String),
        3 => pick(GROUP_NAMES).prop_map(CompValue::String),
        1 => pick(&["ärger", "ENG", "ǆemal", "ops_X"]).prop_map(CompValue::String),
        2 => pick(&["", "g", "G", "E", "e", "ä", "%", "_"]).prop_map(CompValue::String),
    ];
    prop_oneof![
        4 => (prop::sample::select(&["groups.value", "groups", "groups.display"][..]), op(), value.clone())
            .prop_map(|(a, op, value)| Filter::Compare { path: path(a), op, value }),
        1 => Just(Filter::Present(AttrPath::new("groups"))),
        1 => Just(Filter::Present(path("groups.display"))),
        2 => (prop::sample::select(&["value", "display"][..]), op(), value.clone())
            .prop_map(|(a, op, value)| Filter::ValuePath {
                attr: AttrPath::new("groups"),
                filter: Box::new(Filter::Compare { path: AttrPath::new(a), op, value }),
            }),
        1 => (op(), pick(NAMES)).prop_map(|(op, v)| Filter::Compare {
            path: path("userName"), op, value: CompValue::String(v),
        }),
        1 => (op(), pick(&["u00", "u01", "U02", "u03"])).prop_map(|(op, v)| Filter::Compare {
            path: path("id"), op, value: CompValue::String(v),
        }),
    ]
}

store_test!(user_group_filters_agree_with_the_evaluator, |db| {
    let store = db.store();
    let case = std::cell::Cell::new(0u32);
    let nonempty = std::cell::Cell::new(0usize);
    let strategy = (
        users_strategy(),
        // For each group, the indexes (mod the user count) of its members.
        prop::collection::vec(prop::collection::vec(0usize..10, 0..4), GROUP_IDS.len()),
        prop::collection::vec(combine(user_groups_leaf().boxed()), FILTERS_PER_CASE),
    );
    runner()
        .run(&strategy, |(specs, memberships, filters)| {
            case.set(case.get() + 1);
            let t = store
                .transaction(|c| tenants::create(c, &format!("ug{}", case.get()), "T"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .id;
            let records: Vec<_> = specs.iter().map(|s| user_record(&t, s)).collect();
            // What the evaluator sees: each user's resource with its groups.
            let mut resources: Vec<Value> = records.iter().map(|r| r.to_resource()).collect();
            store
                .transaction(|c| {
                    for r in &records {
                        users::insert(c, r)?;
                    }
                    for (g, members) in memberships.iter().enumerate() {
                        let mut record = group_record(&t, GROUP_IDS[g], GROUP_NAMES[g], base_time());
                        record.document["displayName"] = json!(GROUP_NAMES[g]);
                        groups::insert(c, &record)?;
                        let mut ids: Vec<usize> = members.iter().map(|m| m % records.len()).collect();
                        ids.sort_unstable();
                        ids.dedup();
                        let member_ids: Vec<&str> = ids.iter().map(|i| records[*i].id.as_str()).collect();
                        groups::add_members(c, &t, GROUP_IDS[g], &member_ids)?;
                        for i in ids {
                            let entry = json!({"value": GROUP_IDS[g], "display": GROUP_NAMES[g], "type": "direct"});
                            match resources[i]["groups"].as_array_mut() {
                                Some(list) => list.push(entry),
                                None => resources[i]["groups"] = json!([entry]),
                            }
                        }
                    }
                    Ok(())
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for filter in &filters {
                let Ok(compiled) = filter.compile(&USER) else {
                    continue;
                };
                let expected: Vec<String> = records
                    .iter()
                    .zip(&resources)
                    .filter(|(_, res)| compiled.matches(res))
                    .map(|(r, _)| (r.created_at, r.id.clone()))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .map(|(_, id)| id)
                    .collect();
                nonempty.set(nonempty.get() + usize::from(!expected.is_empty()));
                let q = ListQuery {
                    filter: Some(filter),
                    sort_by: None,
                    descending: false,
                    start_index: 1,
                    count: 1000,
                    after: None,
                };
                let page = store
                    .with_conn(|c| users::list(c, &t, &q))
                    .map_err(|e| TestCaseError::fail(format!("{filter}: {e}")))?;
                let got: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
                check(got == expected, || {
                    format!("{filter}\n got {got:?}\n expected {expected:?}")
                })?;
            }
            Ok(())
        })
        .map_err(|e| format!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        nonempty.get() > 0,
        "no filter matched anything: the test proves nothing"
    );
});

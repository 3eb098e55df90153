//! `users::list` / `groups::list`: filters in SQL and in memory, sorting, paging.

use chrono::{DateTime, Duration, TimeZone, Utc};
use scim_model::{AttrPath, Filter, GROUP, USER, parse_filter};
use serde_json::{Value, json};
use store_diesel::groups::{self, GroupRecord};
use store_diesel::users::{self, Email, UserRecord};
use store_diesel::{ListQuery, Page, tenants};

use super::*;

/// Data of one generated or hand-written user.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    /// (value, type, primary)
    pub emails: Vec<(String, Option<String>, bool)>,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// A record whose columns and document agree.
pub fn user_record(tenant_id: &str, s: &UserSpec) -> UserRecord {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": s.user_name,
        "active": s.active,
    });
    if let Some(v) = &s.external_id {
        doc["externalId"] = json!(v);
    }
    if let Some(v) = &s.display_name {
        doc["displayName"] = json!(v);
    }
    if let Some(v) = &s.title {
        doc["title"] = json!(v);
    }
    if !s.emails.is_empty() {
        doc["emails"] = Value::Array(
            s.emails
                .iter()
                .map(|(value, t, primary)| {
                    let mut e = json!({ "value": value, "primary": primary });
                    if let Some(t) = t {
                        e["type"] = json!(t);
                    }
                    e
                })
                .collect(),
        );
    }
    UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: s.id.clone(),
        user_name: s.user_name.clone(),
        external_id: s.external_id.clone(),
        display_name: s.display_name.clone(),
        active: s.active,
        status: "Staged".to_owned(),
        status_before_suspend: None,
        override_automatic_invitation: None,
        override_require_mobile_auth: None,
        mobile_device_enrolled: false,
        mobile_device_name: None,
        created_at: s.created,
        last_modified: s.last_modified,
        version: 1,
        document: doc,
        lifecycle: json!({ "state": "Staged" }),
        emails: s
            .emails
            .iter()
            .map(|(value, t, primary)| Email {
                value: value.clone(),
                email_type: t.clone(),
                primary: *primary,
            })
            .collect(),
    }
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

pub fn query(filter: Option<&Filter>) -> ListQuery<'_> {
    ListQuery {
        filter,
        sort_by: None,
        descending: false,
        start_index: 1,
        count: 10_000,
        after: None,
    }
}

pub fn ids<T>(page: &Page<T>, id: impl Fn(&T) -> &str) -> Vec<String> {
    page.items.iter().map(|r| id(r).to_owned()).collect()
}

/// The ids `CompiledFilter::matches` selects, in default order (created, id).
pub fn expected_users(records: &[UserRecord], filter: &Filter) -> Vec<String> {
    let compiled = filter.compile(&USER).unwrap();
    let mut hits: Vec<&UserRecord> = records
        .iter()
        .filter(|r| compiled.matches(&r.to_resource()))
        .collect();
    hits.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    hits.into_iter().map(|r| r.id.clone()).collect()
}

fn spec(i: usize, user_name: &str) -> UserSpec {
    UserSpec {
        id: format!("u{i:02}"),
        user_name: user_name.to_owned(),
        external_id: None,
        display_name: None,
        title: None,
        emails: Vec::new(),
        active: true,
        created: base_time() + Duration::seconds(i64::try_from(i).unwrap()),
        last_modified: base_time() + Duration::hours(1),
    }
}

fn fixture(store: &Store) -> (String, Vec<UserRecord>) {
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap()
        .id;
    let mut specs = [
        spec(0, "Alice"),
        spec(1, "ÄRGER"),
        spec(2, "bob%"),
        spec(3, "bob_x"),
        spec(4, "Bob\\y"),
        spec(5, "carol"),
    ];
    specs[0].emails = vec![
        ("alice@Work.example".into(), Some("work".into()), true),
        ("alice@home.example".into(), Some("home".into()), false),
    ];
    specs[1].emails = vec![("ärger@work.example".into(), Some("Home".into()), false)];
    specs[1].title = Some("Boss".into());
    specs[2].external_id = Some("EXT-%".into());
    specs[3].external_id = Some("ext-_".into());
    specs[3].active = false;
    specs[4].display_name = Some("Bob Y".into());
    specs[4].title = Some("boss".into());
    specs[5].display_name = Some("Äsa".into());
    let records: Vec<UserRecord> = specs.iter().map(|s| user_record(&t, s)).collect();
    store
        .transaction(|c| {
            for r in &records {
                users::insert(c, r)?;
            }
            Ok(())
        })
        .unwrap();
    (t, records)
}

fn list_ids(store: &Store, t: &str, q: &ListQuery<'_>) -> (u64, Vec<String>) {
    let page = store.with_conn(|c| users::list(c, t, q)).unwrap();
    (page.total, ids(&page, |u| &u.id))
}

store_test!(user_filters_match_the_evaluator, |db| {
    let store = db.store();
    let (t, records) = fixture(store);
    for text in [
        r#"userName eq "alice""#,
        r#"userName eq "ärger""#,
        r#"userName sw "BOB""#,
        r#"userName co "%""#,
        r#"userName co "_""#,
        r#"userName co "\\""#,
        r#"userName ew "_x""#,
        r#"userName gt "bob""#,
        r#"externalId eq "ext-%""#,
        r#"externalId co "%""#,
        r#"externalId sw "EXT""#,
        r#"externalId ew "-_""#,
        r#"externalId ne "EXT-%""#,
        r#"externalId eq null"#,
        r#"externalId pr"#,
        r#"displayName eq "äsa""#,
        r#"displayName pr"#,
        r#"not (displayName pr)"#,
        r#"active eq false"#,
        r#"active ne "True""#,
        r#"emails.value eq "ALICE@work.example""#,
        r#"emails co "example""#,
        r#"emails.type eq "home""#,
        r#"emails.type ne "home""#,
        r#"emails[type eq "work" and value ew "home.example"]"#,
        r#"emails[type eq "home" and value ew "home.example"]"#,
        r#"emails[not (type eq "work")]"#,
        r#"emails pr"#,
        r#"emails[primary eq true]"#,
        r#"title eq "boss""#,
        r#"title eq "boss" and userName sw "b""#,
        r#"title eq "boss" or userName eq "carol""#,
        r#"not (title pr and active eq true)"#,
        r#"meta.created gt "2026-11-02T09:00:02Z""#,
        r#"meta.created ge "2026-11-02T09:00:02Z""#,
        r#"meta.created lt "2026-11-02T11:00:02.0000005+02:00""#,
        r#"meta.created eq "2026-11-02T09:00:02.000000001Z""#,
        r#"meta.lastModified le "2026-11-02T10:00:00Z""#,
        r#"meta.created sw "2026-11-02T09:00:0""#,
        r#"meta.version eq "W/\"1\"""#,
        r#"id eq "u03" or id eq "U04""#,
    ] {
        let filter = parse_filter(text).unwrap();
        let expected = expected_users(&records, &filter);
        let (total, got) = list_ids(store, &t, &query(Some(&filter)));
        assert_eq!(got, expected, "{text}");
        assert_eq!(total, expected.len() as u64, "{text}");
    }
    // Sanity: the fixture makes these non-trivial.
    let f = parse_filter(r#"emails[type eq "work" and value ew "home.example"]"#).unwrap();
    assert!(expected_users(&records, &f).is_empty());
    let f = parse_filter(r#"userName co "%""#).unwrap();
    assert_eq!(expected_users(&records, &f), vec!["u02"]);
});

store_test!(user_lists_page_and_sort, |db| {
    let store = db.store();
    let (t, _) = fixture(store);
    let all = list_ids(store, &t, &query(None));
    assert_eq!(all.0, 6);
    assert_eq!(all.1, ["u00", "u01", "u02", "u03", "u04", "u05"]);

    let mut q = query(None);
    q.start_index = 2;
    q.count = 2;
    assert_eq!(
        list_ids(store, &t, &q),
        (6, vec!["u01".into(), "u02".into()])
    );
    q.start_index = 0; // treated as 1
    assert_eq!(
        list_ids(store, &t, &q),
        (6, vec!["u00".into(), "u01".into()])
    );
    q.count = 0;
    assert_eq!(list_ids(store, &t, &q), (6, vec![]));
    q.start_index = 7;
    q.count = 5;
    assert_eq!(list_ids(store, &t, &q), (6, vec![]));

    // In memory (title is not indexed), paged after evaluation.
    let f = parse_filter(r#"title pr or userName sw "c""#).unwrap();
    let mut q = query(Some(&f));
    q.start_index = 2;
    q.count = 1;
    assert_eq!(list_ids(store, &t, &q), (3, vec!["u04".into()]));

    // userName sorts by its folded value; absent values last in both directions.
    let user_name = AttrPath::new("userName");
    let mut q = query(None);
    q.sort_by = Some(&user_name);
    assert_eq!(
        list_ids(store, &t, &q).1,
        ["u00", "u02", "u04", "u03", "u05", "u01"]
    );
    q.descending = true;
    assert_eq!(
        list_ids(store, &t, &q).1,
        ["u01", "u05", "u03", "u04", "u02", "u00"]
    );
    let display = AttrPath::new("displayName");
    q.sort_by = Some(&display);
    assert_eq!(
        list_ids(store, &t, &q).1,
        ["u05", "u04", "u00", "u01", "u02", "u03"]
    );
    // The same order when the filter is finished in memory.
    let f = parse_filter("title pr or not (title pr)").unwrap();
    q.filter = Some(&f);
    assert_eq!(
        list_ids(store, &t, &q).1,
        ["u05", "u04", "u00", "u01", "u02", "u03"]
    );
    // In-memory sort on a non-indexed attribute (case-insensitive, absent last).
    let title = AttrPath::new("title");
    let mut q = query(None);
    q.sort_by = Some(&title);
    assert_eq!(
        list_ids(store, &t, &q).1,
        ["u01", "u04", "u00", "u02", "u03", "u05"]
    );
    q.descending = true;
    q.start_index = 2;
    q.count = 2;
    assert_eq!(
        list_ids(store, &t, &q),
        (6, vec!["u04".into(), "u00".into()])
    );
    // emails sort by the first email's value.
    let emails = AttrPath::new("emails");
    let mut q = query(None);
    q.sort_by = Some(&emails);
    assert_eq!(list_ids(store, &t, &q).1[..2], ["u00", "u01"]);
    // Lists return complete records.
    let page = store
        .with_conn(|c| users::list(c, &t, &query(None)))
        .unwrap();
    assert_eq!(page.items[0].emails.len(), 2);
    assert_eq!(page.items[0].lifecycle, json!({ "state": "Staged" }));
    // list_documents: the same page, in SQL and in memory, without email rows.
    for filter in [None, Some("title co \"e\"")] {
        let parsed = filter.map(|f| scim_model::parse_filter(f).unwrap());
        let q = query(parsed.as_ref());
        let (full, docs) = store
            .with_conn(|c| Ok((users::list(c, &t, &q)?, users::list_documents(c, &t, &q)?)))
            .unwrap();
        assert_eq!(full.total, docs.total);
        let ids = |p: &store_diesel::Page<users::UserRecord>| {
            p.items.iter().map(|u| u.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&full), ids(&docs));
        for (a, b) in full.items.iter().zip(&docs.items) {
            assert_eq!(a.to_resource(), b.to_resource());
            assert!(b.emails.is_empty());
        }
    }
});

store_test!(unsupported_and_invalid_filters, |db| {
    let store = db.store();
    let (t, _) = fixture(store);
    for text in [
        r#"groups.type eq "direct""#,
        r#"groups[type eq "direct"]"#,
        r#"groups pr and title eq "x""#,
        r#"meta.location co "Users""#,
        r#"active gt true"#,
        r#"nosuch eq "x""#,
    ] {
        let f = parse_filter(text).unwrap();
        let got = store.with_conn(|c| users::list(c, &t, &query(Some(&f))));
        assert!(
            matches!(got, Err(StoreError::UnsupportedFilter(_))),
            "{text}: {got:?}"
        );
    }
    for text in [
        r#"members.display eq "x""#,
        r#"members[type eq "User"]"#,
        r#"members.value eq "u1" or urn:ietf:params:scim:schemas:extension:provisioning:2.0:Group:membersCanStoreData eq true"#,
    ] {
        let Ok(f) = parse_filter(text) else {
            panic!("{text}")
        };
        let got = store.with_conn(|c| groups::list(c, &t, &query(Some(&f))));
        assert!(
            matches!(got, Err(StoreError::UnsupportedFilter(_))),
            "{text}: {got:?}"
        );
    }
});

pub fn group_record(tenant_id: &str, id: &str, name: &str, created: DateTime<Utc>) -> GroupRecord {
    GroupRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        display_name: name.to_owned(),
        external_id: None,
        override_require_mobile_auth: None,
        members_can_store_data: true,
        created_at: created,
        last_modified: created,
        version: 1,
        document: json!({ "displayName": name }),
    }
}

store_test!(group_filters_on_members, |db| {
    let store = db.store();
    let (t, _) = fixture(store);
    let gs = [
        group_record(&t, "g1", "Admins", base_time()),
        group_record(&t, "g2", "admins-2", base_time() + Duration::seconds(1)),
        group_record(&t, "g3", "Empty", base_time() + Duration::seconds(2)),
    ];
    store
        .transaction(|c| {
            for g in &gs {
                groups::insert(c, g)?;
            }
            groups::add_members(c, &t, "g1", &["u00", "u02"])?;
            groups::add_members(c, &t, "g2", &["u02", "u03"])?;
            Ok(())
        })
        .unwrap();
    let list = |text: &str| {
        let f = parse_filter(text).unwrap();
        f.compile(&GROUP).unwrap();
        let page = store
            .with_conn(|c| groups::list(c, &t, &query(Some(&f))))
            .unwrap();
        (page.total, ids(&page, |g| &g.id))
    };
    assert_eq!(list(r#"members.value eq "u02""#).1, ["g1", "g2"]);
    assert_eq!(list(r#"members eq "u00""#).1, ["g1"]);
    assert_eq!(list(r#"members[value eq "u03"]"#).1, ["g2"]);
    assert_eq!(list(r#"members[value eq "U03"]"#).1, Vec::<String>::new());
    assert_eq!(list("members pr").1, ["g1", "g2"]);
    assert_eq!(list("not (members pr)").1, ["g3"]);
    assert_eq!(list(r#"members.value ne "u00""#).1, ["g2", "g3"]);
    assert_eq!(
        list(r#"displayName sw "ADMINS" and not (members.value eq "u00")"#),
        (1, vec!["g2".into()])
    );
    assert_eq!(list(r#"displayName eq "admins""#).1, ["g1"]);
    // Filters without members never read group_members; a non-indexed group
    // attribute is finished in memory.
    assert_eq!(
        list(
            r#"urn:ietf:params:scim:schemas:extension:provisioning:2.0:Group:membersCanStoreData pr or id eq "g3""#
        )
        .1,
        ["g3"]
    );
});

use chrono::Utc;
use serde_json::json;
use store_diesel::groups::{self, GroupRecord};
use store_diesel::users::{self, Email, UserRecord};
use store_diesel::{DbConnection, tenants};

use super::*;

fn user(tenant_id: &str, id: &str, user_name: &str) -> UserRecord {
    let now = Utc::now();
    UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        user_name: user_name.to_owned(),
        external_id: Some(format!("ext-{id}")),
        display_name: Some(format!("User {id}")),
        active: true,
        status: "Staged".to_owned(),
        status_before_suspend: None,
        override_automatic_invitation: None,
        override_require_mobile_auth: Some(false),
        mobile_device_enrolled: false,
        mobile_device_name: None,
        created_at: now,
        last_modified: now,
        version: 1,
        document: json!({ "userName": user_name }),
        lifecycle: json!({ "state": "Staged", "history": [] }),
        emails: vec![
            Email {
                value: format!("{user_name}@Example.com"),
                email_type: Some("work".into()),
                primary: true,
            },
            Email {
                value: format!("{user_name}@home.example"),
                email_type: None,
                primary: false,
            },
        ],
    }
}

fn group(tenant_id: &str, id: &str, name: &str) -> GroupRecord {
    let now = Utc::now();
    GroupRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        display_name: name.to_owned(),
        external_id: None,
        override_require_mobile_auth: None,
        members_can_store_data: true,
        created_at: now,
        last_modified: now,
        version: 1,
        document: json!({ "displayName": name }),
    }
}

fn tenant(store: &Store, slug: &str) -> String {
    store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap()
        .id
}

fn tx<T>(
    store: &Store,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    store.transaction(f)
}

store_test!(user_round_trip_and_case_insensitive_lookup, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let alice = user(&t, "u1", "Alice@Example.com");
    tx(store, |c| users::insert(c, &alice)).unwrap();

    let got = store.with_conn(|c| users::get(c, &t, "u1")).unwrap();
    // Timestamps come back truncated to microseconds on both backends.
    assert_eq!(
        got.created_at.timestamp_micros(),
        alice.created_at.timestamp_micros()
    );
    assert_eq!(got.emails, alice.emails);
    assert_eq!(got.document, alice.document);
    assert_eq!(got.lifecycle, alice.lifecycle);
    assert_eq!(got.override_require_mobile_auth, Some(false));
    assert_eq!(got.override_automatic_invitation, None);

    let found = store
        .with_conn(|c| users::find_by_user_name(c, &t, "ALICE@example.COM"))
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some("u1".to_owned()));
    assert!(
        store
            .with_conn(|c| users::find_by_user_name(c, &t, "bob"))
            .unwrap()
            .is_none()
    );
    // Another tenant sees nothing.
    let other = tenant(store, "other");
    assert!(
        store
            .with_conn(|c| users::find_by_user_name(c, &other, "alice@example.com"))
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.with_conn(|c| users::get(c, &other, "u1")),
        Err(StoreError::NotFound)
    ));
});

store_test!(user_name_is_unique_case_insensitively, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    tx(store, |c| users::insert(c, &user(&t, "u1", "alice"))).unwrap();
    match tx(store, |c| users::insert(c, &user(&t, "u2", "ALICE"))) {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "userName"),
        other => panic!("expected a userName conflict, got {other:?}"),
    }
    // Nothing of the failed insert remains (its emails neither).
    assert_eq!(store.with_conn(|c| users::count(c, &t)).unwrap(), 1);
    // The same userName in another tenant is fine.
    let other = tenant(store, "other");
    tx(store, |c| users::insert(c, &user(&other, "u2", "ALICE"))).unwrap();
});

store_test!(update_checks_versions_and_uniqueness, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    tx(store, |c| users::insert(c, &user(&t, "u1", "alice"))).unwrap();
    tx(store, |c| users::insert(c, &user(&t, "u2", "bob"))).unwrap();

    let mut alice = store.with_conn(|c| users::get(c, &t, "u1")).unwrap();
    alice.user_name = "Alicia".into();
    alice.active = false;
    alice.status = "Suspended".into();
    alice.status_before_suspend = Some("Staged".into());
    alice.override_require_mobile_auth = None;
    alice.emails.truncate(1);
    assert_eq!(tx(store, |c| users::update(c, &alice, Some(1))).unwrap(), 2);
    let got = store.with_conn(|c| users::get(c, &t, "u1")).unwrap();
    assert_eq!(
        (got.version, got.user_name.as_str(), got.active),
        (2, "Alicia", false)
    );
    assert_eq!(got.override_require_mobile_auth, None, "None writes NULL");
    assert_eq!(got.emails.len(), 1);
    assert!(
        store
            .with_conn(|c| users::find_by_user_name(c, &t, "alice"))
            .unwrap()
            .is_none()
    );

    assert!(matches!(
        tx(store, |c| users::update(c, &alice, Some(1))),
        Err(StoreError::PreconditionFailed { current: 2 })
    ));
    alice.user_name = "BOB".into();
    assert!(matches!(
        tx(store, |c| users::update(c, &alice, None)),
        Err(StoreError::Conflict { .. })
    ));
    let ghost = user(&t, "nope", "ghost");
    assert!(matches!(
        tx(store, |c| users::update(c, &ghost, None)),
        Err(StoreError::NotFound)
    ));
    // An invalid status is refused by the database.
    let mut bad = user(&t, "u3", "carol");
    bad.status = "Deleted".into();
    assert!(tx(store, |c| users::insert(c, &bad)).is_err());
});

store_test!(deleting_a_user_frees_its_user_name_and_cascades, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    tx(store, |c| users::insert(c, &user(&t, "u1", "alice"))).unwrap();
    tx(store, |c| groups::insert(c, &group(&t, "g1", "Staff"))).unwrap();
    tx(store, |c| groups::add_members(c, &t, "g1", &["u1"])).unwrap();

    tx(store, |c| users::delete(c, &t, "u1")).unwrap();
    assert!(matches!(
        store.with_conn(|c| users::get(c, &t, "u1")),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        tx(store, |c| users::delete(c, &t, "u1")),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        0
    );
    tx(store, |c| users::insert(c, &user(&t, "u9", "ALICE"))).unwrap();
});

store_test!(group_members_are_idempotent_deltas, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    for (id, name) in [("u1", "a"), ("u2", "b"), ("u3", "c")] {
        tx(store, |c| users::insert(c, &user(&t, id, name))).unwrap();
    }
    tx(store, |c| groups::insert(c, &group(&t, "g1", "Staff"))).unwrap();
    tx(store, |c| groups::insert(c, &group(&t, "g2", "Other"))).unwrap();
    match tx(store, |c| groups::insert(c, &group(&t, "g3", "STAFF"))) {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "displayName"),
        other => panic!("expected a displayName conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .with_conn(|c| groups::find_by_display_name(c, &t, "staff"))
            .unwrap()
            .map(|g| g.id),
        Some("g1".to_owned())
    );

    assert_eq!(
        tx(store, |c| groups::add_members(c, &t, "g1", &["u1", "u2"])).unwrap(),
        2
    );
    assert_eq!(
        tx(store, |c| groups::add_members(
            c,
            &t,
            "g1",
            &["u2", "u3", "u3"]
        ))
        .unwrap(),
        1
    );
    assert_eq!(
        tx(store, |c| groups::add_members(c, &t, "g1", &["u1"])).unwrap(),
        0
    );
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        3
    );
    tx(store, |c| groups::add_members(c, &t, "g2", &["u2"])).unwrap();
    assert_eq!(
        store
            .with_conn(|c| groups::group_ids_of_user(c, &t, "u2"))
            .unwrap(),
        vec!["g1".to_owned(), "g2".to_owned()]
    );
    assert_eq!(
        store
            .with_conn(|c| groups::member_ids(c, &t, "g1", Some("u1"), 10))
            .unwrap(),
        vec!["u2".to_owned(), "u3".to_owned()]
    );

    assert!(matches!(
        tx(store, |c| groups::add_members(
            c,
            &t,
            "g1",
            &["no-such-user"]
        )),
        Err(StoreError::MissingReference { .. })
    ));
    assert_eq!(
        tx(store, |c| groups::remove_members(
            c,
            &t,
            "g1",
            &["u1", "u9"]
        ))
        .unwrap(),
        1
    );
    assert_eq!(
        tx(store, |c| groups::remove_members(c, &t, "g1", &["u1"])).unwrap(),
        0
    );

    let mut g = store.with_conn(|c| groups::get(c, &t, "g1")).unwrap();
    g.members_can_store_data = false;
    g.override_require_mobile_auth = Some(true);
    assert_eq!(tx(store, |c| groups::update(c, &g, Some(1))).unwrap(), 2);
    let got = store.with_conn(|c| groups::get(c, &t, "g1")).unwrap();
    assert!(!got.members_can_store_data);
    assert_eq!(got.override_require_mobile_auth, Some(true));
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        2,
        "update keeps members"
    );

    tx(store, |c| groups::delete(c, &t, "g1")).unwrap();
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .with_conn(|c| groups::group_ids_of_user(c, &t, "u2"))
            .unwrap(),
        vec!["g2".to_owned()]
    );
    assert!(
        store.with_conn(|c| users::get(c, &t, "u2")).is_ok(),
        "users survive their group"
    );
});

store_test!(adding_many_members_touches_only_new_rows, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let ids: Vec<String> = (0..1200).map(|i| format!("u{i:04}")).collect();
    store
        .transaction(|c| {
            for id in &ids {
                let mut u = user(&t, id, id);
                u.emails.clear();
                users::insert(c, &u)?;
            }
            groups::insert(c, &group(&t, "g1", "Big"))
        })
        .unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(
        tx(store, |c| groups::add_members(c, &t, "g1", &refs[..1100])).unwrap(),
        1100
    );
    assert_eq!(
        tx(store, |c| groups::add_members(c, &t, "g1", &refs)).unwrap(),
        100
    );
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        1200
    );
    assert_eq!(
        tx(store, |c| groups::remove_members(c, &t, "g1", &refs[..600])).unwrap(),
        600
    );
    assert_eq!(
        store
            .with_conn(|c| groups::member_count(c, &t, "g1"))
            .unwrap(),
        600
    );
});

store_test!(resources_render_id_and_meta, |db| {
    use chrono::TimeZone;
    let store = db.store();
    let t = tenant(store, "acme");
    let mut alice = user(&t, "u1", "alice");
    alice.created_at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 14, 7).unwrap();
    alice.last_modified = alice.created_at + chrono::Duration::microseconds(123_450);
    alice.version = 3;
    alice.lifecycle = json!({ "state": "Invited", "nested": { "n": [1, 2.5, null] } });
    tx(store, |c| users::insert(c, &alice)).unwrap();
    let got = store.with_conn(|c| users::get(c, &t, "u1")).unwrap();
    assert_eq!(got.lifecycle, alice.lifecycle);
    assert_eq!(
        got.to_resource(),
        json!({
            "userName": "alice",
            "id": "u1",
            "meta": {
                "resourceType": "User",
                "created": "2026-11-02T09:14:07Z",
                "lastModified": "2026-11-02T09:14:07.123450Z",
                "version": "W/\"3\"",
            }
        })
    );

    let mut g = group(&t, "g1", "Admins");
    g.created_at = alice.created_at;
    g.last_modified = alice.created_at + chrono::Duration::milliseconds(5);
    tx(store, |c| groups::insert(c, &g)).unwrap();
    let got = store.with_conn(|c| groups::get(c, &t, "g1")).unwrap();
    assert_eq!(
        got.to_resource(),
        json!({
            "displayName": "Admins",
            "id": "g1",
            "meta": {
                "resourceType": "Group",
                "created": "2026-11-02T09:14:07Z",
                "lastModified": "2026-11-02T09:14:07.005Z",
                "version": "W/\"1\"",
            }
        })
    );
});

store_test!(existing_ids_are_per_tenant_and_per_kind, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let other = tenant(store, "other");
    tx(store, |c| users::insert(c, &user(&t, "u1", "alice"))).unwrap();
    tx(store, |c| users::insert(c, &user(&other, "u2", "bob"))).unwrap();
    tx(store, |c| groups::insert(c, &group(&t, "g1", "G"))).unwrap();
    // More ids than one batch, to cross the chunk boundary.
    let mut ids: Vec<String> = (0..1200).map(|i| format!("nope-{i}")).collect();
    ids.extend(["u1", "u2", "g1"].map(str::to_owned));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let found = store
        .with_conn(|c| users::existing_ids(c, &t, &ids))
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["u1"]);
    let found = store
        .with_conn(|c| groups::existing_ids(c, &t, &ids))
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["g1"]);
    let found = store
        .with_conn(|c| users::existing_ids(c, &other, &ids))
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["u2"]);
    assert!(
        store
            .with_conn(|c| users::existing_ids(c, &t, &[]))
            .unwrap()
            .is_empty()
    );
});

use chrono::{TimeDelta, Utc};
use serde_json::json;
use store_diesel::invitations::{self, Cursor, InvitationState, StateFilter, hash_secret};
use store_diesel::users::{self, UserRecord};
use store_diesel::{tenants, user_pages};

use super::*;

fn user(tenant_id: &str, id: &str, status: &str) -> UserRecord {
    let now = Utc::now();
    UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        user_name: format!("{id}@example.com"),
        external_id: None,
        display_name: None,
        active: status != "Suspended",
        status: status.to_owned(),
        status_before_suspend: (status == "Suspended").then(|| "Staged".to_owned()),
        override_automatic_invitation: None,
        override_require_mobile_auth: None,
        mobile_device_enrolled: false,
        mobile_device_name: None,
        created_at: now,
        last_modified: now,
        version: 1,
        document: json!({ "userName": id }),
        lifecycle: json!({}),
        emails: vec![],
    }
}

fn setup(store: &Store, slug: &str, users: &[(&str, &str)]) -> String {
    let t = store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap();
    for (id, status) in users {
        let u = user(&t.id, id, status);
        store.transaction(|c| users::insert(c, &u)).unwrap();
    }
    t.id
}

store_test!(queue_release_accept_once, |db| {
    let store = db.store();
    let t = setup(store, "acme", &[("u1", "Staged")]);
    let now = Utc::now();
    let q = store
        .transaction(|c| invitations::queue(c, &t, "u1", 1, "automatic", now))
        .unwrap();
    assert_eq!(q.state, InvitationState::Queued);
    assert_eq!(q.number, 1);
    assert_eq!(q.trigger, "automatic");
    assert_eq!(q.secret_hash, None);
    assert_eq!(
        store
            .with_conn(|c| invitations::users_with_queued(c, &t))
            .unwrap(),
        vec!["u1".to_owned()]
    );
    // The same number twice is a conflict; an unknown trigger is refused.
    assert!(matches!(
        store.transaction(|c| invitations::queue(c, &t, "u1", 1, "explicit", now)),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.transaction(|c| invitations::queue(c, &t, "u1", 2, "bogus", now)),
        Err(StoreError::InvalidInput(_))
    ));
    // An invitation for an unknown user is a missing reference.
    assert!(matches!(
        store.transaction(|c| invitations::queue(c, &t, "nobody", 1, "explicit", now)),
        Err(StoreError::MissingReference { .. })
    ));

    let hash = hash_secret("the-secret");
    assert_ne!(hash, "the-secret");
    let expires = now + TimeDelta::days(7);
    let sent = store
        .transaction(|c| invitations::release(c, &t, "u1", 1, now, expires, &hash))
        .unwrap();
    assert_eq!(sent.state, InvitationState::Sent);
    assert_eq!(sent.id, q.id);
    assert!(sent.expires_at.is_some());
    // Releasing again finds nothing queued.
    assert!(matches!(
        store.transaction(|c| invitations::release(c, &t, "u1", 1, now, expires, &hash)),
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .with_conn(|c| invitations::users_with_queued(c, &t))
            .unwrap()
            .is_empty()
    );

    // Delivery is recorded once.
    assert!(
        store
            .transaction(|c| invitations::mark_sent(c, &t, &q.id, now))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| invitations::mark_sent(c, &t, &q.id, now))
            .unwrap()
    );

    let found = store
        .with_conn(|c| invitations::find_by_hash(c, &t, &hash))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, q.id);
    assert!(
        store
            .with_conn(|c| invitations::find_by_hash(c, &t, &hash_secret("other")))
            .unwrap()
            .is_none()
    );
    // A link works once.
    assert!(
        store
            .transaction(|c| invitations::accept(c, &t, &q.id, now))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| invitations::accept(c, &t, &q.id, now))
            .unwrap()
    );
    let accepted = store.with_conn(|c| invitations::get(c, &t, &q.id)).unwrap();
    assert_eq!(accepted.state, InvitationState::Accepted);
    assert!(accepted.accepted_at.is_some());
    // Accepted is final: cancel does nothing.
    assert!(
        !store
            .transaction(|c| invitations::cancel(c, &t, "u1", 1))
            .unwrap()
    );
});

store_test!(expired_links_are_refused_and_listed_as_expired, |db| {
    let store = db.store();
    let t = setup(store, "acme", &[("u1", "Invited")]);
    let past = Utc::now() - TimeDelta::days(8);
    let q = store
        .transaction(|c| invitations::queue(c, &t, "u1", 1, "explicit", past))
        .unwrap();
    let expires = past + TimeDelta::days(7);
    store
        .transaction(|c| invitations::release(c, &t, "u1", 1, past, expires, &hash_secret("s")))
        .unwrap();
    let now = Utc::now();
    assert!(
        !store
            .transaction(|c| invitations::accept(c, &t, &q.id, now))
            .unwrap()
    );
    let rec = store.with_conn(|c| invitations::get(c, &t, &q.id)).unwrap();
    assert_eq!(rec.state, InvitationState::Sent);
    assert_eq!(rec.reported_state(now), "expired");
    let expired = store
        .with_conn(|c| invitations::list(c, &t, Some(StateFilter::Expired), None, 10, now))
        .unwrap();
    assert_eq!(expired.len(), 1);
    let sent = store
        .with_conn(|c| invitations::list(c, &t, Some(StateFilter::Sent), None, 10, now))
        .unwrap();
    assert!(sent.is_empty());
    // It was accepted before its expiry in the past: that works.
    assert!(
        store
            .transaction(|c| invitations::accept(c, &t, &q.id, past + TimeDelta::days(1)))
            .unwrap()
    );
});

store_test!(cancel_and_list_with_keyset_paging, |db| {
    let store = db.store();
    let t = setup(
        store,
        "acme",
        &[
            ("a", "Staged"),
            ("b", "Staged"),
            ("c", "Staged"),
            ("d", "Suspended"),
        ],
    );
    let other = setup(store, "other", &[("a", "Staged")]);
    let now = Utc::now();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let at = now + TimeDelta::seconds(i64::try_from(i).unwrap());
        store
            .transaction(|c| invitations::queue(c, &t, id, 1, "automatic", at))
            .unwrap();
    }
    store
        .transaction(|c| invitations::queue(c, &other, "a", 1, "automatic", now))
        .unwrap();
    assert!(
        store
            .transaction(|c| invitations::cancel(c, &t, "d", 1))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| invitations::cancel(c, &t, "d", 1))
            .unwrap()
    );

    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = store
            .with_conn(|c| invitations::list(c, &t, None, after.as_ref(), 3, now))
            .unwrap();
        if page.is_empty() {
            break;
        }
        // The cursor survives its text form.
        let cursor = Cursor::after(page.last().unwrap());
        after = Some(Cursor::parse(&cursor.to_string()).unwrap());
        assert_eq!(after.as_ref(), Some(&cursor));
        seen.extend(page.into_iter().map(|i| i.user_id));
    }
    assert_eq!(seen, ["a", "b", "c", "d"], "oldest first, own tenant only");
    let queued = store
        .with_conn(|c| invitations::list(c, &t, Some(StateFilter::Queued), None, 10, now))
        .unwrap();
    assert_eq!(queued.len(), 3);
    let cancelled = store
        .with_conn(|c| invitations::list(c, &t, Some(StateFilter::Cancelled), None, 10, now))
        .unwrap();
    assert_eq!(
        cancelled
            .iter()
            .map(|i| i.user_id.as_str())
            .collect::<Vec<_>>(),
        ["d"]
    );
    assert_eq!(
        store
            .with_conn(|c| invitations::users_with_queued(c, &t))
            .unwrap(),
        ["a", "b", "c"]
    );
    assert!(Cursor::parse("garbage").is_none());
    assert_eq!(StateFilter::parse("expired"), Some(StateFilter::Expired));
    assert_eq!(StateFilter::parse("nope"), None);

    // Deleting a user removes their invitations.
    store.transaction(|c| users::delete(c, &t, "a")).unwrap();
    assert!(
        store
            .with_conn(|c| invitations::of_user(c, &t, "a"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .with_conn(|c| invitations::of_user(c, &other, "a"))
            .unwrap()
            .len(),
        1
    );
});

store_test!(users_by_status_pages_by_id, |db| {
    let store = db.store();
    let t = setup(
        store,
        "acme",
        &[
            ("u1", "Staged"),
            ("u2", "Active"),
            ("u3", "Staged"),
            ("u4", "Staged"),
        ],
    );
    let all = store
        .with_conn(|c| user_pages::by_status(c, &t, None, None, 10))
        .unwrap();
    assert_eq!(all.len(), 4);
    let first = store
        .with_conn(|c| user_pages::by_status(c, &t, Some("Staged"), None, 2))
        .unwrap();
    assert_eq!(
        first.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["u1", "u3"]
    );
    let rest = store
        .with_conn(|c| user_pages::by_status(c, &t, Some("Staged"), Some("u3"), 2))
        .unwrap();
    assert_eq!(
        rest.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["u4"]
    );
});

store_test!(cursors_that_parse_can_be_listed, |db| {
    let store = db.store();
    let t = setup(store, "acme", &[]);
    let now = Utc::now();
    // Client text: before the epoch (PostgreSQL's timestamps end in 4713 BC),
    // or an id with a NUL (PostgreSQL text cannot hold one).
    for text in [
        "-1000000000000000000.x",
        "-9000000000000000.x",
        "1.a\u{0}b",
        "8000000000000000000.x",
    ] {
        if let Some(cursor) = Cursor::parse(text) {
            store
                .with_conn(|c| invitations::list(c, &t, None, Some(&cursor), 10, now))
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }
    assert!(
        Cursor::parse("-1.x").is_none(),
        "no cursor before the epoch"
    );
});

store_test!(an_undeliverable_invitation_is_marked_failed_once, |db| {
    let store = db.store();
    let t = setup(store, "acme", &[("u1", "Staged"), ("u2", "Staged")]);
    let now = Utc::now();
    let expires = now + TimeDelta::days(7);
    let mut ids = Vec::new();
    for u in ["u1", "u2"] {
        store
            .transaction(|c| invitations::queue(c, &t, u, 1, "automatic", now))
            .unwrap();
        let r = store
            .transaction(|c| invitations::release(c, &t, u, 1, now, expires, &hash_secret(u)))
            .unwrap();
        ids.push(r.id);
    }
    // A queued invitation cannot fail; a released, undelivered one can, once.
    let failed = store
        .transaction(|c| invitations::mark_failed(c, &t, &ids[0], "user u1 has no email address"))
        .unwrap();
    assert!(failed);
    let again = store
        .transaction(|c| invitations::mark_failed(c, &t, &ids[0], "other"))
        .unwrap();
    assert!(!again);
    let rec = store
        .with_conn(|c| invitations::get(c, &t, &ids[0]))
        .unwrap();
    assert_eq!(rec.state, InvitationState::Failed);
    assert_eq!(rec.reported_state(now), "failed");
    assert_eq!(rec.sent_at, None);
    assert_eq!(
        rec.last_error.as_deref(),
        Some("user u1 has no email address")
    );
    // Its link does not work.
    assert!(
        !store
            .transaction(|c| invitations::accept(c, &t, &ids[0], now))
            .unwrap()
    );
    // A delivered invitation cannot fail any more.
    assert!(
        store
            .transaction(|c| invitations::mark_sent(c, &t, &ids[1], now))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| invitations::mark_failed(c, &t, &ids[1], "late"))
            .unwrap()
    );
    // The `failed` filter lists it; `sent` does not.
    let list = |f| {
        store
            .with_conn(|c| invitations::list(c, &t, Some(f), None, 100, now))
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(StateFilter::Failed), vec![ids[0].clone()]);
    assert_eq!(list(StateFilter::Sent), vec![ids[1].clone()]);
    let status = store
        .with_conn(|c| store_diesel::status::of_tenant(c, &t))
        .unwrap();
    assert_eq!(status.invitations_failed, 1);
    assert_eq!(status.invitations_undelivered, 0);
});

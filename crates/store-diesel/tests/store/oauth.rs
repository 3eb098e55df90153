use chrono::{TimeDelta, Utc};
use store_diesel::{oauth, tenants};

use super::*;

store_test!(create_rotate_and_delete_a_client, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    assert!(store.with_conn(|c| oauth::get(c, &t.id)).unwrap().is_none());

    let first = store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::hours(1)))
        .unwrap();
    assert!(first.created);
    assert_eq!(first.generation, 1);
    assert_eq!(first.previous_secret_expires_at, None, "nothing to keep");
    assert!(first.client_id.starts_with(&format!("{}.", t.id)));
    assert_eq!(
        oauth::tenant_of_client_id(&first.client_id),
        Some(t.id.as_str())
    );
    assert!(
        !format!("{first:?}").contains(&first.client_secret),
        "Debug hides the secret"
    );
    let stored = store.with_conn(|c| oauth::get(c, &t.id)).unwrap().unwrap();
    assert_eq!(stored.secret_hash, oauth::hash_secret(&first.client_secret));
    assert_ne!(
        stored.secret_hash, first.client_secret,
        "only the hash is stored"
    );

    let now = Utc::now();
    let auth = |secret: &str, at| {
        store
            .with_conn(|c| oauth::authenticate_secret(c, &first.client_id, secret, at))
            .unwrap()
    };
    assert_eq!(auth(&first.client_secret, now).unwrap().generation, 1);
    assert!(auth("wrong", now).is_none());
    assert!(
        store
            .with_conn(|c| oauth::authenticate_secret(c, "nope.x", &first.client_secret, now))
            .unwrap()
            .is_none()
    );

    // Rotation with a grace period: same id, both secrets work for an hour.
    let second = store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::hours(1)))
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.client_id, first.client_id);
    assert_eq!(second.generation, 2);
    let until = second.previous_secret_expires_at.unwrap();
    assert!((until - (now + TimeDelta::hours(1))).num_seconds().abs() < 60);
    assert_eq!(auth(&second.client_secret, now).unwrap().generation, 2);
    assert_eq!(auth(&first.client_secret, now).unwrap().generation, 1);
    let later = until + TimeDelta::seconds(1);
    assert!(auth(&first.client_secret, later).is_none(), "grace over");
    assert!(auth(&second.client_secret, later).is_some());

    let current = |generation: i64, at| {
        store
            .with_conn(|c| {
                oauth::access_token_is_current(c, &t.id, &first.client_id, generation, at)
            })
            .unwrap()
    };
    assert!(current(2, now));
    assert!(
        current(1, now),
        "tokens of the replaced secret, in its grace period"
    );
    assert!(!current(1, later));
    assert!(!current(0, now));
    assert!(!current(3, now));
    assert!(
        !store
            .with_conn(|c| oauth::access_token_is_current(c, &t.id, "other.id", 2, now))
            .unwrap()
    );

    // Rotation without grace: the replaced secret and its tokens die at once.
    let third = store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::zero()))
        .unwrap();
    assert_eq!(third.generation, 3);
    assert_eq!(third.previous_secret_expires_at, None);
    assert!(auth(&second.client_secret, now).is_none());
    assert!(auth(&first.client_secret, now).is_none());
    assert!(current(3, now));
    assert!(!current(2, now));

    assert!(matches!(
        store.transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::days(31))),
        Err(StoreError::InvalidInput(_))
    ));

    // Deletion: everything dies; a new client has a new id.
    let deleted = store.transaction(|c| oauth::delete(c, &t.id)).unwrap();
    assert_eq!(deleted.unwrap().client_id, first.client_id);
    assert!(
        store
            .transaction(|c| oauth::delete(c, &t.id))
            .unwrap()
            .is_none()
    );
    assert!(auth(&third.client_secret, now).is_none());
    assert!(!current(3, now));
    let again = store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::zero()))
        .unwrap();
    assert!(again.created);
    assert_eq!(again.generation, 1);
    assert_ne!(again.client_id, first.client_id);
    assert!(!current(1, now), "old tokens never revive");
});

store_test!(clients_stay_in_their_tenant, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
    let ca = store
        .transaction(|c| oauth::create_or_rotate(c, &a.id, TimeDelta::zero()))
        .unwrap();
    let cb = store
        .transaction(|c| oauth::create_or_rotate(c, &b.id, TimeDelta::zero()))
        .unwrap();
    let now = Utc::now();
    // A's secret under B's id, and A's id claimed for B's tenant.
    assert!(
        store
            .with_conn(|c| oauth::authenticate_secret(c, &cb.client_id, &ca.client_secret, now))
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .with_conn(|c| oauth::access_token_is_current(c, &b.id, &ca.client_id, 1, now))
            .unwrap()
    );
    // A forged id naming B's tenant with A's random part.
    let forged = format!("{}.{}", b.id, ca.client_id.split_once('.').unwrap().1);
    assert!(
        store
            .with_conn(|c| oauth::authenticate_secret(c, &forged, &ca.client_secret, now))
            .unwrap()
            .is_none()
    );
    let found = store
        .with_conn(|c| oauth::find_by_client_id(c, &ca.client_id))
        .unwrap()
        .unwrap();
    assert_eq!(found.tenant_id, a.id);
    // Deleting the tenant deletes its client.
    store
        .with_conn(|c| {
            use diesel::prelude::*;
            diesel::delete(
                store_diesel::schema::tenants::table
                    .filter(store_diesel::schema::tenants::id.eq(&a.id)),
            )
            .execute(c)?;
            Ok(())
        })
        .unwrap();
    assert!(store.with_conn(|c| oauth::get(c, &a.id)).unwrap().is_none());
});

store_test!(oauth_only_flag_and_keys, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    assert!(!store.with_conn(|c| oauth::oauth_only(c, &t.id)).unwrap());
    store
        .transaction(|c| oauth::set_oauth_only(c, &t.id, true))
        .unwrap();
    assert!(store.with_conn(|c| oauth::oauth_only(c, &t.id)).unwrap());
    assert!(matches!(
        store.with_conn(|c| oauth::oauth_only(c, "no-such-tenant")),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.transaction(|c| oauth::set_oauth_only(c, "no-such-tenant", true)),
        Err(StoreError::NotFound)
    ));
    // The flag is a tenant column: other tenant code is unaffected.
    assert_eq!(
        store.with_conn(|c| tenants::get(c, &t.id)).unwrap().slug,
        "acme"
    );

    assert!(matches!(
        store.transaction(|c| oauth::set_jwks(c, &t.id, Some("{\"keys\":[]}"))),
        Err(StoreError::NotFound)
    ));
    store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::zero()))
        .unwrap();
    store
        .transaction(|c| oauth::set_jwks(c, &t.id, Some("{\"keys\":[]}")))
        .unwrap();
    let client = store.with_conn(|c| oauth::get(c, &t.id)).unwrap().unwrap();
    assert_eq!(client.jwks.as_deref(), Some("{\"keys\":[]}"));
    // Rotation keeps the keys.
    store
        .transaction(|c| oauth::create_or_rotate(c, &t.id, TimeDelta::zero()))
        .unwrap();
    let client = store.with_conn(|c| oauth::get(c, &t.id)).unwrap().unwrap();
    assert_eq!(client.jwks.as_deref(), Some("{\"keys\":[]}"));
    store
        .transaction(|c| oauth::set_jwks(c, &t.id, None))
        .unwrap();
    let client = store.with_conn(|c| oauth::get(c, &t.id)).unwrap().unwrap();
    assert_eq!(client.jwks, None);
});

store_test!(assertion_ids_work_once_per_tenant, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
    let now = Utc::now();
    let exp = now + TimeDelta::minutes(5);
    let use_id = |tenant: &str, jti: &str, exp, at| {
        store.transaction(|c| oauth::use_assertion_id(c, tenant, jti, exp, at))
    };
    assert!(use_id(&a.id, "j1", exp, now).unwrap());
    assert!(!use_id(&a.id, "j1", exp, now).unwrap(), "a replay");
    assert!(
        use_id(&b.id, "j1", exp, now).unwrap(),
        "another tenant's id"
    );
    assert!(use_id(&a.id, "j2", exp, now).unwrap());
    // Once expired, the id is pruned (the assertion itself is refused by its exp).
    let later = exp + TimeDelta::seconds(1);
    assert!(use_id(&a.id, "j1", later + TimeDelta::minutes(5), later).unwrap());
    for bad in ["", "a\0b", &"x".repeat(201)] {
        assert!(matches!(
            use_id(&a.id, bad, exp, now),
            Err(StoreError::InvalidInput(_))
        ));
    }
});

use store_diesel::{tenants, tokens};

use super::*;

store_test!(issuing_revokes_the_previous_token, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    let other = store
        .transaction(|c| tenants::create(c, "other", "Other"))
        .unwrap();
    assert!(
        store
            .with_conn(|c| tokens::live(c, &t.id))
            .unwrap()
            .is_none()
    );

    let first = store.transaction(|c| tokens::issue(c, &t.id)).unwrap();
    assert!(
        !format!("{first:?}").contains(&first.token),
        "Debug hides the secret"
    );
    assert!(
        store
            .with_conn(|c| tokens::verify(c, &t.id, &first.token))
            .unwrap()
    );

    let stored = store
        .with_conn(|c| tokens::get(c, &t.id, &first.token_id))
        .unwrap();
    assert_eq!(stored.token_hash, tokens::hash_token(&first.token));
    assert_ne!(stored.token_hash, first.token, "only the hash is stored");
    assert!(stored.revoked_at.is_none());

    let second = store.transaction(|c| tokens::issue(c, &t.id)).unwrap();
    assert_ne!(first.token, second.token);
    assert!(
        !store
            .with_conn(|c| tokens::verify(c, &t.id, &first.token))
            .unwrap()
    );
    assert!(
        store
            .with_conn(|c| tokens::verify(c, &t.id, &second.token))
            .unwrap()
    );
    let revoked = store
        .with_conn(|c| tokens::get(c, &t.id, &first.token_id))
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        store
            .with_conn(|c| tokens::live(c, &t.id))
            .unwrap()
            .map(|r| r.token_id),
        Some(second.token_id.clone())
    );

    // A token opens its own tenant only; garbage is just `false`.
    assert!(
        !store
            .with_conn(|c| tokens::verify(c, &other.id, &second.token))
            .unwrap()
    );
    let tampered = format!("{}.{}", second.token_id, "0".repeat(64));
    assert!(
        !store
            .with_conn(|c| tokens::verify(c, &t.id, &tampered))
            .unwrap()
    );
    assert!(
        !store
            .with_conn(|c| tokens::verify(c, &t.id, "garbage"))
            .unwrap()
    );

    assert_eq!(
        store.transaction(|c| tokens::revoke_all(c, &t.id)).unwrap(),
        1
    );
    assert!(
        !store
            .with_conn(|c| tokens::verify(c, &t.id, &second.token))
            .unwrap()
    );
});

store_test!(issuing_for_an_unknown_tenant_fails, |db| {
    let store = db.store();
    assert!(matches!(
        store.transaction(|c| tokens::issue(c, "no-such-tenant")),
        Err(StoreError::MissingReference { .. })
    ));
});

use store_diesel::settings;

use super::*;

store_test!(signing_key_is_created_once_and_shared, |db| {
    let store = db.store();
    assert!(
        store
            .with_conn(|c| settings::get(c, settings::SIGNING_KEY))
            .unwrap()
            .is_none()
    );
    let key = store
        .with_conn(settings::get_or_create_signing_key)
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(
        store
            .with_conn(settings::get_or_create_signing_key)
            .unwrap(),
        key
    );

    // Another "replica" on the same database sees the same key.
    let replica = Store::connect(db.url()).unwrap();
    assert_eq!(
        replica
            .with_conn(settings::get_or_create_signing_key)
            .unwrap(),
        key
    );

    // Racing first starts all end with one key.
    let fresh = TestDb::of(db.backend()).unwrap();
    let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = Store::connect(fresh.url()).unwrap();
                s.spawn(move || {
                    store
                        .with_conn(settings::get_or_create_signing_key)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        keys.windows(2).all(|w| w[0] == w[1]),
        "one key for every replica"
    );
});

store_test!(put_replaces_a_value, |db| {
    {
        let store = db.store();
        let get = || {
            store
                .with_conn(|c| settings::get(c, settings::PUBLIC_URL))
                .unwrap()
        };
        assert_eq!(get(), None);
        store
            .transaction(|c| settings::put(c, settings::PUBLIC_URL, "https://a.example.net"))
            .unwrap();
        assert_eq!(get().as_deref(), Some("https://a.example.net"));
        store
            .transaction(|c| settings::put(c, settings::PUBLIC_URL, "https://b.example.net"))
            .unwrap();
        assert_eq!(get().as_deref(), Some("https://b.example.net"));
    }
});

use store_diesel::tenants::{self, TenantSettings};

use super::*;

store_test!(create_get_list_update, |db| {
    let store = db.store();
    let acme = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    let beta = store
        .transaction(|c| tenants::create(c, "beta-2", "Beta"))
        .unwrap();
    assert_eq!(acme.settings, TenantSettings::default());
    assert!(!acme.settings.automatic_invitation);
    assert!(acme.settings.require_mobile_auth_users && acme.settings.require_mobile_auth_groups);

    assert_eq!(
        store.with_conn(|c| tenants::get(c, &acme.id)).unwrap(),
        acme
    );
    assert_eq!(
        store
            .with_conn(|c| tenants::get_by_slug(c, "beta-2"))
            .unwrap(),
        beta
    );
    let all = store.with_conn(tenants::list).unwrap();
    assert_eq!(all, vec![acme.clone(), beta]);

    let settings = TenantSettings {
        automatic_invitation: true,
        require_mobile_auth_users: false,
        require_mobile_auth_groups: true,
    };
    let updated = store
        .transaction(|c| tenants::update_settings(c, &acme.id, &settings))
        .unwrap();
    assert_eq!(updated.settings, settings);
    assert_eq!(
        store
            .with_conn(|c| tenants::get(c, &acme.id))
            .unwrap()
            .settings,
        settings
    );

    assert!(matches!(
        store.with_conn(|c| tenants::get_by_slug(c, "nope")),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.transaction(|c| tenants::update_settings(c, "nope", &settings)),
        Err(StoreError::NotFound)
    ));
});

store_test!(slug_is_unique_and_validated, |db| {
    let store = db.store();
    store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    match store.transaction(|c| tenants::create(c, "acme", "Other")) {
        Err(StoreError::Conflict { what }) => assert_eq!(what, "tenant slug"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.transaction(|c| tenants::create(c, "Acme!", "Bad")),
        Err(StoreError::InvalidInput(_))
    ));
    // The failed transaction left the connection usable.
    assert_eq!(store.with_conn(tenants::list).unwrap().len(), 1);
});

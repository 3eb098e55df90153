use chrono::TimeDelta;
use store_diesel::console_sessions::{self, Scope};
use store_diesel::tenant_admins::{self, LinkState};
use store_diesel::tenants;

use super::*;

store_test!(accounts_links_second_factor_and_sessions, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    let other = store
        .transaction(|c| tenants::create(c, "other", "Other"))
        .unwrap();

    // Email unique per tenant, case-insensitively; the same email elsewhere is fine.
    let ann = store
        .transaction(|c| tenant_admins::create(c, &t.id, " Ann@Example.com", "cli"))
        .unwrap();
    assert_eq!(ann.email, "Ann@Example.com");
    assert!(!ann.password_set && !ann.totp_enrolled);
    assert!(matches!(
        store.transaction(|c| tenant_admins::create(c, &t.id, "ann@example.COM", "cli")),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.transaction(|c| tenant_admins::create(c, &t.id, "not an email", "cli")),
        Err(StoreError::InvalidInput(_))
    ));
    store
        .transaction(|c| tenant_admins::create(c, &other.id, "ann@example.com", "cli"))
        .unwrap();
    assert_eq!(
        store
            .with_conn(|c| tenant_admins::list(c, &t.id))
            .unwrap()
            .len(),
        1
    );
    // No password yet: nobody to sign in.
    assert!(
        store
            .with_conn(|c| tenant_admins::for_sign_in(c, "ann@example.com"))
            .unwrap()
            .is_empty()
    );

    // A link: valid until used, once; a newer link replaces older ones.
    let old = store
        .transaction(|c| tenant_admins::issue_link(c, &ann.id, TimeDelta::days(3)))
        .unwrap();
    assert!(!format!("{old:?}").contains(&old.token));
    let link = store
        .transaction(|c| tenant_admins::issue_link(c, &ann.id, TimeDelta::days(3)))
        .unwrap();
    assert_eq!(
        store
            .with_conn(|c| tenant_admins::link_state(c, &old.token))
            .unwrap(),
        LinkState::Unknown
    );
    assert!(matches!(
        store.with_conn(|c| tenant_admins::link_state(c, &link.token)).unwrap(),
        LinkState::Valid(a) if a.id == ann.id
    ));
    assert!(matches!(
        store
            .transaction(|c| tenant_admins::use_link(c, &link.token, "$argon2id$phc"))
            .unwrap(),
        LinkState::Valid(_)
    ));
    assert_eq!(
        store
            .transaction(|c| tenant_admins::use_link(c, &link.token, "$argon2id$other"))
            .unwrap(),
        LinkState::Used
    );
    let found = store
        .with_conn(|c| tenant_admins::for_sign_in(c, "ANN@example.com"))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].password_hash.as_deref(), Some("$argon2id$phc"));
    assert!(
        !format!("{:?}", found[0]).contains("phc"),
        "Debug hides secrets"
    );

    // An expired link changes nothing.
    let expired = store
        .transaction(|c| tenant_admins::issue_link(c, &ann.id, TimeDelta::seconds(-1)))
        .unwrap();
    assert_eq!(
        store
            .transaction(|c| tenant_admins::use_link(c, &expired.token, "$x"))
            .unwrap(),
        LinkState::Expired
    );

    // TOTP enrolment: pending seed -> seed, 10 recovery codes, steps only forward.
    assert!(matches!(
        store.transaction(|c| tenant_admins::confirm_totp(c, &ann.id, 5)),
        Err(StoreError::InvalidInput(_))
    ));
    store
        .transaction(|c| tenant_admins::set_pending_totp(c, &ann.id, "v1.sealed"))
        .unwrap();
    let codes = store
        .transaction(|c| tenant_admins::confirm_totp(c, &ann.id, 100))
        .unwrap();
    assert_eq!(codes.len(), tenant_admins::RECOVERY_CODES);
    let s = store
        .with_conn(|c| tenant_admins::get(c, &t.id, &ann.id))
        .unwrap();
    assert_eq!(s.totp_seed.as_deref(), Some("v1.sealed"));
    assert!(s.totp_pending.is_none() && s.admin.totp_enrolled);
    assert!(
        !store
            .transaction(|c| tenant_admins::accept_totp_step(c, &ann.id, 100))
            .unwrap()
    );
    assert!(
        store
            .transaction(|c| tenant_admins::accept_totp_step(c, &ann.id, 101))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| tenant_admins::accept_totp_step(c, &ann.id, 101))
            .unwrap()
    );
    let code = codes[3].to_lowercase();
    assert!(
        store
            .transaction(|c| tenant_admins::use_recovery_code(c, &ann.id, &code))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| tenant_admins::use_recovery_code(c, &ann.id, &code))
            .unwrap()
    );
    assert!(
        !store
            .transaction(|c| tenant_admins::use_recovery_code(c, &ann.id, "NOPE"))
            .unwrap()
    );
    assert_eq!(
        store
            .with_conn(|c| tenant_admins::recovery_codes_left(c, &ann.id))
            .unwrap(),
        9
    );

    // The 2FA requirement: on by default, per tenant.
    assert!(
        store
            .with_conn(|c| tenant_admins::second_factor_required(c, &t.id))
            .unwrap()
    );
    store
        .transaction(|c| tenant_admins::set_second_factor_required(c, &t.id, false))
        .unwrap();
    store
        .transaction(|c| tenant_admins::set_second_factor_required(c, &t.id, false))
        .unwrap();
    assert!(
        !store
            .with_conn(|c| tenant_admins::second_factor_required(c, &t.id))
            .unwrap()
    );
    assert!(
        store
            .with_conn(|c| tenant_admins::second_factor_required(c, &other.id))
            .unwrap()
    );

    // Sessions know whose they are; disabling the account ends them.
    let scope = Scope {
        tenant_id: t.id.clone(),
        tenant_slug: t.slug.clone(),
        admin_id: ann.id.clone(),
    };
    let new = store
        .transaction(|c| console_sessions::create_for(c, &ann.email, Some(&scope), Some("totp")))
        .unwrap();
    let seen = store
        .transaction(|c| console_sessions::touch(c, &new.id, TimeDelta::minutes(30)))
        .unwrap()
        .unwrap();
    assert_eq!(seen.scope.as_ref(), Some(&scope));
    assert_eq!(seen.pending.as_deref(), Some("totp"));
    let op = store
        .transaction(|c| console_sessions::create(c, "operator"))
        .unwrap();
    assert!(matches!(
        store.transaction(|c| tenant_admins::disable(c, &other.id, &ann.id)),
        Err(StoreError::NotFound)
    ));
    let disabled = store
        .transaction(|c| tenant_admins::disable(c, &t.id, &ann.id))
        .unwrap();
    assert!(disabled.disabled_at.is_some());
    assert!(
        store
            .transaction(|c| console_sessions::touch(c, &new.id, TimeDelta::minutes(30)))
            .unwrap()
            .is_none()
    );
    let op_seen = store
        .transaction(|c| console_sessions::touch(c, &op.id, TimeDelta::minutes(30)))
        .unwrap()
        .unwrap();
    assert!(op_seen.scope.is_none());
    assert!(
        store
            .with_conn(|c| tenant_admins::for_sign_in(c, "ann@example.com"))
            .unwrap()
            .is_empty()
    );

    // Enabled again: the password still works; a reset drops the second
    // factor, its codes and the account's sessions.
    let back = store
        .transaction(|c| tenant_admins::enable(c, &t.id, &ann.id))
        .unwrap();
    assert!(back.disabled_at.is_none() && back.totp_enrolled);
    assert_eq!(
        store
            .with_conn(|c| tenant_admins::for_sign_in(c, "ann@example.com"))
            .unwrap()
            .len(),
        1
    );
    let s2 = store
        .transaction(|c| console_sessions::create_for(c, &ann.email, Some(&scope), None))
        .unwrap();
    let reset = store
        .transaction(|c| tenant_admins::reset_second_factor(c, &t.id, &ann.id))
        .unwrap();
    assert!(!reset.totp_enrolled);
    assert_eq!(
        store
            .with_conn(|c| tenant_admins::recovery_codes_left(c, &ann.id))
            .unwrap(),
        0
    );
    assert!(
        store
            .transaction(|c| console_sessions::touch(c, &s2.id, TimeDelta::minutes(30)))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .transaction(|c| tenant_admins::accept_totp_step(c, &ann.id, 1))
            .unwrap(),
        "the last step is forgotten with the seed"
    );
    assert!(matches!(
        store.transaction(|c| tenant_admins::enable(c, &other.id, &ann.id)),
        Err(StoreError::NotFound)
    ));
});

store_test!(a_new_password_ends_the_accounts_sessions, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "acme", "Acme"))
        .unwrap();
    let bob = store
        .transaction(|c| tenant_admins::create(c, &t.id, "bob@example.com", "cli"))
        .unwrap();
    let scope = Scope {
        tenant_id: t.id.clone(),
        tenant_slug: t.slug.clone(),
        admin_id: bob.id.clone(),
    };
    let session = store
        .transaction(|c| console_sessions::create_for(c, &bob.email, Some(&scope), None))
        .unwrap();
    let link = store
        .transaction(|c| tenant_admins::issue_link(c, &bob.id, TimeDelta::days(3)))
        .unwrap();
    store
        .transaction(|c| tenant_admins::use_link(c, &link.token, "$argon2id$new"))
        .unwrap();
    assert!(
        store
            .transaction(|c| console_sessions::touch(c, &session.id, TimeDelta::minutes(30)))
            .unwrap()
            .is_none()
    );
});

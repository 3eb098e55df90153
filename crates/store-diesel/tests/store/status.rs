//! `scim-server status`'s numbers, per tenant.

use super::*;

store_test!(status_counts_per_tenant, |db| {
    {
        let store = db.store();
        let t = store
            .transaction(|c| store_diesel::tenants::create(c, "acme", "Acme"))
            .unwrap();
        let other = store
            .transaction(|c| store_diesel::tenants::create(c, "other", "Other"))
            .unwrap();
        let empty = store
            .with_conn(|c| store_diesel::status::of_tenant(c, &t.id))
            .unwrap();
        assert_eq!(empty.last_scim_write_at, None);
        assert_eq!(empty.outbox_pending, 0);
        assert_eq!(empty.outbox_oldest_pending_at, None);
        let old = chrono::Utc::now() - chrono::TimeDelta::hours(2);
        store
            .transaction(|c| {
                store_diesel::audit::append(
                    c,
                    &t.id,
                    &store_diesel::audit::NewAuditRecord {
                        actor: "scim",
                        action: "user.create",
                        target_type: "User",
                        target_id: None,
                        details: &serde_json::json!({}),
                    },
                )?;
                store_diesel::outbox::push(c, &t.id, "k", &serde_json::json!({}), old)?;
                store_diesel::outbox::push(
                    c,
                    &t.id,
                    "k",
                    &serde_json::json!({}),
                    chrono::Utc::now(),
                )?;
                store_diesel::outbox::push(c, &other.id, "k", &serde_json::json!({}), old)
            })
            .unwrap();
        let s = store
            .with_conn(|c| store_diesel::status::of_tenant(c, &t.id))
            .unwrap();
        assert!(s.last_scim_write_at.is_some());
        assert_eq!(s.outbox_pending, 2);
        let oldest = s.outbox_oldest_pending_at.unwrap();
        assert!((oldest - old).num_seconds().abs() <= 1, "{oldest} vs {old}");
        assert_eq!(s.invitations_queued, 0);
        let o = store
            .with_conn(|c| store_diesel::status::of_tenant(c, &other.id))
            .unwrap();
        assert_eq!((o.outbox_pending, o.last_scim_write_at), (1, None));
    }
});

use serde_json::json;
use store_diesel::audit::{self, NewAuditRecord};
use store_diesel::tenants;

use super::*;

store_test!(paging_is_oldest_first_per_tenant, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
    let mut seqs = Vec::new();
    for i in 0..7 {
        let details = json!({ "i": i });
        let record = NewAuditRecord {
            actor: "scim",
            action: "user.create",
            target_type: "User",
            target_id: Some("u1"),
            details: &details,
        };
        seqs.push(
            store
                .transaction(|c| audit::append(c, &a.id, &record))
                .unwrap(),
        );
        // Interleave another tenant's records.
        let other = NewAuditRecord {
            target_id: None,
            ..record
        };
        store
            .transaction(|c| audit::append(c, &b.id, &other))
            .unwrap();
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .with_conn(|c| audit::page(c, &a.id, after, 3))
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        assert!(page.iter().all(|r| r.tenant_id == a.id));
        after = page.last().map(|r| r.seq);
        seen.extend(page);
    }
    let order: Vec<i64> = seen
        .iter()
        .map(|r| r.details["i"].as_i64().unwrap())
        .collect();
    assert_eq!(order, (0..7).collect::<Vec<_>>());
    assert_eq!(seen.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(seen[0].target_id.as_deref(), Some("u1"));
    assert_eq!(seen[0].action, "user.create");
    assert!(seen.windows(2).all(|w| w[0].at <= w[1].at));

    let b_page = store
        .with_conn(|c| audit::page(c, &b.id, None, 100))
        .unwrap();
    assert_eq!(b_page.len(), 7);
    assert!(b_page[0].target_id.is_none());
});

store_test!(a_failed_transaction_leaves_no_audit_record, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let details = json!({});
    let record = NewAuditRecord {
        actor: "scim",
        action: "tenant.create",
        target_type: "Tenant",
        target_id: None,
        details: &details,
    };
    let result: Result<(), StoreError> = store.transaction(|c| {
        audit::append(c, &a.id, &record)?;
        tenants::create(c, "a", "duplicate")?;
        Ok(())
    });
    assert!(matches!(result, Err(StoreError::Conflict { .. })));
    assert!(
        store
            .with_conn(|c| audit::page(c, &a.id, None, 10))
            .unwrap()
            .is_empty()
    );
});

store_test!(filters_match_exactly_within_the_tenant, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
    let details = json!({});
    for (tenant, actor, action, target) in [
        (&a, "scim", "user.create", "u1"),
        (&a, "console:ann@a.test", "user.invite", "u1"),
        (&a, "console:ann@a.test", "group.settings.update", "g1"),
        (&a, "admin", "user.invite", "u2"),
        (&b, "console:ann@a.test", "user.invite", "u1"),
    ] {
        let record = NewAuditRecord {
            actor,
            action,
            target_type: "User",
            target_id: Some(target),
            details: &details,
        };
        store
            .transaction(|c| audit::append(c, &tenant.id, &record))
            .unwrap();
    }
    let find = |f: audit::AuditFilter<'_>| {
        store
            .with_conn(|c| audit::page_where(c, &a.id, &f, None, 100))
            .unwrap()
            .into_iter()
            .map(|r| (r.actor, r.action))
            .collect::<Vec<_>>()
    };
    let ann = find(audit::AuditFilter {
        actor: Some("console:ann@a.test"),
        ..Default::default()
    });
    assert_eq!(ann.len(), 2, "{ann:?}");
    let invites_of_u1 = find(audit::AuditFilter {
        action: Some("user.invite"),
        target_id: Some("u1"),
        ..Default::default()
    });
    assert_eq!(
        invites_of_u1,
        vec![("console:ann@a.test".to_owned(), "user.invite".to_owned())]
    );
    // Exact, not a prefix or a pattern.
    assert!(
        find(audit::AuditFilter {
            actor: Some("console:%"),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(find(audit::AuditFilter::default()).len(), 4);
});

store_test!(append_many_keeps_order_and_continues_the_log, |db| {
    let store = db.store();
    let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
    let record = |details: &'static serde_json::Value| NewAuditRecord {
        actor: "scim",
        action: "user.create",
        target_type: "User",
        target_id: Some("u"),
        details,
    };
    let details: Vec<serde_json::Value> = (0..2600).map(|i| json!({ "i": i })).collect();
    let details: &'static [serde_json::Value] = Box::leak(details.into_boxed_slice());
    let first = record(&details[0]);
    store
        .transaction(|c| audit::append(c, &a.id, &first))
        .unwrap();
    // Another tenant's log goes on in between.
    store
        .transaction(|c| audit::append(c, &b.id, &first))
        .unwrap();
    // A handful (one statement each), then more than one multi-row statement holds.
    for range in [1..4, 4..2600] {
        let records: Vec<NewAuditRecord<'_>> = details[range].iter().map(record).collect();
        store
            .transaction(|c| audit::append_many(c, &a.id, &records))
            .unwrap();
    }
    let last = store
        .transaction(|c| audit::append(c, &a.id, &first))
        .unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .with_conn(|c| audit::page(c, &a.id, after, 1000))
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|r| r.seq);
        seen.extend(page);
    }
    let order: Vec<i64> = seen
        .iter()
        .map(|r| r.details["i"].as_i64().unwrap())
        .collect();
    let mut want: Vec<i64> = (0..2600).collect();
    want.push(0);
    assert_eq!(order, want);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(seen.last().map(|r| r.seq), Some(last));
    let b_log = store
        .with_conn(|c| audit::page(c, &b.id, None, 10))
        .unwrap();
    assert_eq!(b_log.len(), 1);
});

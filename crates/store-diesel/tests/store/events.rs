//! The events feed: per-tenant sequence, filters, retention, and no gaps for a
//! reader that resumes while many writers commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration, Utc};
use serde_json::json;
use store_diesel::events::{self, NewEvent};
use store_diesel::tenants;

use super::*;

fn new_tenant(store: &Store, slug: &str) -> String {
    store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap()
        .id
}

fn event(event_type: &str, n: usize) -> NewEvent {
    NewEvent {
        event_type: event_type.to_owned(),
        time: Utc::now(),
        actor: "directory".to_owned(),
        resource_type: "User".to_owned(),
        resource_id: Some(format!("u{n}")),
        data: json!({"n": n}),
    }
}

store_test!(events_are_numbered_per_tenant_and_filtered, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    let b = new_tenant(store, "b");
    store
        .transaction(|c| {
            events::append(c, &a, event("user.provisioned", 1))?;
            events::append_all(
                c,
                &a,
                vec![event("user.updated", 2), event("user.suspended", 3)],
            )?;
            events::append(c, &b, event("user.provisioned", 4))
        })
        .unwrap();
    let all = store
        .with_conn(|c| events::list_after(c, &a, 0, 100, &[]))
        .unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(all[1].data, json!({"n": 2}));
    assert_eq!(all[2].resource_id.as_deref(), Some("u3"));
    let in_b = store
        .with_conn(|c| events::list_after(c, &b, 0, 100, &[]))
        .unwrap();
    assert_eq!(in_b.len(), 1);
    assert_eq!(in_b[0].seq, 1);
    let after = store
        .with_conn(|c| events::list_after(c, &a, 1, 1, &[]))
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].seq, 2);
    let filtered = store
        .with_conn(|c| {
            events::list_after(
                c,
                &a,
                0,
                100,
                &["user.suspended".to_owned(), "user.provisioned".to_owned()],
            )
        })
        .unwrap();
    assert_eq!(
        filtered.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(store.with_conn(|c| events::last_seq(c, &a)).unwrap(), 3);
});

store_test!(events_rolled_back_with_their_transaction, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    let failed: Result<(), StoreError> = store.transaction(|c| {
        events::append(c, &a, event("user.provisioned", 1))?;
        Err(StoreError::NotFound)
    });
    assert!(failed.is_err());
    store
        .transaction(|c| events::append(c, &a, event("user.provisioned", 2)))
        .unwrap();
    let all = store
        .with_conn(|c| events::list_after(c, &a, 0, 100, &[]))
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].seq, 1, "a rolled-back allocation leaves no gap");
});

store_test!(events_pruned_before_cutoff, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    let mut old = event("user.provisioned", 1);
    old.time = Utc::now() - Duration::days(40);
    store
        .transaction(|c| events::append_all(c, &a, vec![old, event("user.updated", 2)]))
        .unwrap();
    let pruned = store
        .transaction(|c| events::prune_before(c, Utc::now() - Duration::days(30)))
        .unwrap();
    assert_eq!(pruned, 1);
    let left = store
        .with_conn(|c| events::list_after(c, &a, 0, 100, &[]))
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].seq, 2);
});

const WRITERS: usize = 6;
const PER_WRITER: usize = 60;

// Writers hold their transaction open a little after allocating, so commits
// race; the reader resumes after the last seq it saw, the way a consumer does.
store_test!(
    concurrent_writers_and_a_resuming_reader_see_every_event_once,
    |db| {
        let store = Arc::new(db.store().clone());
        let t = new_tenant(&store, "acme");
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (store, t, done) = (store.clone(), t.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen: Vec<(i64, String)> = Vec::new();
                let mut after = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let page = store
                        .with_conn(|c| events::list_after(c, &t, after, 7, &[]))
                        .unwrap();
                    for e in &page {
                        seen.push((e.seq, e.resource_id.clone().unwrap()));
                        after = e.seq;
                    }
                    if page.is_empty() && finished {
                        return seen;
                    }
                }
            })
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, t) = (store.clone(), t.clone());
                std::thread::spawn(move || {
                    for i in 0..PER_WRITER {
                        let n = w * PER_WRITER + i;
                        store
                            .transaction(|c| {
                                events::append(c, &t, event("user.updated", n))?;
                                if i % 3 == 0 {
                                    std::thread::sleep(std::time::Duration::from_millis(2));
                                }
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let seen = reader.join().unwrap();
        let total = WRITERS * PER_WRITER;
        assert_eq!(seen.len(), total, "every event exactly once");
        for (i, (seq, _)) in seen.iter().enumerate() {
            assert_eq!(*seq, i64::try_from(i).unwrap() + 1, "in order, no gap");
        }
        let mut ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total);
    }
);

store_test!(events_consumer_cursor_survives_and_never_moves_back, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    let b = new_tenant(store, "b");
    store
        .transaction(|c| {
            events::append_all(c, &a, (1..=5).map(|n| event("user.updated", n)).collect())
        })
        .unwrap();
    let revoker = events::Consumer::new(&a, "session-revoker");
    assert_eq!(store.with_conn(|c| revoker.cursor(c)).unwrap(), 0);
    let batch = store.with_conn(|c| revoker.next_batch(c, 2, &[])).unwrap();
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    store.transaction(|c| revoker.commit(c, 2)).unwrap();
    // A new handle (a restarted process) resumes after 2.
    let again = events::Consumer::new(&a, "session-revoker");
    let batch = store.with_conn(|c| again.next_batch(c, 10, &[])).unwrap();
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    store.transaction(|c| again.commit(c, 5)).unwrap();
    store.transaction(|c| again.commit(c, 3)).unwrap();
    assert_eq!(store.with_conn(|c| again.cursor(c)).unwrap(), 5);
    // Consumers are independent, per name and per tenant.
    let other = events::Consumer::new(&a, "folder-sharer");
    assert_eq!(store.with_conn(|c| other.cursor(c)).unwrap(), 0);
    let in_b = events::Consumer::new(&b, "session-revoker");
    assert!(
        store
            .with_conn(|c| in_b.next_batch(c, 10, &[]))
            .unwrap()
            .is_empty()
    );
});

store_test!(many_events_go_in_multi_row_statements_in_order, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    // More than one multi-row statement's worth, then a few one by one.
    let many: Vec<NewEvent> = (0..2500).map(|n| event("user.provisioned", n)).collect();
    let stored = store
        .transaction(|c| events::append_all(c, &a, many))
        .unwrap();
    assert_eq!(stored.len(), 2500);
    store
        .transaction(|c| events::append_all(c, &a, vec![event("user.updated", 2500)]))
        .unwrap();
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &events::Event| e.seq);
        let page = store
            .with_conn(|c| events::list_after(c, &a, after, 1000, &[]))
            .unwrap();
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    assert_eq!(all.len(), 2501);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.data, json!({ "n": i }));
        assert_eq!(e.resource_id.as_deref(), Some(format!("u{i}").as_str()));
    }
    assert_eq!(all[..2500], stored[..]);
});

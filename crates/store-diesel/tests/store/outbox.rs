use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use chrono::{SubsecRound, TimeDelta, Utc};
use serde_json::json;
use store_diesel::outbox::{self, FailOutcome, RetryPolicy};
use store_diesel::tenants;

use super::*;

const LEASE: TimeDelta = TimeDelta::minutes(5);

fn tenant(store: &Store, slug: &str) -> String {
    store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap()
        .id
}

store_test!(push_claim_complete, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let now = Utc::now();
    let id = store
        .transaction(|c| outbox::push(c, &t, outbox::KIND_INVITATION_EMAIL, &json!({"n": 1}), now))
        .unwrap();
    // A push rolled back with its transaction leaves nothing.
    let rolled_back: Result<(), StoreError> = store.transaction(|c| {
        outbox::push(c, &t, "x", &json!({}), now)?;
        Err(StoreError::InvalidInput("abort".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(
        store.with_conn(|c| outbox::pending(c, &t)).unwrap().len(),
        1
    );

    let claimed = store
        .with_conn(|c| outbox::claim(c, "w1", 10, LEASE, now))
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].payload, json!({"n": 1}));
    assert_eq!(claimed[0].claimed_by.as_deref(), Some("w1"));
    // Leased: nobody else gets it, not even the same worker.
    assert!(
        store
            .with_conn(|c| outbox::claim(c, "w2", 10, LEASE, now))
            .unwrap()
            .is_empty()
    );
    // Only the holder completes it, once.
    assert!(
        !store
            .with_conn(|c| outbox::complete(c, &t, &id, "w2", now))
            .unwrap()
    );
    assert!(
        store
            .with_conn(|c| outbox::complete(c, &t, &id, "w1", now))
            .unwrap()
    );
    assert!(
        !store
            .with_conn(|c| outbox::complete(c, &t, &id, "w1", now))
            .unwrap()
    );
    let later = now + TimeDelta::hours(1);
    assert!(
        store
            .with_conn(|c| outbox::claim(c, "w2", 10, LEASE, later))
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .with_conn(|c| outbox::get(c, &t, &id))
            .unwrap()
            .done_at
            .is_some()
    );
});

store_test!(a_crashed_workers_lease_expires, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let now = Utc::now();
    let id = store
        .transaction(|c| outbox::push(c, &t, "k", &json!({}), now))
        .unwrap();
    assert_eq!(
        store
            .with_conn(|c| outbox::claim(c, "dead", 1, LEASE, now))
            .unwrap()
            .len(),
        1
    );
    let before = now + LEASE - TimeDelta::seconds(1);
    assert!(
        store
            .with_conn(|c| outbox::claim(c, "w2", 1, LEASE, before))
            .unwrap()
            .is_empty()
    );
    let after = now + LEASE + TimeDelta::seconds(1);
    let again = store
        .with_conn(|c| outbox::claim(c, "w2", 1, LEASE, after))
        .unwrap();
    assert_eq!(again.len(), 1);
    // The dead worker's late completion is refused; the new holder's counts.
    assert!(
        !store
            .with_conn(|c| outbox::complete(c, &t, &id, "dead", after))
            .unwrap()
    );
    assert_eq!(
        store
            .with_conn(|c| outbox::fail(c, &t, &id, "dead", "late", &RetryPolicy::default(), after))
            .unwrap(),
        FailOutcome::NotHeld
    );
    assert!(
        store
            .with_conn(|c| outbox::complete(c, &t, &id, "w2", after))
            .unwrap()
    );
});

store_test!(failures_back_off_exponentially_then_give_up, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let mut policy = RetryPolicy::default();
    policy.base = TimeDelta::seconds(10);
    policy.max_delay = TimeDelta::seconds(35);
    policy.max_attempts = 4;
    assert_eq!(policy.delay(1), TimeDelta::seconds(10));
    assert_eq!(policy.delay(2), TimeDelta::seconds(20));
    assert_eq!(policy.delay(3), TimeDelta::seconds(35));
    assert_eq!(policy.delay(1000), TimeDelta::seconds(35));
    // Whole seconds, so the store's microsecond truncation changes nothing.
    let mut now = Utc::now().trunc_subsecs(0);
    let id = store
        .transaction(|c| outbox::push(c, &t, "k", &json!({}), now))
        .unwrap();
    for (attempt, delay) in [(1, 10), (2, 20), (3, 35)] {
        let claimed = store
            .with_conn(|c| outbox::claim(c, "w", 1, LEASE, now))
            .unwrap();
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        let outcome = store
            .with_conn(|c| outbox::fail(c, &t, &id, "w", "smtp said no", &policy, now))
            .unwrap();
        let FailOutcome::RetryAt(at) = outcome else {
            panic!("attempt {attempt}: {outcome:?}");
        };
        assert_eq!((at - now).num_seconds(), delay);
        let rec = store.with_conn(|c| outbox::get(c, &t, &id)).unwrap();
        assert_eq!(rec.attempts, attempt);
        assert_eq!(rec.last_error.as_deref(), Some("smtp said no"));
        assert_eq!(rec.claimed_by, None, "the lease is released");
        // Not due before the backoff has passed.
        let early = at - TimeDelta::seconds(1);
        assert!(
            store
                .with_conn(|c| outbox::claim(c, "w", 1, LEASE, early))
                .unwrap()
                .is_empty()
        );
        now = at;
    }
    assert_eq!(
        store
            .with_conn(|c| outbox::claim(c, "w", 1, LEASE, now))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .with_conn(|c| outbox::fail(c, &t, &id, "w", "still no", &policy, now))
            .unwrap(),
        FailOutcome::GaveUp
    );
    assert!(
        store
            .with_conn(|c| outbox::pending(c, &t))
            .unwrap()
            .is_empty()
    );
    let far = now + TimeDelta::days(1);
    assert!(
        store
            .with_conn(|c| outbox::claim(c, "w", 1, LEASE, far))
            .unwrap()
            .is_empty()
    );
});

store_test!(concurrent_claims_never_share_a_row, |db| {
    let store = db.store();
    let t = tenant(store, "acme");
    let now = Utc::now();
    let total = 60;
    for i in 0..total {
        store
            .transaction(|c| outbox::push(c, &t, "k", &json!({"i": i}), now))
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|worker| {
            let store = store.clone();
            let barrier = barrier.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let batch = loop {
                        match store.with_conn(|c| outbox::claim(c, worker, 4, LEASE, now)) {
                            Ok(b) => break b,
                            // SQLite's writer lock may time out under contention: try again.
                            Err(StoreError::Unavailable(_)) => continue,
                            Err(e) => panic!("{worker}: {e}"),
                        }
                    };
                    if batch.is_empty() {
                        break;
                    }
                    for row in batch {
                        assert!(
                            store
                                .with_conn(|c| outbox::complete(c, &t, &row.id, worker, now))
                                .unwrap()
                        );
                        mine.push(row.id);
                    }
                }
                mine
            })
        })
        .collect();
    let results: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let all: Vec<&String> = results.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), total, "every row claimed exactly once");
    assert_eq!(unique.len(), total);
    assert!(
        store
            .with_conn(|c| outbox::pending(c, &t))
            .unwrap()
            .is_empty()
    );
});

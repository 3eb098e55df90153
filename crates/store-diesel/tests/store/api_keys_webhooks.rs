//! Webhook deliveries (dispatch, claims, order per resource, retries, give
//! up, replay) and tenant API keys.

use std::collections::HashSet;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use store_diesel::events::{self, NewEvent};
use store_diesel::webhooks::{self, Attempt, FailOutcome, RetryPolicy};
use store_diesel::{api_keys, tenants};

use super::*;

fn new_tenant(store: &Store, slug: &str) -> String {
    store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap()
        .id
}

fn append(store: &Store, tenant: &str, event_type: &str, user: &str) -> i64 {
    store
        .transaction(|c| {
            events::append(
                c,
                tenant,
                NewEvent {
                    event_type: event_type.to_owned(),
                    time: Utc::now(),
                    actor: "directory".to_owned(),
                    resource_type: "User".to_owned(),
                    resource_id: Some(user.to_owned()),
                    data: json!({"id": user}),
                },
            )
        })
        .unwrap()
        .seq
}

fn endpoint(store: &Store, tenant: &str, types: &[&str]) -> String {
    let types: Vec<String> = types.iter().map(|s| (*s).to_owned()).collect();
    store
        .transaction(|c| {
            webhooks::create(
                c,
                tenant,
                "https://example.net/hook",
                &types,
                "sealed",
                Utc::now(),
            )
        })
        .unwrap()
        .id
}

fn ok() -> Attempt {
    Attempt {
        attempted_at: Utc::now(),
        status_code: Some(200),
        latency_ms: 3,
        error: None,
    }
}

fn err() -> Attempt {
    Attempt {
        attempted_at: Utc::now(),
        status_code: Some(500),
        latency_ms: 3,
        error: Some("HTTP 500".to_owned()),
    }
}

fn claim(store: &Store, worker: &str, at: chrono::DateTime<Utc>) -> Vec<webhooks::Claimed> {
    store
        .with_conn(|c| webhooks::claim(c, worker, 50, TimeDelta::seconds(60), at))
        .unwrap()
}

fn seqs(claimed: &[webhooks::Claimed]) -> Vec<i64> {
    let mut s: Vec<i64> = claimed.iter().map(|c| c.event.seq).collect();
    s.sort_unstable();
    s
}

store_test!(a_failing_event_holds_back_its_resource_only, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    append(store, &t, "user.provisioned", "before"); // before the endpoint: not sent
    let ep = endpoint(store, &t, &[]);
    let s1 = append(store, &t, "user.provisioned", "u1");
    let s2 = append(store, &t, "user.provisioned", "u2");
    let s3 = append(store, &t, "user.updated", "u1");
    let now = Utc::now();
    assert_eq!(
        store
            .with_conn(|c| webhooks::dispatch(c, 100, now))
            .unwrap(),
        3
    );
    // A second dispatch finds nothing new.
    assert_eq!(
        store
            .with_conn(|c| webhooks::dispatch(c, 100, now))
            .unwrap(),
        0
    );

    let first = claim(store, "w1", now);
    assert_eq!(
        seqs(&first),
        vec![s1, s2],
        "u1's second event waits for its first"
    );
    let policy = RetryPolicy::default();
    let by_seq = |s: i64| first.iter().find(|c| c.event.seq == s).unwrap().key.clone();
    let out = store
        .with_conn(|c| webhooks::fail(c, &by_seq(s1), "w1", &err(), &policy, now))
        .unwrap();
    assert!(matches!(out, FailOutcome::RetryAt(_)), "{out:?}");
    assert!(
        store
            .with_conn(|c| webhooks::complete(c, &by_seq(s2), "w1", &ok(), now))
            .unwrap()
    );
    // u1 is held back: its first event is not due yet, its second waits.
    assert!(claim(store, "w1", now).is_empty());
    let later = now + TimeDelta::seconds(6);
    let retry = claim(store, "w1", later);
    assert_eq!(seqs(&retry), vec![s1]);
    assert_eq!(retry[0].attempts, 1);
    assert!(
        store
            .with_conn(|c| webhooks::complete(c, &retry[0].key, "w1", &ok(), later))
            .unwrap()
    );
    let last = claim(store, "w1", later);
    assert_eq!(seqs(&last), vec![s3]);
    assert_eq!(last[0].endpoint.id, ep);

    let log = store
        .with_conn(|c| webhooks::attempts(c, &t, &ep, None, 10))
        .unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].attempt.status_code, Some(500));
    let page2 = store
        .with_conn(|c| webhooks::attempts(c, &t, &ep, Some(&log[0].cursor()), 10))
        .unwrap();
    assert_eq!(page2.len(), 2);
    assert!(
        store
            .with_conn(|c| webhooks::attempts(c, &t, &ep, Some("x"), 10))
            .is_err()
    );
});

store_test!(
    event_types_filter_and_a_crashed_workers_lease_expires,
    |db| {
        let store = db.store();
        let t = new_tenant(store, "acme");
        endpoint(store, &t, &["user.suspended"]);
        append(store, &t, "user.provisioned", "u1");
        let s = append(store, &t, "user.suspended", "u1");
        let now = Utc::now();
        assert_eq!(
            store
                .with_conn(|c| webhooks::dispatch(c, 100, now))
                .unwrap(),
            1
        );
        let crashed = claim(store, "w1", now);
        assert_eq!(seqs(&crashed), vec![s]);
        // w1 dies; nobody else gets the row while its lease runs...
        assert!(claim(store, "w2", now + TimeDelta::seconds(30)).is_empty());
        // ...then w2 does, and w1 can no longer complete it.
        let after = now + TimeDelta::seconds(61);
        let again = claim(store, "w2", after);
        assert_eq!(seqs(&again), vec![s]);
        assert!(
            !store
                .with_conn(|c| webhooks::complete(c, &crashed[0].key, "w1", &ok(), after))
                .unwrap()
        );
        assert!(
            !store
                .with_conn(|c| webhooks::release(c, &crashed[0].key, "w1"))
                .unwrap()
        );
        assert!(
            store
                .with_conn(|c| webhooks::complete(c, &again[0].key, "w2", &ok(), after))
                .unwrap()
        );
    }
);

store_test!(
    giving_up_marks_the_endpoint_failing_and_replay_resumes,
    |db| {
        let store = db.store();
        let t = new_tenant(store, "acme");
        let ep = endpoint(store, &t, &[]);
        let s1 = append(store, &t, "user.provisioned", "u1");
        let now = Utc::now();
        store
            .with_conn(|c| webhooks::dispatch(c, 100, now))
            .unwrap();
        let mut policy = RetryPolicy::default();
        policy.base = TimeDelta::seconds(1);
        policy.max_delay = TimeDelta::seconds(1);
        policy.window = TimeDelta::seconds(10);
        let mut at = now;
        let mut gave_up = false;
        for _ in 0..20 {
            let c = claim(store, "w", at);
            if c.is_empty() {
                break;
            }
            let out = store
                .with_conn(|cn| webhooks::fail(cn, &c[0].key, "w", &err(), &policy, at))
                .unwrap();
            if out == FailOutcome::GaveUp {
                gave_up = true;
                break;
            }
            at += TimeDelta::seconds(2);
        }
        assert!(gave_up);
        let e = store.with_conn(|c| webhooks::get(c, &t, &ep)).unwrap();
        assert_eq!(e.state, webhooks::STATE_FAILING);
        // Nothing is dispatched or delivered to a failing endpoint.
        append(store, &t, "user.updated", "u1");
        assert_eq!(
            store.with_conn(|c| webhooks::dispatch(c, 100, at)).unwrap(),
            0
        );
        assert!(claim(store, "w", at + TimeDelta::hours(1)).is_empty());
        // Replay from the first event: both go out again, in order.
        assert!(
            store
                .with_conn(|c| webhooks::replay(c, &t, &ep, 0, at))
                .is_err()
        );
        assert!(
            store
                .with_conn(|c| webhooks::replay(c, &t, &ep, 99, at))
                .is_err()
        );
        let e = store
            .with_conn(|c| webhooks::replay(c, &t, &ep, s1, at))
            .unwrap();
        assert_eq!(e.state, webhooks::STATE_HEALTHY);
        assert_eq!(
            store.with_conn(|c| webhooks::dispatch(c, 100, at)).unwrap(),
            2
        );
        assert_eq!(seqs(&claim(store, "w", at)), vec![s1]);
    }
);

store_test!(a_released_claim_comes_back_at_once_unattempted, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    endpoint(store, &t, &[]);
    let s = append(store, &t, "user.provisioned", "u1");
    let now = Utc::now();
    store
        .with_conn(|c| webhooks::dispatch(c, 100, now))
        .unwrap();
    let first = claim(store, "w1", now);
    assert!(
        store
            .with_conn(|c| webhooks::release(c, &first[0].key, "w1"))
            .unwrap()
    );
    let again = claim(store, "w2", now);
    assert_eq!(seqs(&again), vec![s]);
    assert_eq!(again[0].attempts, 0);
});

store_test!(concurrent_claims_deliver_each_row_once, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    endpoint(store, &t, &[]);
    for i in 0..60 {
        append(store, &t, "user.provisioned", &format!("u{i}"));
    }
    let now = Utc::now();
    assert_eq!(
        store
            .with_conn(|c| webhooks::dispatch(c, 1000, now))
            .unwrap(),
        60
    );
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .with_conn(|c| {
                            webhooks::claim(c, &format!("w{w}"), 5, TimeDelta::seconds(60), now)
                        })
                        .unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    for d in batch {
                        assert!(
                            store
                                .with_conn(|c| webhooks::complete(
                                    c,
                                    &d.key,
                                    &format!("w{w}"),
                                    &ok(),
                                    now
                                ))
                                .unwrap()
                        );
                        got.push(d.event.seq);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!((n, all.len()), (60, 60));
});

store_test!(api_keys_open_their_tenant_only, |db| {
    let store = db.store();
    let a = new_tenant(store, "a");
    let b = new_tenant(store, "b");
    let key = store
        .transaction(|c| api_keys::create(c, &a, "consumer", Utc::now()))
        .unwrap();
    assert!(key.key.starts_with("sk_"));
    assert!(!format!("{key:?}").contains(&key.key));
    let id = store
        .with_conn(|c| api_keys::verify(c, &a, &key.key))
        .unwrap();
    assert_eq!(id.as_deref(), Some(key.record.id.as_str()));
    assert_eq!(
        store
            .with_conn(|c| api_keys::verify(c, &b, &key.key))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .with_conn(|c| api_keys::verify(c, &a, "sk_nope"))
            .unwrap(),
        None
    );
    let listed: HashSet<String> = store
        .with_conn(|c| api_keys::list(c, &a))
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert!(listed.contains(&key.record.id));
    store
        .transaction(|c| api_keys::delete(c, &a, &key.record.id))
        .unwrap();
    assert_eq!(
        store
            .with_conn(|c| api_keys::verify(c, &a, &key.key))
            .unwrap(),
        None
    );
    assert!(matches!(
        store.transaction(|c| api_keys::delete(c, &a, &key.record.id)),
        Err(StoreError::NotFound)
    ));
});

store_test!(at_most_n_workers_hold_one_endpoints_deliveries, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    let slow = endpoint(store, &t, &[]);
    // Ten users' events: independent resources, all due at once.
    for n in 0..10 {
        append(store, &t, "user.provisioned", &format!("u{n}"));
    }
    let first = Utc::now() - TimeDelta::seconds(1);
    store
        .with_conn(|c| webhooks::dispatch(c, 100, first))
        .unwrap();
    // The other tenant's delivery becomes due later, so it sorts last.
    let other_tenant = new_tenant(store, "other");
    let other = endpoint(store, &other_tenant, &[]);
    append(store, &other_tenant, "user.provisioned", "o1");
    let now = Utc::now();
    store
        .with_conn(|c| webhooks::dispatch(c, 100, now))
        .unwrap();
    let lease = TimeDelta::seconds(60);
    let claim_n = |worker: &str, limit: u32| {
        store
            .with_conn(|c| webhooks::claim_with(c, worker, limit, Some(1), lease, now))
            .unwrap()
    };
    // w1 takes three of the slow endpoint's deliveries...
    let w1 = claim_n("w1", 3);
    assert_eq!(w1.len(), 3);
    assert!(w1.iter().all(|c| c.key.endpoint_id == slow));
    // ...so w2 gets only the other endpoint's, although seven more are due.
    let w2 = claim_n("w2", 10);
    assert_eq!(
        w2.len(),
        1,
        "{:?}",
        w2.iter().map(|c| &c.key).collect::<Vec<_>>()
    );
    assert_eq!(w2[0].key.endpoint_id, other);
    assert!(claim_n("w3", 10).is_empty());
    // w1 itself may take more of the endpoint it already holds.
    assert_eq!(claim_n("w1", 2).len(), 2);
    // Without a limit, w3 takes the rest; with a limit of 2, so does w3.
    let two = store
        .with_conn(|c| webhooks::claim_with(c, "w3", 10, Some(2), lease, now))
        .unwrap();
    assert_eq!(two.len(), 5);
    // Once w1's deliveries are done, the endpoint is free for w2.
    for c in w1 {
        assert!(
            store
                .with_conn(|conn| webhooks::complete(conn, &c.key, "w1", &ok(), now))
                .unwrap()
        );
    }
    for c in &two {
        assert!(
            store
                .with_conn(|conn| webhooks::release(conn, &c.key, "w3"))
                .unwrap()
        );
    }
    // w1 still holds two; w3 released its five: one more worker is over.
    assert!(claim_n("w2", 10).is_empty());
    assert_eq!(
        store
            .with_conn(|c| webhooks::claim(c, "w2", 10, lease, now))
            .unwrap()
            .len(),
        5,
        "no limit: the plain claim ignores other workers"
    );
});

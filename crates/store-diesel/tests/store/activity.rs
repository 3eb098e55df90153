//! Provisioning activity: replicas' counts add up in one row per bucket,
//! first/last request times widen, the newest errors are kept, old buckets go.

use chrono::{DateTime, Utc};
use store_diesel::activity::{self, Bucket, RequestError};

use super::*;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap()
}

fn bucket(start: i64, requests: i64, errors: i64, first: i64, last: i64) -> Bucket {
    Bucket {
        bucket: 1_900_000_000 + start,
        requests,
        errors,
        first_at: at(first),
        last_at: at(last),
    }
}

fn error(s: i64) -> RequestError {
    RequestError {
        at: at(s),
        request: format!("GET /scim/v2/acme/Users/{s}"),
        status: 404,
        scim_type: (s % 2 == 0).then(|| "invalidValue".to_owned()),
        detail: format!("no user {s}"),
    }
}

store_test!(activity_sums_replicas_and_keeps_the_newest_errors, |db| {
    let store = db.store();
    let t = store
        .transaction(|c| store_diesel::tenants::create(c, "acme", "Acme"))
        .unwrap();
    let other = store
        .transaction(|c| store_diesel::tenants::create(c, "other", "Other"))
        .unwrap();
    let keep = 0;
    // Replica 1, then replica 2 in the same bucket, plus an older bucket.
    store
        .transaction(|c| activity::add(c, &t.id, &[bucket(60, 3, 1, 61, 70)], &[error(1)], 3, keep))
        .unwrap();
    store
        .transaction(|c| {
            activity::add(
                c,
                &t.id,
                &[bucket(0, 1, 0, 5, 5), bucket(60, 2, 2, 60, 90)],
                &[error(2), error(3), error(4)],
                3,
                keep,
            )
        })
        .unwrap();
    store
        .transaction(|c| activity::add(c, &other.id, &[bucket(60, 7, 0, 60, 60)], &[], 3, keep))
        .unwrap();
    let rows = store
        .with_conn(|c| activity::buckets_since(c, &t.id, 0))
        .unwrap();
    assert_eq!(rows, [bucket(60, 5, 3, 60, 90), bucket(0, 1, 0, 5, 5)]);
    let since = store
        .with_conn(|c| activity::buckets_since(c, &t.id, 1_900_000_060))
        .unwrap();
    assert_eq!(since.len(), 1);
    let errors = store
        .with_conn(|c| activity::last_errors(c, &t.id, 10))
        .unwrap();
    assert_eq!(
        errors,
        [error(4), error(3), error(2)],
        "the newest 3, newest first"
    );
    assert!(
        store
            .with_conn(|c| activity::last_errors(c, &other.id, 10))
            .unwrap()
            .is_empty()
    );
    // Buckets before the cut-off go when a replica next writes.
    store
        .transaction(|c| {
            activity::add(
                c,
                &t.id,
                &[bucket(120, 1, 0, 120, 120)],
                &[],
                3,
                1_900_000_060,
            )
        })
        .unwrap();
    let rows = store
        .with_conn(|c| activity::buckets_since(c, &t.id, 0))
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|b| b.bucket - 1_900_000_000)
            .collect::<Vec<_>>(),
        [120, 60]
    );
});

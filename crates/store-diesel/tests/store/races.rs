//! Concurrency: many writers on one group, and the races that uniqueness and
//! versions must decide (one winner, one clean error), on both backends.

use std::sync::Barrier;

use chrono::Duration;
use store_diesel::groups;
use store_diesel::tenants;
use store_diesel::users::{self, UserRecord};

use super::lists::{UserSpec, base_time, group_record, user_record};
use super::*;

const THREADS: usize = 8;
const PER_THREAD: usize = 50;
const ROUNDS: usize = 10;

fn spec(i: usize, user_name: &str) -> UserSpec {
    UserSpec {
        id: format!("u{i:04}"),
        user_name: user_name.to_owned(),
        external_id: None,
        display_name: None,
        title: None,
        emails: vec![
            (
                format!("{user_name}@Work.example"),
                Some("work".into()),
                true,
            ),
            (format!("{user_name}@home.example"), None, false),
        ],
        active: true,
        created: base_time() + Duration::milliseconds(i64::try_from(i).unwrap()),
        last_modified: base_time(),
    }
}

fn new_tenant(store: &Store, slug: &str) -> String {
    store
        .transaction(|c| tenants::create(c, slug, slug))
        .unwrap()
        .id
}

store_test!(concurrent_member_additions_all_land, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    let records: Vec<UserRecord> = (0..THREADS * PER_THREAD)
        .map(|i| user_record(&t, &spec(i, &format!("user{i}"))))
        .collect();
    store
        .transaction(|c| {
            users::insert_many(c, &records)?;
            groups::insert(c, &group_record(&t, "g1", "Everyone", base_time()))
        })
        .unwrap();
    assert_eq!(store.with_conn(|c| users::count(c, &t)).unwrap(), 400);
    let got = store.with_conn(|c| users::get(c, &t, "u0399")).unwrap();
    assert_eq!(got, records[399]);
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for n in 0..THREADS {
            let (store, t, records, barrier) = (store.clone(), &t, &records, &barrier);
            s.spawn(move || {
                barrier.wait();
                for r in &records[n * PER_THREAD..(n + 1) * PER_THREAD] {
                    let added = store
                        .transaction(|c| groups::add_members(c, t, "g1", &[r.id.as_str()]))
                        .unwrap_or_else(|e| panic!("thread {n}, {}: {e}", r.id));
                    assert_eq!(added, 1);
                }
            });
        }
    });
    let count = store
        .with_conn(|c| groups::member_count(c, &t, "g1"))
        .unwrap();
    assert_eq!(count, i64::try_from(THREADS * PER_THREAD).unwrap());
});

store_test!(concurrent_same_user_name_one_wins, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    for round in 0..ROUNDS {
        let a = user_record(&t, &spec(2 * round, &format!("Racer{round}")));
        let b = user_record(&t, &spec(2 * round + 1, &format!("rACER{round}")));
        let barrier = Barrier::new(2);
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = [&a, &b]
                .into_iter()
                .map(|r| {
                    let (store, barrier) = (store.clone(), &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        store.transaction(|c| users::insert(c, r))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict { what }) if what == "userName"))
            .count();
        assert_eq!((ok, conflicts), (1, 1), "round {round}: {results:?}");
    }
    assert_eq!(
        store.with_conn(|c| users::count(c, &t)).unwrap(),
        i64::try_from(ROUNDS).unwrap()
    );
});

store_test!(concurrent_updates_with_one_version_one_wins, |db| {
    let store = db.store();
    let t = new_tenant(store, "acme");
    let base = user_record(&t, &spec(0, "alice"));
    store.transaction(|c| users::insert(c, &base)).unwrap();
    let mut version = base.version;
    for round in 0..ROUNDS {
        let barrier = Barrier::new(2);
        let results: Vec<Result<i64, StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|n| {
                    let (store, barrier, base) = (store.clone(), &barrier, &base);
                    s.spawn(move || {
                        let mut mine = base.clone();
                        mine.display_name = Some(format!("writer {n} round {round}"));
                        mine.document["displayName"] = serde_json::json!(mine.display_name);
                        barrier.wait();
                        store.transaction(|c| users::update(c, &mine, Some(version)))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        let lost = results
            .iter()
            .filter(|r| {
                matches!(r, Err(StoreError::PreconditionFailed { current }) if *current == version + 1)
            })
            .count();
        assert_eq!(won, vec![version + 1], "round {round}: {results:?}");
        assert_eq!(lost, 1, "round {round}: {results:?}");
        version += 1;
    }
    let got = store.with_conn(|c| users::get(c, &t, &base.id)).unwrap();
    assert_eq!(got.version, version);
});

//! Store benchmarks (criterion), SQLite always and PostgreSQL when
//! `SCIM_TEST_PG_URL` is set:
//!
//! * inserting 100,000 users (multi-row inserts, 1,000 users per transaction;
//!   the rate is printed),
//! * `find_by_user_name` with 1,000 and with 100,000 users,
//! * adding 1,000 members to a group of 50,000,
//! * listing 100 users with an indexed filter (`userName sw "user-1"`) and a
//!   non-indexed one (`title eq "x"`, finished in memory).
//!
//! `cargo bench -p store-diesel --bench store -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use scim_model::parse_filter;
use serde_json::json;
use store_diesel::testing::TestDb;
use store_diesel::users::{self, Email, UserRecord};
use store_diesel::{ListQuery, Store, groups, tenants};

const SMALL: usize = 1_000;
const LARGE: usize = 100_000;
const GROUP_SIZE: usize = 50_000;
const ADDED: usize = 1_000;
const TX_BATCH: usize = 1_000;

fn user(tenant_id: &str, i: usize) -> UserRecord {
    let user_name = format!("user-{i}");
    let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::milliseconds(i64::try_from(i).unwrap());
    let email = format!("{user_name}@example.com");
    let title = if i % 1000 == 7 { "x" } else { "Engineer" };
    UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: format!("{:08x}-0000-4000-8000-{:012x}", i, i),
        user_name: user_name.clone(),
        external_id: Some(format!("ext-{i}")),
        display_name: Some(format!("User {i}")),
        active: true,
        status: "Active".to_owned(),
        status_before_suspend: None,
        override_automatic_invitation: None,
        override_require_mobile_auth: None,
        mobile_device_enrolled: false,
        mobile_device_name: None,
        created_at: created,
        last_modified: created,
        version: 1,
        document: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "externalId": format!("ext-{i}"),
            "displayName": format!("User {i}"),
            "name": { "givenName": "User", "familyName": format!("{i}") },
            "title": title,
            "active": true,
            "emails": [{ "value": email, "type": "work", "primary": true }],
        }),
        lifecycle: json!({ "state": "Active" }),
        emails: vec![Email {
            value: email,
            email_type: Some("work".to_owned()),
            primary: true,
        }],
    }
}

/// Inserts users `from..to`; returns the elapsed time.
fn insert_users(store: &Store, tenant_id: &str, from: usize, to: usize) -> Duration {
    let start = Instant::now();
    let mut i = from;
    while i < to {
        let end = (i + TX_BATCH).min(to);
        let batch: Vec<UserRecord> = (i..end).map(|n| user(tenant_id, n)).collect();
        store
            .transaction(|c| users::insert_many(c, &batch))
            .unwrap();
        i = end;
    }
    start.elapsed()
}

fn lookup(c: &mut Criterion, store: &Store, tenant_id: &str, label: &str, n: usize) {
    let mut group = c.benchmark_group(format!("{label}/find_by_user_name"));
    group.bench_function(format!("{n}_users"), |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % n;
            let name = format!("USER-{i}");
            let found = store
                .with_conn(|c| users::find_by_user_name(c, tenant_id, &name))
                .unwrap();
            black_box(found.unwrap());
        });
    });
    group.finish();
}

fn run(c: &mut Criterion, db: &TestDb, label: &str) {
    let store = db.store();
    let t = store
        .transaction(|c| tenants::create(c, "bench", "Bench"))
        .unwrap()
        .id;

    insert_users(store, &t, 0, SMALL);
    lookup(c, store, &t, label, SMALL);

    let elapsed = insert_users(store, &t, SMALL, LARGE);
    let inserted = LARGE - SMALL;
    eprintln!(
        "{label}: inserted {inserted} users in {:.2} s = {:.0} users/s (multi-row, {TX_BATCH} per transaction)",
        elapsed.as_secs_f64(),
        inserted as f64 / elapsed.as_secs_f64()
    );
    // What autovacuum (PostgreSQL) would do shortly after a bulk load; without
    // statistics PostgreSQL plans the keyset scan as a full bitmap scan + sort.
    store
        .with_conn(|c| {
            diesel::connection::SimpleConnection::batch_execute(c, "ANALYZE")
                .map_err(store_diesel::StoreError::from)
        })
        .unwrap();
    lookup(c, store, &t, label, LARGE);

    // A group of 50,000 members.
    let ids: Vec<String> = (0..LARGE).map(|i| user(&t, i).id).collect();
    store
        .transaction(|c| {
            groups::insert(
                c,
                &groups::GroupRecord {
                    tenant_id: t.clone(),
                    id: "g-big".to_owned(),
                    display_name: "Everyone".to_owned(),
                    external_id: None,
                    override_require_mobile_auth: None,
                    members_can_store_data: true,
                    created_at: Utc::now(),
                    last_modified: Utc::now(),
                    version: 1,
                    document: json!({ "displayName": "Everyone" }),
                },
            )?;
            let refs: Vec<&str> = ids[..GROUP_SIZE].iter().map(String::as_str).collect();
            groups::add_members(c, &t, "g-big", &refs)
        })
        .unwrap();
    let mut group = c.benchmark_group(format!("{label}/members"));
    group.sample_size(10);
    group.bench_function("add_1000_to_50000", |b| {
        let mut round = 0usize;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let from = GROUP_SIZE + (round % 40) * ADDED;
                round += 1;
                let refs: Vec<&str> = ids[from..from + ADDED].iter().map(String::as_str).collect();
                let start = Instant::now();
                let added = store
                    .transaction(|c| groups::add_members(c, &t, "g-big", &refs))
                    .unwrap();
                total += start.elapsed();
                assert_eq!(added, ADDED);
                store
                    .transaction(|c| groups::remove_members(c, &t, "g-big", &refs))
                    .unwrap();
            }
            total
        });
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{label}/list_100"));
    group.sample_size(10);
    for (name, text) in [
        ("userName_sw_indexed", r#"userName sw "user-1""#),
        ("title_eq_in_memory", r#"title eq "x""#),
    ] {
        let filter = parse_filter(text).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let q = ListQuery {
                    filter: Some(&filter),
                    sort_by: None,
                    descending: false,
                    start_index: 1,
                    count: 100,
                    after: None,
                };
                let page = store.with_conn(|c| users::list(c, &t, &q)).unwrap();
                assert_eq!(page.items.len(), 100);
                black_box(page);
            });
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    #[cfg(feature = "sqlite")]
    {
        let sqlite = TestDb::sqlite();
        run(c, &sqlite, "sqlite");
    }
    match TestDb::postgres() {
        Some(pg) => run(c, &pg, "postgres"),
        None => eprintln!(
            "\n*** SKIPPED: PostgreSQL benchmarks need SCIM_TEST_PG_URL \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres) ***\n"
        ),
    }
}

criterion_group!(store, benches);
criterion_main!(store);

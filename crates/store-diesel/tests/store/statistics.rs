//! PostgreSQL with autovacuum off: a statement a connection prepared while
//! the tables were empty keeps a plan for empty tables (for a `userName`
//! lookup, an index on `tenant_id` alone, then a filter over every user of
//! the tenant) until something runs `ANALYZE`; the store does when
//! autovacuum does not (`store_diesel::statistics`).

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use store_diesel::statistics;
use store_diesel::testing::TestDb;
use store_diesel::users::{self, UserRecord};
use store_diesel::{StoreOptions, tenants};

use super::*;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

fn user(tenant_id: &str, n: usize) -> UserRecord {
    let now = Utc::now();
    super::lists::user_record(
        tenant_id,
        &super::lists::UserSpec {
            id: format!("u{n}"),
            user_name: format!("user{n}@example.net"),
            external_id: None,
            display_name: None,
            title: None,
            emails: Vec::new(),
            active: true,
            created: now,
            last_modified: now,
        },
    )
}

/// The PostgreSQL connection of a pooled one.
#[allow(irrefutable_let_patterns)] // without the `sqlite` feature
fn pg(pooled: &mut store_diesel::PooledDbConnection) -> &mut diesel::PgConnection {
    let DbConnection::Pg(conn) = &mut **pooled else {
        panic!("a PostgreSQL store")
    };
    conn
}

/// The plan `EXPLAIN EXECUTE lookup(...)` shows on `conn`.
fn plan(conn: &mut diesel::PgConnection, tenant_id: &str) -> String {
    diesel::sql_query(format!(
        "EXPLAIN EXECUTE lookup('{tenant_id}', 'user7@example.net')"
    ))
    .load::<PlanLine>(conn)
    .unwrap()
    .into_iter()
    .map(|l| l.line)
    .collect::<Vec<_>>()
    .join("\n")
}

/// Prepares the `userName` lookup on `conn` and runs it six times on the
/// empty table: PostgreSQL then keeps a generic plan made for empty tables.
fn freeze_lookup(conn: &mut diesel::PgConnection, tenant_id: &str) {
    conn.batch_execute(
        "PREPARE lookup(text, text) AS \
         SELECT id FROM users WHERE tenant_id = $1 AND user_name_folded = $2",
    )
    .unwrap();
    for _ in 0..6 {
        conn.batch_execute(&format!(
            "EXECUTE lookup('{tenant_id}', 'nobody@example.net')"
        ))
        .unwrap();
    }
}

#[test]
fn stale_tables_are_found_and_analyzed() {
    let Some(db) = TestDb::postgres() else { return };
    let store = db.store();
    let t = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    let mut pooled = store.conn().unwrap();
    let conn = pg(&mut pooled);
    freeze_lookup(conn, &t.id);
    let batch: Vec<UserRecord> = (0..3000).map(|n| user(&t.id, n)).collect();
    store
        .transaction(|c| users::insert_many(c, &batch))
        .unwrap();
    // Dead row versions: 1,111 users deleted (user1, user10.., user100..,
    // user1000..).
    conn.batch_execute(&format!(
        "DELETE FROM users WHERE tenant_id = '{}' AND user_name_folded LIKE 'user1%'",
        t.id
    ))
    .unwrap();
    // The counters PostgreSQL's statistics views read are flushed when a
    // session goes idle, at most once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stale = loop {
        let stale = statistics::stale_tables(conn).unwrap();
        let both = stale
            .iter()
            .any(|t| t.table.ends_with(".users") && t.analyze)
            && stale
                .iter()
                .any(|t| t.table.ends_with(".tenants") && t.vacuum);
        if both || Instant::now() > deadline {
            break stale;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        stale
            .iter()
            .any(|t| t.table.ends_with(".users") && t.analyze),
        "{stale:?}"
    );
    assert!(
        stale
            .iter()
            .any(|t| t.table.ends_with(".users") && t.vacuum),
        "1,111 rows deleted: {stale:?}"
    );
    let done = statistics::maintain_stale(conn).unwrap();
    assert_eq!(done, stale);
    // The statement planned on empty tables is planned again: the unique
    // index, not a walk over the tenant's users.
    let after = plan(conn, &t.id);
    assert!(after.contains("users_user_name_uq"), "{after}");
    // Nothing is stale right after.
    let again = statistics::stale_tables(conn).unwrap();
    assert!(
        !again.iter().any(|t| t.table.ends_with(".users")),
        "{again:?}"
    );
}

/// Without the store's own ANALYZE (autovacuum off, as on the machine the
/// benchmarks ran on) the frozen plan stays; with it, the lookup is planned
/// again within a few seconds of the table's growth.
#[test]
fn a_store_analyzes_in_the_background_when_autovacuum_is_off() {
    let Some(db) = TestDb::postgres() else { return };
    let store = Store::connect_with(db.url(), &StoreOptions::default()).unwrap();
    let mut pooled = store.conn().unwrap();
    let conn = pg(&mut pooled);
    let autovacuum = statistics::autovacuum_on(conn).unwrap();
    assert_eq!(store.analyzes_in_background(), !autovacuum);
    let mut one_shot = StoreOptions::one_shot();
    one_shot.max_size = 1;
    assert!(
        !Store::connect_with(db.url(), &one_shot)
            .unwrap()
            .analyzes_in_background()
    );
    if autovacuum {
        eprintln!("autovacuum is on here: the server analyses; nothing more to check");
        return;
    }
    let t = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
    freeze_lookup(conn, &t.id);
    let batch: Vec<UserRecord> = (0..3000).map(|n| user(&t.id, n)).collect();
    store
        .transaction(|c| users::insert_many(c, &batch))
        .unwrap();
    let frozen = plan(conn, &t.id);
    let deadline = Instant::now() + statistics::CHECK_INTERVAL * 6;
    loop {
        let now = plan(conn, &t.id);
        if now.contains("users_user_name_uq") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still the plan made for empty tables:\n{now}\n(right after the inserts:\n{frozen})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

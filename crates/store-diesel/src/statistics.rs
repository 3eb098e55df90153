//! Planner statistics on a PostgreSQL server whose autovacuum is off.
//!
//! PostgreSQL plans a statement from the statistics `ANALYZE` keeps, and a
//! statement that a connection runs again and again (every statement of this
//! store: diesel prepares them) gets one generic plan after its fifth run,
//! made from the statistics of that moment and kept until they change. On a
//! new database the tables are empty and never analysed, so that plan is
//! made for empty tables: for a `userName eq` lookup, PostgreSQL 15 picks
//! any index that starts with `tenant_id` (they all cost the same on an empty
//! table) and then filters every user of the tenant, and so does the foreign
//! key check of every email row inserted. Inserting rows does not make a
//! new plan; the next `ANALYZE` does.
//!
//! Autovacuum analyses a table once its changes since the last `ANALYZE`
//! pass `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor *
//! rows` (50 + 10% by default), so the bad plans last seconds. When the
//! server runs with `autovacuum = off`, nothing ever analyses, and lookups
//! slow down linearly with the directory's size. Then this store does that
//! part of autovacuum's work: a thread of its own checks the tables of the
//! store's schema every [`CHECK_INTERVAL`] and runs `ANALYZE` on each that
//! passed the same threshold. It never vacuums: keep autovacuum on.

use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use r2d2::ManageConnection;

use crate::StoreError;
use crate::connection::{ConnectionManager, DbConnection};

/// How often the thread looks for tables whose statistics are stale.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Whether the server's autovacuum is on (`SHOW autovacuum`).
///
/// # Errors
/// Database errors.
pub fn autovacuum_on(conn: &mut PgConnection) -> Result<bool, StoreError> {
    let setting: Setting =
        diesel::sql_query("SELECT current_setting('autovacuum') AS value").get_result(conn)?;
    Ok(setting.value == "on")
}

/// The tables of the current schema that changed enough since their last
/// `ANALYZE` that autovacuum would analyse them (its threshold and scale
/// factor, as the server is configured), as quoted names.
///
/// # Errors
/// Database errors.
pub fn stale_tables(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS name \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() \
           AND s.n_mod_since_analyze > \
               current_setting('autovacuum_analyze_threshold')::float8 \
               + current_setting('autovacuum_analyze_scale_factor')::float8 \
                 * GREATEST(c.reltuples, 0) \
         ORDER BY s.relname",
    )
    .load(conn)?;
    Ok(tables.into_iter().map(|t| t.name).collect())
}

/// Runs `ANALYZE` on every [`stale_tables`] table; returns their names.
///
/// # Errors
/// Database errors.
pub fn analyze_stale(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    let tables = stale_tables(conn)?;
    for table in &tables {
        conn.batch_execute(&format!("ANALYZE {table}"))?;
    }
    Ok(tables)
}

/// Starts the thread for the database `manager` opens; it runs while `alive`
/// can be upgraded. Returns `false` when it could not be started.
pub(crate) fn start(manager: ConnectionManager, alive: &Arc<()>) -> bool {
    let alive: Weak<()> = Arc::downgrade(alive);
    std::thread::Builder::new()
        .name("pg-statistics".to_owned())
        .spawn(move || run(&manager, &alive))
        .is_ok()
}

fn run(manager: &ConnectionManager, alive: &Weak<()>) {
    let mut conn: Option<PgConnection> = None;
    loop {
        std::thread::sleep(CHECK_INTERVAL);
        if alive.strong_count() == 0 {
            return;
        }
        if conn.is_none() {
            conn = match manager.connect() {
                Ok(DbConnection::Pg(c)) => Some(c),
                // Not reachable now: try again next time.
                _ => None,
            };
        }
        if let Some(c) = conn.as_mut()
            && analyze_stale(c).is_err()
        {
            // A broken connection is reopened on the next round.
            conn = None;
        }
    }
}

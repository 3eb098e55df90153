//! Planner statistics and dead rows on a PostgreSQL server whose autovacuum
//! is off.
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
//! slow down linearly with the directory's size. And nothing removes dead
//! row versions: a row updated on every write (a tenant's event counter)
//! spreads over ever more pages, which every read of that table then walks.
//! So when autovacuum is off this store does autovacuum's work for its own
//! tables: a thread with a connection of its own checks the tables of the
//! store's schema every [`CHECK_INTERVAL`] and runs `ANALYZE`, `VACUUM` or
//! both on each that passed autovacuum's own thresholds. Better still: turn
//! autovacuum on.

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
struct StaleRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    to_analyze: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    to_vacuum: bool,
}

/// A table that autovacuum would work on now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// Its schema-qualified, quoted name.
    pub table: String,
    /// Its rows changed enough since its last `ANALYZE`.
    pub analyze: bool,
    /// It has enough dead row versions for a `VACUUM`.
    pub vacuum: bool,
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

/// The tables of the current schema that autovacuum would analyse or vacuum
/// now, by its own thresholds as the server is configured: changed rows
/// since the last `ANALYZE` past `autovacuum_analyze_threshold +
/// autovacuum_analyze_scale_factor * rows`, dead row versions past
/// `autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * rows`.
///
/// # Errors
/// Database errors.
pub fn stale_tables(conn: &mut PgConnection) -> Result<Vec<Stale>, StoreError> {
    let rows: Vec<StaleRow> = diesel::sql_query(
        "SELECT name, to_analyze, to_vacuum FROM ( \
           SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS name, \
             s.n_mod_since_analyze > \
               current_setting('autovacuum_analyze_threshold')::float8 \
               + current_setting('autovacuum_analyze_scale_factor')::float8 \
                 * GREATEST(c.reltuples, 0) AS to_analyze, \
             s.n_dead_tup > \
               current_setting('autovacuum_vacuum_threshold')::float8 \
               + current_setting('autovacuum_vacuum_scale_factor')::float8 \
                 * GREATEST(c.reltuples, 0) AS to_vacuum \
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
           WHERE s.schemaname = current_schema()) t \
         WHERE to_analyze OR to_vacuum ORDER BY name",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Stale {
            table: r.name,
            analyze: r.to_analyze,
            vacuum: r.to_vacuum,
        })
        .collect())
}

/// Does autovacuum's work on every [`stale_tables`] table: `ANALYZE`,
/// `VACUUM` or `VACUUM (ANALYZE)`. Returns what it did. Not in a
/// transaction (`VACUUM` cannot run in one).
///
/// # Errors
/// Database errors.
pub fn maintain_stale(conn: &mut PgConnection) -> Result<Vec<Stale>, StoreError> {
    let stale = stale_tables(conn)?;
    for t in &stale {
        let command = match (t.vacuum, t.analyze) {
            (true, true) => "VACUUM (ANALYZE)",
            (true, false) => "VACUUM",
            (false, _) => "ANALYZE",
        };
        conn.batch_execute(&format!("{command} {}", t.table))?;
    }
    Ok(stale)
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
            && maintain_stale(c).is_err()
        {
            // A broken connection is reopened on the next round.
            conn = None;
        }
    }
}

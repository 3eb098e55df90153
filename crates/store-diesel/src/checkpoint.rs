//! The background WAL checkpointer of an SQLite file store.
//!
//! In WAL mode SQLite appends every commit to the `-wal` file and, by default,
//! the commit that takes the log past 1,000 pages copies the log back into the
//! database file and `fsync`s it ("checkpoint"), while it holds the write
//! lock. With the checkpointer, a thread of the store does that work every
//! [`CHECKPOINT_INTERVAL`] on its own connection (`PRAGMA wal_checkpoint(PASSIVE)`:
//! it never waits for readers or blocks the writer), so a SCIM write no longer
//! pays for it. Pool connections keep an automatic checkpoint at
//! [`FALLBACK_AUTOCHECKPOINT_PAGES`] as a safety net: when this thread cannot
//! keep up (or cannot open its connection), writers checkpoint as before, at a
//! larger log size.
//!
//! The thread holds only a weak reference to the store and ends within one
//! interval after the last clone of the store is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use r2d2::ManageConnection;

use crate::connection::{ConnectionManager, DbConnection};

/// How often the checkpointer copies the log into the database file.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The automatic checkpoint of pool connections while the checkpointer runs
/// (pages of the log; SQLite's default is 1,000).
pub const FALLBACK_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Starts the checkpointer thread for the database `manager` opens; it runs
/// while `alive` can be upgraded. Returns `false` when the thread could not be
/// started (the store then keeps SQLite's own automatic checkpoint).
pub(crate) fn start(manager: ConnectionManager, alive: &Arc<()>) -> bool {
    let alive: Weak<()> = Arc::downgrade(alive);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || run(&manager, &alive))
        .is_ok()
}

fn run(manager: &ConnectionManager, alive: &Weak<()>) {
    let mut conn: Option<SqliteConnection> = None;
    loop {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        if alive.strong_count() == 0 {
            return;
        }
        if conn.is_none() {
            // The same file as the pool's; WAL mode is a property of the file.
            conn = match manager.connect() {
                Ok(DbConnection::Sqlite(c)) => Some(c),
                // Not SQLite, or it cannot be opened now: the writers'
                // automatic checkpoint covers it; try again next time.
                _ => None,
            };
        }
        if let Some(c) = conn.as_mut()
            && c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);").is_err()
        {
            // A broken connection is reopened on the next round.
            conn = None;
        }
    }
}

//! The connection enum, our r2d2 connection manager, and per-connection setup.

use diesel::connection::{Connection, SimpleConnection, TransactionManager};
#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
#[cfg(feature = "sqlite")]
use diesel::sqlite::SqliteConnection;

use crate::url::DatabaseTarget;

pub use multi::{DbConnection, MultiBackend};

// The derive generates public items of its own (`MultiBackend`, the query
// builder, …) that carry no docs; the allow is confined to this module.
#[allow(missing_docs)]
mod multi {
    #[cfg(feature = "postgres")]
    use diesel::pg::PgConnection;
    #[cfg(feature = "sqlite")]
    use diesel::sqlite::SqliteConnection;

    /// One connection to either backend. Queries written against the shared schema
    /// run on both through diesel's `MultiConnection`; backend-specific SQL matches on
    /// the variant. SQLite is declared last, as `MultiConnection` requires.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// A PostgreSQL connection (feature `postgres`).
        #[cfg(feature = "postgres")]
        Pg(PgConnection),
        /// An SQLite connection (feature `sqlite`).
        #[cfg(feature = "sqlite")]
        Sqlite(SqliteConnection),
    }
}

impl DbConnection {
    /// Whether this is a PostgreSQL connection.
    pub fn is_pg(&self) -> bool {
        #[cfg(feature = "postgres")]
        if matches!(self, DbConnection::Pg(_)) {
            return true;
        }
        false
    }
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "postgres")]
            Self::Pg(_) => "DbConnection::Pg",
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Why a connection could not be opened or prepared.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The driver refused to connect (server down, bad credentials, bad path…).
    #[error(transparent)]
    Connect(#[from] diesel::ConnectionError),
    /// The per-connection setup SQL failed.
    #[error("connection setup failed: {0}")]
    Setup(#[from] diesel::result::Error),
    /// A PostgreSQL URL, in a build without store-diesel's `postgres` feature.
    #[error(
        "this build has no PostgreSQL support (store-diesel's `postgres` feature is off): use an sqlite:// URL"
    )]
    NoPostgres,
    /// An SQLite URL (or a file path), in a build without store-diesel's
    /// `sqlite` feature.
    #[error(
        "this build has no SQLite support (store-diesel's `sqlite` feature is off): use a postgres:// URL"
    )]
    NoSqlite,
}

/// An r2d2 [`r2d2::ManageConnection`] that opens the variant the URL scheme
/// names (see [`DatabaseTarget::parse`]). Per-connection setup is
/// [`ConnectionSetup`]'s job.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DatabaseTarget,
}

impl ConnectionManager {
    /// A manager for an already parsed target.
    pub fn new(target: DatabaseTarget) -> Self {
        Self { target }
    }

    /// The target this manager connects to.
    pub fn target(&self) -> &DatabaseTarget {
        &self.target
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        Ok(match &self.target {
            #[cfg(feature = "postgres")]
            DatabaseTarget::Postgres { url } => DbConnection::Pg(PgConnection::establish(url)?),
            #[cfg(not(feature = "postgres"))]
            DatabaseTarget::Postgres { .. } => return Err(ConnectError::NoPostgres),
            #[cfg(feature = "sqlite")]
            DatabaseTarget::SqliteFile { path } => {
                DbConnection::Sqlite(SqliteConnection::establish(path)?)
            }
            #[cfg(feature = "sqlite")]
            DatabaseTarget::SqliteMemory { uri } => {
                DbConnection::Sqlite(SqliteConnection::establish(uri)?)
            }
            #[cfg(not(feature = "sqlite"))]
            DatabaseTarget::SqliteFile { .. } | DatabaseTarget::SqliteMemory { .. } => {
                return Err(ConnectError::NoSqlite);
            }
        })
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(ConnectError::Setup)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking()
            || <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// SQLite settings applied to every new connection (files additionally get WAL).
///
/// `temp_store = MEMORY` keeps savepoint sub-journals in memory: every SCIM
/// write runs in a savepoint (and `POST /Bulk` in one per operation), and a
/// sub-journal above SQLite's 64 KiB spill threshold otherwise goes to a
/// temporary file, one `pwrite` per page the savepoint touches (a quarter of
/// the server's time in a Bulk load; docs/performance.md).
pub const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;";

/// The r2d2 [`r2d2::CustomizeConnection`] that prepares each new connection:
/// on SQLite it runs [`SQLITE_PRAGMAS`] and, for files, `journal_mode = WAL`
/// (readers beside the single writer). PostgreSQL needs nothing.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSetup {
    /// Whether to switch the SQLite journal to WAL (files only: an in-memory
    /// database has no WAL).
    pub sqlite_wal: bool,
    /// `PRAGMA wal_autocheckpoint` for WAL connections; `None` keeps
    /// SQLite's default (1,000 pages). The store raises it when its
    /// background checkpointer runs (`crate::checkpoint`).
    pub wal_autocheckpoint: Option<u32>,
}

impl r2d2::CustomizeConnection<DbConnection, ConnectError> for ConnectionSetup {
    // Without the `postgres` feature every connection is SQLite's.
    #[allow(irrefutable_let_patterns)]
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        #[cfg(feature = "sqlite")]
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(SQLITE_PRAGMAS)?;
            if self.sqlite_wal {
                conn.batch_execute("PRAGMA journal_mode = WAL;")?;
                if let Some(pages) = self.wal_autocheckpoint {
                    conn.batch_execute(&format!("PRAGMA wal_autocheckpoint = {pages};"))?;
                }
            }
        }
        Ok(())
    }
}

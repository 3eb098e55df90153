//! [`Store`]: the pool, the backend kind, migrations and transactions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
#[cfg(feature = "sqlite")]
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection};

use crate::StoreError;
use crate::connection::{ConnectionManager, ConnectionSetup, DbConnection};
use crate::url::{Backend, DatabaseTarget};

#[cfg(feature = "sqlite")]
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serialises migrations of replicas starting together on one PostgreSQL
/// (an arbitrary, fixed advisory-lock key).
#[cfg(feature = "postgres")]
const PG_MIGRATION_LOCK: i64 = 0x5C1_3A11_0C47;

/// A connection checked out of the store's pool.
pub type PooledDbConnection = PooledConnection<ConnectionManager>;

/// Pool settings. [`StoreOptions::default`] suits the server; change its
/// fields rather than building it literally (it may gain fields).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Most connections the pool opens (an in-memory SQLite store always uses 1).
    pub max_size: u32,
    /// How long a caller waits for a free connection before
    /// [`StoreError::Unavailable`] (r2d2's own default is 30 s).
    pub connection_timeout: Duration,
    /// Idle connections the pool keeps open, replenished in the background as
    /// connections are checked out. A server wants one warm; a short-lived
    /// command wants 0 ([`StoreOptions::one_shot`]): otherwise a pool thread may
    /// still be opening a connection when the process exits, and on PostgreSQL
    /// the C library's exit-time cleanup races it (a crash after the output).
    pub min_idle: u32,
    /// On an SQLite file, copy the write-ahead log into the database from a
    /// background thread instead of in the commit that fills it (see
    /// the `checkpoint` module). On by default; [`StoreOptions::one_shot`]
    /// turns it off.
    pub background_checkpoint: bool,
    /// On a PostgreSQL server whose autovacuum is off, run `ANALYZE` and
    /// `VACUUM` on the tables that need them, from a background thread, as
    /// autovacuum would (see the `statistics` module): without it,
    /// statements planned while the tables were empty stay slow as they grow. On by default;
    /// [`StoreOptions::one_shot`] turns it off.
    pub background_analyze: bool,
}

impl StoreOptions {
    /// Options for a command that runs a few queries and exits: one connection,
    /// opened when first needed and never in the background.
    pub fn one_shot() -> Self {
        Self {
            max_size: 1,
            min_idle: 0,
            background_checkpoint: false,
            background_analyze: false,
            ..Self::default()
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
            min_idle: 1,
            background_checkpoint: true,
            background_analyze: true,
        }
    }
}

/// The persistence handle: a pool of connections to one database plus its
/// backend kind. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// Keeps an in-memory SQLite database alive while pooled connections come
    /// and go (it vanishes with its last connection).
    #[cfg(feature = "sqlite")]
    _keep_alive: Option<Arc<Mutex<SqliteConnection>>>,
    /// SQLite has one writer at a time. Writers of this process queue here,
    /// in order, instead of in SQLite's busy handler, which sleeps in steps of
    /// up to 100 ms and leaves the CPU idle while the lock is free.
    write_gate: Option<Arc<Mutex<()>>>,
    /// While any clone holds this, the WAL checkpointer thread runs
    /// (`crate::checkpoint`; SQLite files only).
    _checkpointer: Option<Arc<()>>,
    /// While any clone holds this, the statistics thread runs
    /// (`crate::statistics`; PostgreSQL with autovacuum off only).
    analyzer: Option<Arc<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("pool", &self.pool.state())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool on `url` (see [`DatabaseTarget::parse`] for the accepted
    /// forms) with [`StoreOptions::default`]. Does not migrate.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for an unknown scheme, [`StoreError::Unavailable`]
    /// (at once, with the driver's message) when the database cannot be reached.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &StoreOptions::default())
    }

    /// [`Store::connect`], then [`Store::run_migrations`].
    ///
    /// # Errors
    /// As [`Store::connect`], plus [`StoreError::Migration`].
    pub fn connect_and_migrate(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url)?;
        store.run_migrations()?;
        Ok(store)
    }

    /// [`Store::connect`] with explicit pool options.
    ///
    /// One connection is opened directly first, so an unreachable server or an
    /// unopenable file fails here with the real cause instead of an r2d2 timeout.
    ///
    /// # Errors
    /// As [`Store::connect`].
    pub fn connect_with(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let target = DatabaseTarget::parse(url)?;
        let backend = target.backend();
        let memory = matches!(target, DatabaseTarget::SqliteMemory { .. });
        let file = matches!(target, DatabaseTarget::SqliteFile { .. });
        let manager = ConnectionManager::new(target);
        #[cfg(feature = "sqlite")]
        let (checkpointer, wal_autocheckpoint) = {
            let checkpointer = (file && options.background_checkpoint)
                .then(|| Arc::new(()))
                .filter(|alive| crate::checkpoint::start(manager.clone(), alive));
            let pages = checkpointer
                .is_some()
                .then_some(crate::checkpoint::FALLBACK_AUTOCHECKPOINT_PAGES);
            (checkpointer, pages)
        };
        #[cfg(not(feature = "sqlite"))]
        let (checkpointer, wal_autocheckpoint): (Option<Arc<()>>, Option<u32>) = (None, None);
        let setup = ConnectionSetup {
            sqlite_wal: file,
            wal_autocheckpoint,
        };

        let unavailable = |e: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!("cannot open the {backend} database: {e}"))
        };
        let mut probe = manager.connect().map_err(|e| unavailable(&e))?;
        setup.on_acquire(&mut probe).map_err(|e| unavailable(&e))?;
        #[cfg(feature = "postgres")]
        let analyzer = match &mut probe {
            DbConnection::Pg(conn) if options.background_analyze => {
                let off = !crate::statistics::autovacuum_on(conn).map_err(|e| unavailable(&e))?;
                off.then(|| Arc::new(()))
                    .filter(|alive| crate::statistics::start(manager.clone(), alive))
            }
            _ => None,
        };
        #[cfg(not(feature = "postgres"))]
        let analyzer: Option<Arc<()>> = None;
        #[cfg(feature = "sqlite")]
        let keep_alive = match probe {
            DbConnection::Sqlite(conn) if memory => Some(Arc::new(Mutex::new(conn))),
            _ => None,
        };

        let mut builder = Pool::builder()
            .max_size(if memory { 1 } else { options.max_size.max(1) })
            .min_idle(Some(if memory { 1 } else { options.min_idle }))
            // No `SELECT 1` on every checkout: a connection that broke is
            // dropped after the statement that found it broken (`has_broken`),
            // so a restarted PostgreSQL costs one failed request per pooled
            // connection instead of a round trip on every request.
            .test_on_check_out(false)
            .connection_timeout(options.connection_timeout)
            .connection_customizer(Box::new(setup));
        if memory {
            builder = builder.idle_timeout(None).max_lifetime(None);
        }
        let pool = builder.build(manager).map_err(|e| unavailable(&e))?;
        Ok(Self {
            pool,
            backend,
            #[cfg(feature = "sqlite")]
            _keep_alive: keep_alive,
            write_gate: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            _checkpointer: checkpointer,
            analyzer,
        })
    }

    /// Whether this store runs `ANALYZE` and `VACUUM` itself: a PostgreSQL
    /// server with autovacuum off (see [`StoreOptions::background_analyze`]).
    /// The operator should turn autovacuum on.
    pub fn analyzes_in_background(&self) -> bool {
        self.analyzer.is_some()
    }

    /// Which database engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks a connection out of the pool.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when none is free within the pool's
    /// `connection_timeout`.
    pub fn conn(&self) -> Result<PooledDbConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` on one pooled connection, outside any transaction. For reads, and
    /// for tests that need raw SQL.
    ///
    /// # Errors
    /// Whatever `f` returns, or [`StoreError::Unavailable`].
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&mut *self.conn()?)
    }

    /// Runs `f` in one transaction on one pooled connection: committed when `f`
    /// returns `Ok`, rolled back otherwise. See [`write_transaction`].
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's failure.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.write_turn();
        write_transaction(&mut *self.conn()?, f)
    }

    /// On SQLite, waits for this process's turn to write (see `write_gate`);
    /// nothing on PostgreSQL, where writers lock rows, not the database.
    fn write_turn(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.write_gate.as_ref().map(|gate| {
            gate.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Applies every pending embedded migration of this backend; returns the
    /// versions applied (empty when the schema is current).
    ///
    /// # Errors
    /// [`StoreError::Migration`].
    pub fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let migration_error =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        match &mut *conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(conn) => Ok(conn
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(migration_error)?
                .iter()
                .map(ToString::to_string)
                .collect()),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(conn) => {
                pg_advisory(conn, "pg_advisory_lock")?;
                let applied = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.iter().map(ToString::to_string).collect());
                pg_advisory(conn, "pg_advisory_unlock")?;
                applied.map_err(migration_error)
            }
        }
    }

    /// Reverts every applied migration, newest first (for the up → down → up
    /// test and for operators starting over). Destroys all data.
    ///
    /// # Errors
    /// [`StoreError::Migration`].
    pub fn revert_all_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let reverted = match &mut *conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(conn) => conn.revert_all_migrations(SQLITE_MIGRATIONS),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(conn) => conn.revert_all_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(reverted.iter().map(ToString::to_string).collect())
    }

    /// Versions of the embedded migrations not yet applied.
    ///
    /// # Errors
    /// [`StoreError::Migration`].
    pub fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        match &mut *conn {
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(conn) => conn
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect()),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(conn) => conn
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect()),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))
    }
}

#[cfg(feature = "postgres")]
fn pg_advisory(conn: &mut diesel::pg::PgConnection, function: &str) -> Result<(), StoreError> {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("SELECT {function}({PG_MIGRATION_LOCK})"))
        .execute(conn)
        .map_err(|e| StoreError::Migration(format!("{function}: {e}")))?;
    Ok(())
}

/// Runs `f` in a transaction on `conn` (a savepoint when one is already open).
///
/// On SQLite the outermost transaction starts with `BEGIN IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads and then writes fails
/// with `SQLITE_BUSY` (no wait) when another connection wrote in between; an
/// immediate one just waits for `busy_timeout`.
///
/// # Errors
/// Whatever `f` returns (after rolling back), or the failure to begin or commit.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    type Tm = <DbConnection as Connection>::TransactionManager;
    let outermost = Tm::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|depth| depth.is_none());
    // Only SQLite begins differently in the outermost transaction.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    let outermost = outermost.map_err(StoreError::from)?;
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(inner) if outermost => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
                .map_err(StoreError::from)?;
        }
        _ => Tm::begin_transaction(conn).map_err(StoreError::from)?,
    }
    match f(conn) {
        Ok(value) => match Tm::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(err) => {
                // Diesel's own `transaction` does the same; if this fails too the
                // manager is marked broken and r2d2 discards the connection.
                let _ = Tm::rollback_transaction(conn);
                Err(err.into())
            }
        },
        Err(err) => {
            let _ = Tm::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// [`write_transaction`] for callers with their own error type (any `E` that a
/// [`StoreError`] converts into): the HTTP layer rolls back on its own errors.
///
/// # Errors
/// Whatever `f` returns (after rolling back), or the failure to begin or commit.
pub fn write_transaction_with<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    let mut inner_error = None;
    let result = write_transaction(conn, |conn| {
        f(conn).map_err(|e| {
            inner_error = Some(e);
            StoreError::Unavailable("rolled back".to_owned())
        })
    });
    match (result, inner_error) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e.into()),
    }
}

/// Runs `f` in a read-only transaction on `conn`: one consistent snapshot for
/// every query of `f`, without the write lock.
///
/// On SQLite this is a deferred `BEGIN`, so any number of readers run at once
/// beside the one writer (WAL). On PostgreSQL it is `BEGIN READ ONLY`: a write
/// inside fails. When a transaction is already open, `f` simply runs in it.
/// The transaction is rolled back at the end either way: it wrote nothing.
///
/// # Errors
/// Whatever `f` returns, or the failure to begin.
pub fn read_transaction_with<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    type Tm = <DbConnection as Connection>::TransactionManager;
    let outermost = Tm::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|depth| depth.is_none())
        .map_err(StoreError::from)?;
    if !outermost {
        return f(conn);
    }
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN DEFERRED")
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN READ ONLY")
        }
    }
    .map_err(StoreError::from)?;
    let result = f(conn);
    // Nothing was written: ending with ROLLBACK is the same as COMMIT, and a
    // failure here only marks the connection broken (r2d2 then drops it).
    let _ = Tm::rollback_transaction(conn);
    result
}

impl Store {
    /// Runs `f` in one read-only transaction on one pooled connection; see
    /// [`read_transaction_with`].
    ///
    /// # Errors
    /// Whatever `f` returns, or [`StoreError::Unavailable`].
    pub fn read_with<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn()?;
        read_transaction_with(&mut conn, f)
    }

    /// A pooled connection if one is free right now, without waiting: for a
    /// caller that must not block, such as a short read run on an async
    /// worker thread instead of a blocking pool (then
    /// [`read_transaction_with`] on it).
    pub fn try_conn(&self) -> Option<PooledDbConnection> {
        self.pool.try_get()
    }

    /// [`Store::transaction`] for closures with their own error type; see
    /// [`write_transaction_with`].
    ///
    /// # Errors
    /// Whatever `f` returns, or the failure to begin or commit.
    pub fn transaction_with<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let _turn = self.write_turn();
        let mut conn = self.conn()?;
        write_transaction_with(&mut conn, f)
    }
}

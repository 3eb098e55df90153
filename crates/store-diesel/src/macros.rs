//! `db_run!`: run one body on the concrete backend connection, for the few
//! statements `MultiBackend` cannot express (`ON CONFLICT`, `RETURNING` into a
//! per-backend identity, raw SQL with backend placeholders).

/// `db_run!(conn => { body })` compiles `body` once per backend with `conn`
/// rebound to the inner `PgConnection` / `SqliteConnection`.
macro_rules! db_run {
    ($conn:ident => $body:block) => {
        match $conn {
            #[cfg(feature = "postgres")]
            $crate::connection::DbConnection::Pg($conn) => $body,
            #[cfg(feature = "sqlite")]
            $crate::connection::DbConnection::Sqlite($conn) => $body,
        }
    };
}

pub(crate) use db_run;

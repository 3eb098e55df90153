//! Moving an installation from SQLite to PostgreSQL
//! ([`copy_sqlite_to_postgres`], behind `scim-server migrate-to`).
//!
//! **All or nothing.** Every row is copied inside one PostgreSQL transaction,
//! committed only after the row counts of every table agree; any failure rolls
//! the whole copy back and leaves the target as it was (its schema migrated,
//! no rows). Re-running the command after fixing the cause is always safe.
//!
//! **A snapshot of the source.** The source is read in one SQLite read
//! transaction, so the copy is consistent even while the server keeps
//! answering reads. A write to the source during the copy (by a server, a
//! replica or a command) is detected with `PRAGMA data_version` and the copy
//! is rolled back with [`CopyError::SourceWritten`]: nothing written after the
//! snapshot could be copied.
//!
//! **How.** Tables go in [`TABLES`] order (parents before children, so foreign
//! keys hold at every step). Each source row becomes one JSON object
//! (SQLite's `json_object`), a batch of rows one JSON array, and PostgreSQL
//! turns the array back into typed rows with `json_populate_recordset`:
//! timestamps, booleans (SQLite's 0/1) and integers are converted by the
//! target column's own type. Identity columns (the audit log's `seq`) are
//! copied as they are and their sequences set past the largest copied value.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::connection::DbConnection;
use crate::{Backend, Store, StoreError, StoreOptions};

/// Every table of the schema, parents before the tables that refer to them.
/// A test checks that this list names exactly the tables the migrations
/// create, so a new table cannot be forgotten.
pub const TABLES: &[&str] = &[
    "server_settings",
    "tenants",
    "scim_tokens",
    "users",
    "user_emails",
    "groups",
    "group_members",
    "invitations",
    "audit_log",
    "outbox",
    "oauth_clients",
    "oauth_assertion_ids",
    "console_sessions",
    "events",
    "event_consumers",
    "tenant_admins",
    "tenant_admin_recovery_codes",
    "tenant_admin_links",
    "tenant_console_settings",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "tenant_api_keys",
    "scim_activity",
    "scim_activity_errors",
];

/// How the copy runs. Start from [`CopyOptions::default`] and change fields
/// (the struct may gain fields, so it cannot be built literally outside this
/// crate).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Most rows sent to PostgreSQL in one statement.
    pub batch_rows: usize,
    /// About how many bytes of row data one statement carries at most (a
    /// batch ends early when its rows reach this size).
    pub batch_bytes: usize,
    /// Empty the target's tables (in the same transaction) instead of
    /// refusing a target that has rows.
    pub replace: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            batch_rows: 500,
            batch_bytes: 8 * 1024 * 1024,
            replace: false,
        }
    }
}

/// The rows of one table on both sides after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Rows in the source snapshot.
    pub source: i64,
    /// Rows in the target, counted inside the copy's transaction.
    pub target: i64,
}

/// What a successful copy did.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// Every table in copy order, with its verified counts.
    pub tables: Vec<TableCount>,
    /// Rows deleted from the target first (only with [`CopyOptions::replace`]).
    pub replaced_rows: i64,
    /// Identity sequences moved past the copied values (`table.column`).
    pub sequences: Vec<String>,
}

/// Why the copy failed. In every case the target holds no copied rows.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source URL is not an SQLite database, or the target URL not a
    /// PostgreSQL one.
    #[error("{0}")]
    WrongBackend(String),
    /// A database could not be opened or migrated.
    #[error("{side}: {source}")]
    Open {
        /// `source` or `target`.
        side: &'static str,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// The source's schema is older than this binary's (run `migrate` on it
    /// first) or the target's is newer.
    #[error(
        "the source database's schema is behind this binary ({0} migration(s) pending): run `scim-server migrate` on it first"
    )]
    SourceBehind(usize),
    /// The two schemas do not have the same tables and columns.
    #[error("the schemas differ: {0}")]
    SchemaMismatch(String),
    /// The target already holds rows (and [`CopyOptions::replace`] is off).
    #[error(
        "the target database is not empty ({}); pass --replace to delete its rows and copy anyway",
        .0.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", ")
    )]
    TargetNotEmpty(Vec<(String, i64)>),
    /// A statement failed while copying `table`.
    #[error("copying {table} failed: {source}")]
    Copy {
        /// The table being copied.
        table: String,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
    /// A statement failed outside the copy of one table.
    #[error("{what}: {source}")]
    Database {
        /// What was being done.
        what: String,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
    /// The counts of a table differ after the copy.
    #[error("{table}: {source_rows} rows in the source, {target_rows} in the target")]
    CountMismatch {
        /// The table.
        table: String,
        /// Rows in the source snapshot.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// Something wrote to the source while it was being copied: the copy was
    /// rolled back, since those writes are not in it.
    #[error(
        "the source database was written to during the copy (a running server, replica or command): stop every `scim-server serve` on it and run the command again; nothing was copied"
    )]
    SourceWritten,
}

fn db(what: impl Into<String>) -> impl FnOnce(diesel::result::Error) -> CopyError {
    let what = what.into();
    move |source| CopyError::Database { what, source }
}

/// Copies every row of the SQLite database at `source_url` into the
/// PostgreSQL database at `target_url` (migrating the target's schema first);
/// see the module docs. `progress` is called after each batch with the
/// table and the rows copied so far.
///
/// # Errors
/// [`CopyError`]; the target then has no copied rows.
pub fn copy_sqlite_to_postgres(
    source_url: &str,
    target_url: &str,
    options: &CopyOptions,
    progress: &mut dyn FnMut(&str, i64),
) -> Result<CopyReport, CopyError> {
    let open = |side, url| {
        Store::connect_with(url, &StoreOptions::one_shot())
            .map_err(|source| CopyError::Open { side, source })
    };
    let source = open("source", source_url)?;
    if source.backend() != Backend::Sqlite {
        return Err(CopyError::WrongBackend(
            "the source (--from) must be an SQLite database".to_owned(),
        ));
    }
    let target = open("target", target_url)?;
    if target.backend() != Backend::Postgres {
        return Err(CopyError::WrongBackend(
            "the target (--to) must be a PostgreSQL database (postgres://...)".to_owned(),
        ));
    }
    let pending = source
        .pending_migrations()
        .map_err(|source| CopyError::Open {
            side: "source",
            source,
        })?;
    if !pending.is_empty() {
        return Err(CopyError::SourceBehind(pending.len()));
    }
    target.run_migrations().map_err(|source| CopyError::Open {
        side: "target",
        source,
    })?;

    let mut src_conn = source.conn().map_err(|source| CopyError::Open {
        side: "source",
        source,
    })?;
    let mut dst_conn = target.conn().map_err(|source| CopyError::Open {
        side: "target",
        source,
    })?;
    let (DbConnection::Sqlite(src), DbConnection::Pg(dst)) = (&mut *src_conn, &mut *dst_conn)
    else {
        return Err(CopyError::WrongBackend(
            "unexpected connection kinds".to_owned(),
        ));
    };

    check_tables(src, dst)?;
    let version_before = data_version(src)?;
    src.batch_execute("BEGIN DEFERRED")
        .map_err(db("begin the source snapshot"))?;
    dst.batch_execute("BEGIN")
        .map_err(db("begin the target transaction"))?;
    let copied = copy_all(src, dst, options, progress);
    // The snapshot ends here either way; then any write since it began shows.
    let _ = src.batch_execute("COMMIT");
    let outcome = copied.and_then(|report| {
        if data_version(src)? != version_before {
            return Err(CopyError::SourceWritten);
        }
        Ok(report)
    });
    match outcome {
        Ok(report) => {
            dst.batch_execute("COMMIT")
                .map_err(db("commit the target transaction"))?;
            Ok(report)
        }
        Err(e) => {
            let _ = dst.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The source's `PRAGMA data_version`: it changes when another connection
/// commits a write.
fn data_version(src: &mut SqliteConnection) -> Result<i64, CopyError> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = BigInt)]
        data_version: i64,
    }
    diesel::sql_query("PRAGMA data_version")
        .get_result::<Version>(src)
        .map(|v| v.data_version)
        .map_err(db("read the source's data_version"))
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The tables of each side, without diesel's bookkeeping.
fn check_tables(src: &mut SqliteConnection, dst: &mut PgConnection) -> Result<(), CopyError> {
    let mut source: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
    )
    .load::<Name>(src)
    .map_err(db("list the source's tables"))?
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut target = target_tables(dst)?;
    let mut known: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    source.sort();
    target.sort();
    known.sort();
    if source != known || target != known {
        return Err(CopyError::SchemaMismatch(format!(
            "source tables {source:?}, target tables {target:?}, this binary copies {known:?}"
        )));
    }
    Ok(())
}

/// The target's tables (its current schema), without diesel's bookkeeping.
pub fn target_tables(dst: &mut PgConnection) -> Result<Vec<String>, CopyError> {
    Ok(diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations'",
    )
    .load::<Name>(dst)
    .map_err(db("list the target's tables"))?
    .into_iter()
    .map(|n| n.name)
    .collect())
}

fn count_source(src: &mut SqliteConnection, table: &str) -> Result<i64, CopyError> {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM \"{table}\""))
        .get_result::<Count>(src)
        .map(|c| c.n)
        .map_err(|source| CopyError::Copy {
            table: table.to_owned(),
            source,
        })
}

fn count_target(dst: &mut PgConnection, table: &str) -> Result<i64, CopyError> {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM \"{table}\""))
        .get_result::<Count>(dst)
        .map(|c| c.n)
        .map_err(|source| CopyError::Copy {
            table: table.to_owned(),
            source,
        })
}

fn copy_all(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    options: &CopyOptions,
    progress: &mut dyn FnMut(&str, i64),
) -> Result<CopyReport, CopyError> {
    let mut occupied = Vec::new();
    for table in TABLES {
        let n = count_target(dst, table)?;
        if n > 0 {
            occupied.push(((*table).to_owned(), n));
        }
    }
    let replaced_rows = occupied.iter().map(|(_, n)| n).sum();
    if !occupied.is_empty() {
        if !options.replace {
            return Err(CopyError::TargetNotEmpty(occupied));
        }
        let all = TABLES
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        dst.batch_execute(&format!("TRUNCATE {all}"))
            .map_err(db("empty the target's tables"))?;
    }

    let identities = identity_columns(dst)?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let columns = target_columns(dst, table)?;
        check_source_columns(src, table, &columns)?;
        let overriding = if identities.iter().any(|(t, _)| t == table) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let object = columns
            .iter()
            .map(|c| format!("'{c}', \"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!(
            "SELECT rowid AS n, json_object({object}) AS name FROM \"{table}\" WHERE rowid > ? ORDER BY rowid LIMIT ?"
        );
        let insert = format!(
            "INSERT INTO \"{table}\"{overriding} SELECT * FROM json_populate_recordset(NULL::\"{table}\", $1::json)"
        );
        let failed = |source| CopyError::Copy {
            table: (*table).to_owned(),
            source,
        };
        let mut after = i64::MIN;
        let mut copied = 0i64;
        let mut batch = String::new();
        let mut in_batch = 0usize;
        loop {
            #[derive(QueryableByName)]
            struct Row {
                #[diesel(sql_type = BigInt)]
                n: i64,
                #[diesel(sql_type = Text)]
                name: String,
            }
            let rows = diesel::sql_query(&select)
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(i64::try_from(options.batch_rows.max(1)).unwrap_or(500))
                .load::<Row>(src)
                .map_err(failed)?;
            let last_page = rows.len() < options.batch_rows.max(1);
            for row in rows {
                after = row.n;
                batch.push(if batch.is_empty() { '[' } else { ',' });
                batch.push_str(&row.name);
                in_batch += 1;
                if in_batch >= options.batch_rows.max(1) || batch.len() >= options.batch_bytes {
                    batch.push(']');
                    copied += send(dst, &insert, &batch).map_err(failed)?;
                    progress(table, copied);
                    batch.clear();
                    in_batch = 0;
                }
            }
            if last_page {
                break;
            }
        }
        if in_batch > 0 {
            batch.push(']');
            copied += send(dst, &insert, &batch).map_err(failed)?;
            progress(table, copied);
        }
        let source = count_source(src, table)?;
        let target = count_target(dst, table)?;
        if source != target || copied != target {
            return Err(CopyError::CountMismatch {
                table: (*table).to_owned(),
                source_rows: source,
                target_rows: target,
            });
        }
        tables.push(TableCount {
            table,
            source,
            target,
        });
    }

    let mut sequences = Vec::new();
    for (table, column) in identities {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), COALESCE(MAX(\"{column}\"), 0) + 1, false) AS n FROM \"{table}\""
        ))
        .get_result::<Count>(dst)
        .map_err(db(format!("move the sequence of {table}.{column}")))?;
        sequences.push(format!("{table}.{column}"));
    }
    Ok(CopyReport {
        tables,
        replaced_rows,
        sequences,
    })
}

fn send(dst: &mut PgConnection, insert: &str, batch: &str) -> Result<i64, diesel::result::Error> {
    let n = diesel::sql_query(insert)
        .bind::<Text, _>(batch)
        .execute(dst)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The target's columns of `table`, in their order.
fn target_columns(dst: &mut PgConnection, table: &str) -> Result<Vec<String>, CopyError> {
    Ok(diesel::sql_query(
        "SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind::<Text, _>(table)
    .load::<Name>(dst)
    .map_err(db(format!("list the target's columns of {table}")))?
    .into_iter()
    .map(|n| n.name)
    .collect())
}

/// Checks that the source's `table` has exactly `columns` (in any order).
fn check_source_columns(
    src: &mut SqliteConnection,
    table: &str,
    columns: &[String],
) -> Result<(), CopyError> {
    let mut source: Vec<String> =
        diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
            .load::<Name>(src)
            .map_err(db(format!("list the source's columns of {table}")))?
            .into_iter()
            .map(|n| n.name)
            .collect();
    let mut target = columns.to_vec();
    source.sort();
    target.sort();
    if source != target {
        return Err(CopyError::SchemaMismatch(format!(
            "{table}: the source has columns {source:?}, the target {target:?}"
        )));
    }
    Ok(())
}

/// Identity and serial columns of the target: `(table, column)`.
fn identity_columns(dst: &mut PgConnection) -> Result<Vec<(String, String)>, CopyError> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    Ok(diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY table_name, column_name",
    )
    .load::<Column>(dst)
    .map_err(db("list the target's identity columns"))?
    .into_iter()
    .map(|c| (c.table_name, c.column_name))
    .collect())
}

//! The append-only audit log, read oldest first with a cursor.
//!
//! `seq` orders a tenant's records: strictly increasing, possibly with gaps. On
//! PostgreSQL it comes from one global identity column; on SQLite it is
//! `MAX(seq) + 1` within the tenant, computed in the inserting statement (SQLite
//! has one writer). Either way the key is `(tenant_id, seq)`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
#[cfg(feature = "sqlite")]
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use crate::schema::audit_log;
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError};

/// What to record.
#[derive(Debug, Clone, Copy)]
pub struct NewAuditRecord<'a> {
    /// Who did it (`"scim"`, `"admin:<id>"`, `"system"`, …).
    pub actor: &'a str,
    /// What was done (`"user.create"`, `"token.issue"`, …).
    pub action: &'a str,
    /// Kind of target (`"User"`, `"Group"`, `"Tenant"`, …).
    pub target_type: &'a str,
    /// The target's id, if any.
    pub target_id: Option<&'a str>,
    /// Free-form details, stored as JSON text.
    pub details: &'a serde_json::Value,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The tenant.
    pub tenant_id: String,
    /// Position in the tenant's log (the paging cursor).
    pub seq: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// Kind of target.
    pub target_type: String,
    /// The target's id, if any.
    pub target_id: Option<String>,
    /// Details.
    pub details: serde_json::Value,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    tenant_id: String,
    seq: i64,
    at: chrono::NaiveDateTime,
    actor: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    details: String,
}

/// Appends a record to the tenant's log; returns its `seq`.
///
/// # Errors
/// [`StoreError::MissingReference`] for an unknown tenant; database errors.
pub fn append(
    conn: &mut DbConnection,
    tenant_id: &str,
    record: &NewAuditRecord<'_>,
) -> Result<i64, StoreError> {
    let at = to_db(now());
    let details = record.details.to_string();
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(conn) => Ok(diesel::insert_into(audit_log::table)
            .values((
                audit_log::tenant_id.eq(tenant_id),
                audit_log::at.eq(at),
                audit_log::actor.eq(record.actor),
                audit_log::action.eq(record.action),
                audit_log::target_type.eq(record.target_type),
                audit_log::target_id.eq(record.target_id),
                audit_log::details.eq(&details),
            ))
            .returning(audit_log::seq)
            .get_result(conn)?),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(conn) => Ok(SqliteAppend {
            tenant_id,
            at,
            record,
            details: &details,
        }
        .get_result::<i64>(conn)?),
    }
}

/// Rows per multi-row `INSERT` of [`append_many`] on PostgreSQL (8 parameters a row).
#[cfg(feature = "postgres")]
const INSERT_ROWS: usize = 1000;

/// Fewer records than this are appended one statement each.
pub(crate) const FEW: usize = 8;

/// Appends records to the tenant's log in the given order (their `seq`s
/// increase in that order), for a `POST /Bulk` of a thousand creates: on
/// PostgreSQL with multi-row `INSERT`s (one round trip per thousand records
/// instead of one per record); on SQLite the tenant's `MAX(seq)` is read
/// once and each record is a one-row statement that stays prepared. A
/// handful of records (a single write's) go through [`append`] one by one.
///
/// # Errors
/// As [`append`].
pub fn append_many(
    conn: &mut DbConnection,
    tenant_id: &str,
    records: &[NewAuditRecord<'_>],
) -> Result<(), StoreError> {
    if records.len() < FEW {
        // One write's records: one-row statements stay prepared, where a
        // multi-row statement's SQL depends on its length.
        for record in records {
            append(conn, tenant_id, record)?;
        }
        return Ok(());
    }
    let at = to_db(now());
    let details: Vec<String> = records.iter().map(|r| r.details.to_string()).collect();
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(conn) => {
            // The identity column numbers the rows in VALUES order.
            let rows: Vec<_> = records
                .iter()
                .zip(&details)
                .map(|(r, details)| {
                    (
                        audit_log::tenant_id.eq(tenant_id),
                        audit_log::at.eq(at),
                        audit_log::actor.eq(r.actor),
                        audit_log::action.eq(r.action),
                        audit_log::target_type.eq(r.target_type),
                        audit_log::target_id.eq(r.target_id),
                        audit_log::details.eq(details),
                    )
                })
                .collect();
            for chunk in rows.chunks(INSERT_ROWS) {
                diesel::insert_into(audit_log::table)
                    .values(chunk)
                    .execute(conn)?;
            }
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(conn) => {
            // One writer (this transaction holds SQLite's write lock): the
            // next seqs are the tenant's MAX(seq) + 1, + 2, ...
            let last: Option<i64> = audit_log::table
                .filter(audit_log::tenant_id.eq(tenant_id))
                .select(diesel::dsl::max(audit_log::seq))
                .get_result(conn)?;
            // One-row statements: SQLite has no round trips to save, and a
            // one-row statement stays prepared. Not `append` per record: its
            // INSERT … SELECT MAX(seq) made a Bulk of 30,000 users 25–30%
            // slower, and slower as the log grew (measured).
            for ((r, details), seq) in records
                .iter()
                .zip(&details)
                .zip(last.unwrap_or(0).saturating_add(1)..)
            {
                diesel::insert_into(audit_log::table)
                    .values((
                        audit_log::tenant_id.eq(tenant_id),
                        audit_log::seq.eq(seq),
                        audit_log::at.eq(at),
                        audit_log::actor.eq(r.actor),
                        audit_log::action.eq(r.action),
                        audit_log::target_type.eq(r.target_type),
                        audit_log::target_id.eq(r.target_id),
                        audit_log::details.eq(details),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// SQLite's append: `seq` is the tenant's `MAX(seq) + 1`, computed in the
/// inserting statement (SQLite has one writer). A statement of its own rather
/// than a `sql_query`, so that diesel keeps it prepared: a `sql_query` is
/// parsed and planned again on every call, and every SCIM write appends.
#[cfg(feature = "sqlite")]
struct SqliteAppend<'a> {
    tenant_id: &'a str,
    at: chrono::NaiveDateTime,
    record: &'a NewAuditRecord<'a>,
    details: &'a str,
}

/// The statement cache's key of [`SqliteAppend`] (its SQL never changes).
#[cfg(feature = "sqlite")]
struct SqliteAppendId;

#[cfg(feature = "sqlite")]
impl diesel::query_builder::QueryId for SqliteAppend<'_> {
    type QueryId = SqliteAppendId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

#[cfg(feature = "sqlite")]
impl diesel::query_builder::Query for SqliteAppend<'_> {
    type SqlType = BigInt;
}

#[cfg(feature = "sqlite")]
impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteAppend<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO audit_log \
             (tenant_id, seq, at, actor, action, target_type, target_id, details) SELECT ",
        );
        out.push_bind_param::<Text, _>(self.tenant_id)?;
        out.push_sql(", COALESCE(MAX(seq), 0) + 1, ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.record.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.record.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.record.target_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.record.target_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.details)?;
        out.push_sql(" FROM audit_log WHERE tenant_id = ");
        out.push_bind_param::<Text, _>(self.tenant_id)?;
        out.push_sql(" RETURNING seq");
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
impl RunQueryDsl<diesel::sqlite::SqliteConnection> for SqliteAppend<'_> {}

/// Up to `limit` records of the tenant with `seq > after` (all when `after` is
/// `None`), oldest first. Pass the last `seq` seen as the next `after`.
///
/// # Errors
/// Database errors, or [`StoreError::Other`] for a record whose details are
/// not JSON.
pub fn page(
    conn: &mut DbConnection,
    tenant_id: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    page_where(conn, tenant_id, &AuditFilter::default(), after, limit)
}

/// Exact-match filters of [`page_where`]; `None` matches every record.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// Only this actor's records.
    pub actor: Option<&'a str>,
    /// Only this action.
    pub action: Option<&'a str>,
    /// Only records about this target id.
    pub target_id: Option<&'a str>,
}

/// [`page`] with only the records that match `filter`.
///
/// # Errors
/// As [`page`].
pub fn page_where(
    conn: &mut DbConnection,
    tenant_id: &str,
    filter: &AuditFilter<'_>,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut query = audit_log::table
        .filter(audit_log::tenant_id.eq(tenant_id))
        .filter(audit_log::seq.gt(after.unwrap_or(0)))
        .into_boxed();
    if let Some(actor) = filter.actor {
        query = query.filter(audit_log::actor.eq(actor.to_owned()));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.to_owned()));
    }
    if let Some(target) = filter.target_id {
        query = query.filter(audit_log::target_id.eq(target.to_owned()));
    }
    let rows = query
        .order(audit_log::seq.asc())
        .limit(i64::from(limit))
        .select(AuditRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(AuditRecord {
                details: serde_json::from_str(&row.details).map_err(StoreError::other)?,
                tenant_id: row.tenant_id,
                seq: row.seq,
                at: from_db(row.at),
                actor: row.actor,
                action: row.action,
                target_type: row.target_type,
                target_id: row.target_id,
            })
        })
        .collect()
}

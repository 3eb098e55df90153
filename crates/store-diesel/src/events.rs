//! Change events: what changed in a tenant, written in the same transaction as
//! the change and read in per-tenant sequence order (`docs/events.md`).
//!
//! **No gaps.** `seq` is allocated per tenant by incrementing
//! `tenants.event_seq` in the writing transaction. On PostgreSQL the `UPDATE`
//! takes the tenant row's lock until commit, so a tenant's events commit in
//! sequence order; on SQLite the write transaction holds the database lock.
//! Either way, once a reader sees seq N, every event with a smaller seq is
//! already visible: a reader that resumes after the last seq it saw never misses
//! one. Writers should append late in their transaction (the lock serialises the
//! tenant's writers from that point to commit); [`append_all`] takes the lock
//! once for several events.

use crate::single::SingleRow as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::macros::db_run;
use crate::schema::{event_consumers, events, tenants};
use crate::time::{from_db, now, to_db, truncate};
use crate::{DbConnection, StoreError, write_transaction};

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Dotted, lower-case type (`user.suspended`, `group.member_added`, ...).
    pub event_type: String,
    /// When the change happened.
    pub time: DateTime<Utc>,
    /// Who made it: `directory`, `admin` or `activation`.
    pub actor: String,
    /// `User`, `Group` or `Tenant`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The payload (JSON); never a secret.
    pub data: serde_json::Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The tenant.
    pub tenant_id: String,
    /// Position in the tenant's feed: 1, 2, 3, ... without gaps at write time
    /// (retention removes the oldest).
    pub seq: i64,
    /// Stable id (UUID).
    pub id: String,
    /// Dotted type.
    pub event_type: String,
    /// When the change happened.
    pub time: DateTime<Utc>,
    /// Who made it.
    pub actor: String,
    /// `User`, `Group` or `Tenant`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The payload.
    pub data: serde_json::Value,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
struct EventRow {
    tenant_id: String,
    seq: i64,
    id: String,
    event_type: String,
    occurred_at: chrono::NaiveDateTime,
    actor: String,
    resource_type: String,
    resource_id: Option<String>,
    data: String,
}

/// `UPDATE tenants SET event_seq = event_seq + n … RETURNING event_seq`: takes
/// `n` sequence numbers under the tenant row's lock. A statement of its own
/// rather than a `sql_query`, so that diesel keeps it prepared (every SCIM
/// write runs it).
struct TakeSeqs<'a> {
    tenant_id: &'a str,
    n: i64,
}

/// The statement cache's key of [`TakeSeqs`] (its SQL never changes).
struct TakeSeqsId;

impl diesel::query_builder::QueryId for TakeSeqs<'_> {
    type QueryId = TakeSeqsId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for TakeSeqs<'_> {
    type SqlType = BigInt;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for TakeSeqs<'_>
where
    DB: diesel::backend::Backend,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    str: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE tenants SET event_seq = event_seq + ");
        out.push_bind_param::<BigInt, _>(&self.n)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.tenant_id)?;
        out.push_sql(" RETURNING event_seq");
        Ok(())
    }
}

impl<C: diesel::Connection> RunQueryDsl<C> for TakeSeqs<'_> {}

/// Appends one event; returns it as stored.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant; database errors.
pub fn append(
    conn: &mut DbConnection,
    tenant_id: &str,
    event: NewEvent,
) -> Result<Event, StoreError> {
    let mut stored = append_all(conn, tenant_id, vec![event])?;
    stored.pop().ok_or(StoreError::NotFound)
}

/// Rows per multi-row `INSERT` of [`append_all`] on PostgreSQL (9 parameters
/// a row: well inside PostgreSQL's 65,535 bound parameters).
#[cfg(feature = "postgres")]
const INSERT_ROWS: usize = 1000;

/// Appends events in order, taking the tenant's sequence lock once; returns
/// them as stored. Nothing happens for an empty list.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant; database errors.
pub fn append_all(
    conn: &mut DbConnection,
    tenant_id: &str,
    new: Vec<NewEvent>,
) -> Result<Vec<Event>, StoreError> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(new.len()).map_err(StoreError::other)?;
    // RETURNING needs SQLite 3.35 (bundled).
    let take = TakeSeqs { tenant_id, n };
    let last: i64 = db_run!(conn => {
        take.single::<i64>(conn)
            .optional()?
            .ok_or(StoreError::NotFound)?
    });
    let first = last - n + 1;
    let stored: Vec<Event> = new
        .into_iter()
        .zip(first..)
        .map(|(e, seq)| Event {
            tenant_id: tenant_id.to_owned(),
            seq,
            id: uuid::Uuid::new_v4().to_string(),
            event_type: e.event_type,
            time: truncate(e.time),
            actor: e.actor,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            data: e.data,
        })
        .collect();
    let data: Vec<String> = stored.iter().map(|e| e.data.to_string()).collect();
    let rows: Vec<_> = stored
        .iter()
        .zip(&data)
        .map(|(e, data)| {
            (
                events::tenant_id.eq(&e.tenant_id),
                events::seq.eq(e.seq),
                events::id.eq(&e.id),
                events::event_type.eq(&e.event_type),
                events::occurred_at.eq(to_db(e.time)),
                events::actor.eq(&e.actor),
                events::resource_type.eq(&e.resource_type),
                events::resource_id.eq(e.resource_id.as_deref()),
                events::data.eq(data),
            )
        })
        .collect();
    // On the concrete connection (multi-row VALUES do not go through the
    // two-backend connection type). SQLite, and a single write's few events,
    // use the one-row statement, which stays prepared; a Bulk request's
    // events on PostgreSQL go in multi-row statements of at most
    // `INSERT_ROWS` rows (one round trip each).
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(conn) if rows.len() >= crate::audit::FEW => {
            for chunk in rows.chunks(INSERT_ROWS) {
                diesel::insert_into(events::table)
                    .values(chunk)
                    .execute(conn)?;
            }
        }
        _ => {
            for one in &rows {
                db_run!(conn => {
                    diesel::insert_into(events::table).values(one).execute(conn)?;
                });
            }
        }
    }
    Ok(stored)
}

/// Up to `limit` events of the tenant with `seq > after_seq`, in sequence
/// order; only the given types when `types` is not empty. Pass the last `seq`
/// seen as the next `after_seq`.
///
/// # Errors
/// Database errors, or [`StoreError::Other`] for a payload that is not JSON.
pub fn list_after(
    conn: &mut DbConnection,
    tenant_id: &str,
    after_seq: i64,
    limit: u32,
    types: &[String],
) -> Result<Vec<Event>, StoreError> {
    let mut query = events::table
        .filter(events::tenant_id.eq(tenant_id))
        .filter(events::seq.gt(after_seq))
        .order(events::seq.asc())
        .limit(i64::from(limit))
        .select(EventRow::as_select())
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types));
    }
    query
        .load(conn)?
        .into_iter()
        .map(|row| {
            Ok(Event {
                data: serde_json::from_str(&row.data).map_err(StoreError::other)?,
                tenant_id: row.tenant_id,
                seq: row.seq,
                id: row.id,
                event_type: row.event_type,
                time: from_db(row.occurred_at),
                actor: row.actor,
                resource_type: row.resource_type,
                resource_id: row.resource_id,
            })
        })
        .collect()
}

/// The last seq handed out in the tenant (0 before its first event).
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant; database errors.
pub fn last_seq(conn: &mut DbConnection, tenant_id: &str) -> Result<i64, StoreError> {
    tenants::table
        .find(tenant_id)
        .select(tenants::event_seq)
        .single(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Deletes every tenant's events older than `cutoff` (retention); returns how
/// many. Tenant by tenant, on the `(tenant_id, occurred_at)` index.
///
/// # Errors
/// Database errors.
pub fn prune_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    let ids: Vec<String> = tenants::table.select(tenants::id).load(conn)?;
    let cutoff = to_db(cutoff);
    let mut deleted = 0;
    for id in ids {
        deleted += diesel::delete(
            events::table
                .filter(events::tenant_id.eq(&id))
                .filter(events::occurred_at.lt(cutoff)),
        )
        .execute(conn)?;
    }
    Ok(deleted)
}

/// A named consumer of one tenant's events with a durable cursor, for services
/// that embed the crates: read a batch after the cursor, handle it, then
/// [`Consumer::commit`] the last seq handled, so a restart resumes there instead
/// of replaying everything. Delivery is at least once: events handled but not
/// yet committed when the process stops are read again.
///
/// ```
/// use store_diesel::events::{Consumer, NewEvent};
/// use store_diesel::{Store, events, tenants};
///
/// # #[cfg(feature = "sqlite")] // the example runs on SQLite
/// # fn main() -> Result<(), store_diesel::StoreError> {
/// let store = Store::connect_and_migrate("sqlite::memory:")?;
/// let acme = store.transaction(|c| tenants::create(c, "acme", "Acme"))?;
/// store.transaction(|c| {
///     events::append(c, &acme.id, NewEvent {
///         event_type: "user.suspended".into(),
///         time: chrono::Utc::now(),
///         actor: "directory".into(),
///         resource_type: "User".into(),
///         resource_id: Some("u1".into()),
///         data: serde_json::json!({"id": "u1"}),
///     })
/// })?;
/// let sessions = Consumer::new(&acme.id, "session-revoker");
/// let batch = store.with_conn(|c| sessions.next_batch(c, 100, &[]))?;
/// assert_eq!(batch.len(), 1);
/// // ... revoke u1's sessions ...
/// store.transaction(|c| sessions.commit(c, batch[0].seq))?;
/// assert!(store.with_conn(|c| sessions.next_batch(c, 100, &[]))?.is_empty());
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    tenant_id: String,
    name: String,
}

impl Consumer {
    /// The consumer `name` of the tenant's events (a new name starts before
    /// the oldest kept event).
    pub fn new(tenant_id: impl Into<String>, name: impl Into<String>) -> Self {
        Consumer {
            tenant_id: tenant_id.into(),
            name: name.into(),
        }
    }

    /// The last seq committed (0 when none).
    ///
    /// # Errors
    /// Database errors.
    pub fn cursor(&self, conn: &mut DbConnection) -> Result<i64, StoreError> {
        Ok(event_consumers::table
            .find((&self.tenant_id, &self.name))
            .select(event_consumers::last_seq)
            .single(conn)
            .optional()?
            .unwrap_or(0))
    }

    /// Up to `limit` events after the cursor, in sequence order (only `types`
    /// when not empty).
    ///
    /// # Errors
    /// Database errors.
    pub fn next_batch(
        &self,
        conn: &mut DbConnection,
        limit: u32,
        types: &[String],
    ) -> Result<Vec<Event>, StoreError> {
        let after = self.cursor(conn)?;
        list_after(conn, &self.tenant_id, after, limit, types)
    }

    /// Records that every event up to `seq` is handled. The cursor never
    /// moves back: committing an older seq changes nothing.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] for an unknown tenant; database errors.
    pub fn commit(&self, conn: &mut DbConnection, seq: i64) -> Result<(), StoreError> {
        let at = to_db(now());
        write_transaction(conn, |conn| {
            let key = (&self.tenant_id, &self.name);
            let current: Option<i64> = event_consumers::table
                .find(key)
                .select(event_consumers::last_seq)
                .single(conn)
                .optional()?;
            match current {
                None => {
                    diesel::insert_into(event_consumers::table)
                        .values((
                            event_consumers::tenant_id.eq(&self.tenant_id),
                            event_consumers::consumer.eq(&self.name),
                            event_consumers::last_seq.eq(seq),
                            event_consumers::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                Some(last) if last < seq => {
                    diesel::update(event_consumers::table.find(key))
                        .set((
                            event_consumers::last_seq.eq(seq),
                            event_consumers::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                Some(_) => {}
            }
            Ok(())
        })
    }
}

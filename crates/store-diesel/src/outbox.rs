//! The transactional outbox: work (invitation emails) written in the same
//! transaction as the change that caused it, and done later by a background
//! worker, at least once.
//!
//! * [`push`] in the caller's transaction.
//! * [`claim`] takes up to `n` due rows for one worker, with a lease: the row
//!   gets `claimed_by` and `claimed_until`, and nobody else claims it before
//!   the lease runs out (so a crashed replica's claims come back). On
//!   PostgreSQL the selecting query uses `FOR UPDATE SKIP LOCKED`, so two
//!   replicas claiming at once never wait for each other nor get the same
//!   row; on SQLite the claim runs in a `BEGIN IMMEDIATE` transaction (one
//!   writer), with the same effect.
//! * [`complete`] marks the row done, only if this worker still holds it.
//! * [`fail`] counts the attempt and schedules the next one with exponential
//!   backoff ([`RetryPolicy`]), or gives up after `max_attempts`.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use crate::schema::outbox;
use crate::time::{from_db, to_db, truncate};
use crate::{DbConnection, StoreError, write_transaction};

/// The kind of an invitation email row; its payload is
/// `{"invitationId": ..., "userId": ...}`.
pub const KIND_INVITATION_EMAIL: &str = "invitation.email";

/// A stored outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    /// The tenant.
    pub tenant_id: String,
    /// The row's id (a UUID).
    pub id: String,
    /// What to do (e.g. [`KIND_INVITATION_EMAIL`]).
    pub kind: String,
    /// The work item's data (never a secret).
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Not before this time.
    pub available_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The worker holding it.
    pub claimed_by: Option<String>,
    /// Its lease ends then.
    pub claimed_until: Option<DateTime<Utc>>,
    /// When it was completed (or given up).
    pub done_at: Option<DateTime<Utc>>,
    /// The last error.
    pub last_error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct OutboxRow {
    tenant_id: String,
    id: String,
    kind: String,
    payload: String,
    created_at: NaiveDateTime,
    available_at: NaiveDateTime,
    attempts: i32,
    claimed_by: Option<String>,
    claimed_until: Option<NaiveDateTime>,
    done_at: Option<NaiveDateTime>,
    last_error: Option<String>,
}

impl TryFrom<OutboxRow> for OutboxRecord {
    type Error = StoreError;
    fn try_from(r: OutboxRow) -> Result<Self, StoreError> {
        Ok(OutboxRecord {
            payload: serde_json::from_str(&r.payload).map_err(StoreError::other)?,
            tenant_id: r.tenant_id,
            id: r.id,
            kind: r.kind,
            created_at: from_db(r.created_at),
            available_at: from_db(r.available_at),
            attempts: r.attempts,
            claimed_by: r.claimed_by,
            claimed_until: r.claimed_until.map(from_db),
            done_at: r.done_at.map(from_db),
            last_error: r.last_error,
        })
    }
}

/// Retries: the n-th failure waits `base * 2^(n-1)`, at most `max_delay`;
/// after `max_attempts` failures the row is given up (done, with its error).
/// Start from [`RetryPolicy::default`] and change fields (the struct may gain
/// fields, so it cannot be built literally outside this crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub base: TimeDelta,
    /// Longest delay.
    pub max_delay: TimeDelta,
    /// Failures before giving up.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    /// 30 s, doubling, at most 1 h, 20 attempts (about 15 hours).
    fn default() -> Self {
        RetryPolicy {
            base: TimeDelta::seconds(30),
            max_delay: TimeDelta::hours(1),
            max_attempts: 20,
        }
    }
}

impl RetryPolicy {
    /// The delay after the `attempts`-th failure (1-based).
    pub fn delay(&self, attempts: i32) -> TimeDelta {
        backoff(self.base, self.max_delay, attempts)
    }
}

/// `base * 2^(attempts-1)`, at most `max` (no overflow): the backoff of the
/// outbox and of webhook deliveries.
pub(crate) fn backoff(base: TimeDelta, max: TimeDelta, attempts: i32) -> TimeDelta {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let factor = 1_i32.checked_shl(exponent).unwrap_or(i32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

/// What [`fail`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Too many attempts: given up (marked done with its error).
    GaveUp,
    /// This worker no longer held the row (its lease ran out); nothing changed.
    NotHeld,
}

/// Writes a work item due at `now`, in the caller's transaction; returns its id.
///
/// # Errors
/// [`StoreError::MissingReference`] for an unknown tenant; database errors.
pub fn push(
    conn: &mut DbConnection,
    tenant_id: &str,
    kind: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = to_db(now);
    diesel::insert_into(outbox::table)
        .values((
            outbox::tenant_id.eq(tenant_id),
            outbox::id.eq(&id),
            outbox::kind.eq(kind),
            outbox::payload.eq(payload.to_string()),
            outbox::created_at.eq(now),
            outbox::available_at.eq(now),
            outbox::attempts.eq(0),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Claims up to `limit` due rows (not done, `available_at <= now`, not
/// leased to anyone until after `now`) for `worker` until `now + lease`,
/// oldest due first. Runs its own transaction (on SQLite: `BEGIN IMMEDIATE`).
///
/// # Errors
/// Database errors.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    limit: u32,
    lease: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxRecord>, StoreError> {
    let now = truncate(now);
    let until = to_db(now.checked_add_signed(lease).unwrap_or(now));
    let now = to_db(now);
    write_transaction(conn, |conn| {
        let due = outbox::table
            .filter(outbox::done_at.is_null())
            .filter(outbox::available_at.le(now))
            .filter(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.le(now)),
            )
            .order((outbox::available_at.asc(), outbox::id.asc()))
            .limit(i64::from(limit))
            .select((outbox::tenant_id, outbox::id));
        let keys: Vec<(String, String)> = match conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(lite) => due.load(lite)?,
        };
        let mut claimed = Vec::with_capacity(keys.len());
        for (tenant_id, id) in keys {
            let key = outbox::table
                .filter(outbox::tenant_id.eq(&tenant_id))
                .filter(outbox::id.eq(&id));
            diesel::update(key)
                .set((
                    outbox::claimed_by.eq(worker),
                    outbox::claimed_until.eq(until),
                ))
                .execute(conn)?;
            claimed.push(key.select(OutboxRow::as_select()).first(conn)?.try_into()?);
        }
        Ok(claimed)
    })
}

fn held_by<'a>(
    tenant_id: &'a str,
    id: &'a str,
    worker: &'a str,
) -> outbox::BoxedQuery<'a, crate::MultiBackend> {
    outbox::table
        .filter(outbox::tenant_id.eq(tenant_id))
        .filter(outbox::id.eq(id))
        .filter(outbox::claimed_by.eq(worker))
        .filter(outbox::done_at.is_null())
        .into_boxed()
}

/// Marks a row this worker holds as done at `now`. Returns `false` when it
/// no longer held it (its lease ran out and someone else claimed it, or it
/// was already done).
///
/// # Errors
/// Database errors.
pub fn complete(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = diesel::update(outbox::table)
        .filter(outbox::tenant_id.eq(tenant_id))
        .filter(outbox::id.eq(id))
        .filter(outbox::claimed_by.eq(worker))
        .filter(outbox::done_at.is_null())
        .set((
            outbox::done_at.eq(to_db(now)),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records a failed attempt of a row this worker holds: `attempts + 1`,
/// `last_error`, the lease released, and the next attempt at
/// `now + policy.delay(attempts)`; or, once `policy.max_attempts` is
/// reached, the row is given up (done, keeping its error).
///
/// # Errors
/// Database errors.
pub fn fail(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    worker: &str,
    error: &str,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<FailOutcome, StoreError> {
    let now = truncate(now);
    write_transaction(conn, |conn| {
        let Some(attempts) = held_by(tenant_id, id, worker)
            .select(outbox::attempts)
            .first::<i32>(conn)
            .optional()?
        else {
            return Ok(FailOutcome::NotHeld);
        };
        let attempts = attempts.saturating_add(1);
        let key = outbox::table
            .filter(outbox::tenant_id.eq(tenant_id))
            .filter(outbox::id.eq(id));
        let cleared = (
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(error),
            outbox::claimed_by.eq(None::<String>),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
        );
        if attempts >= policy.max_attempts {
            diesel::update(key)
                .set((cleared, outbox::done_at.eq(to_db(now))))
                .execute(conn)?;
            return Ok(FailOutcome::GaveUp);
        }
        let retry_at = now
            .checked_add_signed(policy.delay(attempts))
            .unwrap_or(now);
        diesel::update(key)
            .set((cleared, outbox::available_at.eq(to_db(retry_at))))
            .execute(conn)?;
        Ok(FailOutcome::RetryAt(truncate(retry_at)))
    })
}

/// One row by id.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<OutboxRecord, StoreError> {
    outbox::table
        .filter(outbox::tenant_id.eq(tenant_id))
        .filter(outbox::id.eq(id))
        .select(OutboxRow::as_select())
        .first(conn)?
        .try_into()
}

/// The tenant's rows not yet done, oldest first.
///
/// # Errors
/// Database errors.
pub fn pending(conn: &mut DbConnection, tenant_id: &str) -> Result<Vec<OutboxRecord>, StoreError> {
    outbox::table
        .filter(outbox::tenant_id.eq(tenant_id))
        .filter(outbox::done_at.is_null())
        .order((outbox::created_at.asc(), outbox::id.asc()))
        .select(OutboxRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

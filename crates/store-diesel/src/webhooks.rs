//! Webhook endpoints, their deliveries and the delivery log (`docs/events.md`).
//!
//! **How deliveries are made.** Writes do not fan out: a SCIM write appends
//! its events and nothing else, whatever the number of endpoints. A dispatcher
//! ([`dispatch`]) walks each endpoint's events after its `cursor_seq` and, in
//! one transaction under the endpoint row's lock, writes one delivery row per
//! matching event and moves the cursor. Events become visible in seq order
//! (see [`crate::events`]), so a cursor never passes an event that can still
//! commit: nothing is lost, and a crash between two dispatches only repeats
//! work that was rolled back.
//!
//! **Claiming.** Deliveries are claimed like the outbox ([`crate::outbox`]):
//! a lease (`claimed_by`, `claimed_until`), `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite, so several replicas deliver each
//! row once in normal operation and a crashed replica's rows come back when
//! its lease runs out. A row is claimable only when no earlier row of the same
//! resource (`resource_key`) of that endpoint is still pending: a failing
//! event holds back later events of the same user or group only.
//!
//! **Giving up.** A failed attempt is retried with exponential backoff
//! ([`RetryPolicy`]); once the first failure is older than the retry window
//! (24 h by default), the row is given up and the endpoint is marked
//! `failing`: nothing more is dispatched or delivered to it until an admin
//! [`replay`]s from a sequence number.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::events::{self, Event};
use crate::schema::{tenants, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::time::{from_db, to_db, truncate};
use crate::{DbConnection, StoreError, write_transaction};

/// The endpoint receives events.
pub const STATE_HEALTHY: &str = "healthy";
/// A delivery was retried for longer than the retry window: the endpoint
/// receives nothing until a replay.
pub const STATE_FAILING: &str = "failing";

/// A stored endpoint. The secrets are sealed (encrypted with the server key
/// by the caller); the store never sees them in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The tenant.
    pub tenant_id: String,
    /// Its id (a UUID).
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types it receives; empty = every type.
    pub event_types: Vec<String>,
    /// Whether it receives anything.
    pub enabled: bool,
    /// The sealed signing secret.
    pub secret_sealed: String,
    /// The sealed secret replaced by the last rotation and when it stops
    /// being used.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// [`STATE_HEALTHY`] or [`STATE_FAILING`].
    pub state: String,
    /// Every event up to this seq has been dispatched.
    pub cursor_seq: i64,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("tenant_id", &self.tenant_id)
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("enabled", &self.enabled)
            .field("state", &self.state)
            .field("cursor_seq", &self.cursor_seq)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Whether it receives events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    tenant_id: String,
    id: String,
    url: String,
    event_types: String,
    enabled: bool,
    secret_sealed: String,
    previous_secret_sealed: Option<String>,
    previous_secret_expires_at: Option<NaiveDateTime>,
    state: String,
    cursor_seq: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(Endpoint {
            event_types: serde_json::from_str(&r.event_types).map_err(StoreError::other)?,
            tenant_id: r.tenant_id,
            id: r.id,
            url: r.url,
            enabled: r.enabled,
            secret_sealed: r.secret_sealed,
            previous_secret: r
                .previous_secret_sealed
                .zip(r.previous_secret_expires_at.map(from_db)),
            state: r.state,
            cursor_seq: r.cursor_seq,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

fn event_types_json(types: &[String]) -> String {
    serde_json::Value::from(types.to_vec()).to_string()
}

/// Registers an endpoint; it receives the tenant's events from the next one
/// on (its cursor starts at the tenant's last seq).
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant; database errors.
pub fn create(
    conn: &mut DbConnection,
    tenant_id: &str,
    url: &str,
    event_types: &[String],
    secret_sealed: &str,
    now: DateTime<Utc>,
) -> Result<Endpoint, StoreError> {
    let cursor = events::last_seq(conn, tenant_id)?;
    let id = uuid::Uuid::new_v4().to_string();
    let at = to_db(now);
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::tenant_id.eq(tenant_id),
            webhook_endpoints::id.eq(&id),
            webhook_endpoints::url.eq(url),
            webhook_endpoints::event_types.eq(event_types_json(event_types)),
            webhook_endpoints::enabled.eq(true),
            webhook_endpoints::secret_sealed.eq(secret_sealed),
            webhook_endpoints::state.eq(STATE_HEALTHY),
            webhook_endpoints::cursor_seq.eq(cursor),
            webhook_endpoints::created_at.eq(at),
            webhook_endpoints::updated_at.eq(at),
        ))
        .execute(conn)?;
    get(conn, tenant_id, &id)
}

/// One endpoint of the tenant.
///
/// # Errors
/// [`StoreError::NotFound`]; database errors.
pub fn get(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<Endpoint, StoreError> {
    webhook_endpoints::table
        .find((tenant_id, id))
        .select(EndpointRow::as_select())
        .first(conn)?
        .try_into()
}

/// The tenant's endpoints, oldest first.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConnection, tenant_id: &str) -> Result<Vec<Endpoint>, StoreError> {
    webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id))
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .select(EndpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// Sets what the admin may change: URL, event types, enabled.
///
/// # Errors
/// [`StoreError::NotFound`]; database errors.
pub fn update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    url: &str,
    event_types: &[String],
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<Endpoint, StoreError> {
    let n = diesel::update(webhook_endpoints::table.find((tenant_id, id)))
        .set((
            webhook_endpoints::url.eq(url),
            webhook_endpoints::event_types.eq(event_types_json(event_types)),
            webhook_endpoints::enabled.eq(enabled),
            webhook_endpoints::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    get(conn, tenant_id, id)
}

/// Removes an endpoint with its pending deliveries and its log.
///
/// # Errors
/// [`StoreError::NotFound`]; database errors.
pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    // Children first: SQLite enforces the cascade only with foreign keys on.
    diesel::delete(
        webhook_attempts::table
            .filter(webhook_attempts::tenant_id.eq(tenant_id))
            .filter(webhook_attempts::endpoint_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::tenant_id.eq(tenant_id))
            .filter(webhook_deliveries::endpoint_id.eq(id)),
    )
    .execute(conn)?;
    let n = diesel::delete(webhook_endpoints::table.find((tenant_id, id))).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the signing secret; the current one stays in use (deliveries
/// carry both signatures) until `now + grace`.
///
/// # Errors
/// [`StoreError::NotFound`]; database errors.
pub fn rotate_secret(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    new_sealed: &str,
    grace: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Endpoint, StoreError> {
    let current = get(conn, tenant_id, id)?;
    let until = now.checked_add_signed(grace).unwrap_or(now);
    diesel::update(webhook_endpoints::table.find((tenant_id, id)))
        .set((
            webhook_endpoints::secret_sealed.eq(new_sealed),
            webhook_endpoints::previous_secret_sealed.eq(Some(current.secret_sealed)),
            webhook_endpoints::previous_secret_expires_at.eq(Some(to_db(until))),
            webhook_endpoints::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    get(conn, tenant_id, id)
}

/// Delivers again every matching event from `from_seq` on: pending deliveries
/// are superseded, the cursor moves to `from_seq - 1` and the endpoint is
/// healthy again. Returns the endpoint.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a `from_seq` below 1 or after the next
/// event; [`StoreError::NotFound`]; database errors.
pub fn replay(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    from_seq: i64,
    now: DateTime<Utc>,
) -> Result<Endpoint, StoreError> {
    let last = events::last_seq(conn, tenant_id)?;
    if from_seq < 1 || from_seq > last.saturating_add(1) {
        return Err(StoreError::InvalidInput(format!(
            "fromSeq: expected a sequence number from 1 to {}",
            last.saturating_add(1)
        )));
    }
    write_transaction(conn, |conn| {
        lock_endpoint(conn, tenant_id, id, false)?.ok_or(StoreError::NotFound)?;
        let at = to_db(now);
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::tenant_id.eq(tenant_id))
                .filter(webhook_deliveries::endpoint_id.eq(id))
                .filter(webhook_deliveries::done_at.is_null()),
        )
        .set((
            webhook_deliveries::done_at.eq(Some(at)),
            webhook_deliveries::outcome.eq(Some("superseded")),
            webhook_deliveries::claimed_by.eq(None::<String>),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        diesel::update(webhook_endpoints::table.find((tenant_id, id)))
            .set((
                webhook_endpoints::cursor_seq.eq(from_seq - 1),
                webhook_endpoints::state.eq(STATE_HEALTHY),
                webhook_endpoints::updated_at.eq(at),
            ))
            .execute(conn)?;
        get(conn, tenant_id, id)
    })
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = BigInt)]
    cursor_seq: i64,
}

/// Locks the endpoint row until commit (PostgreSQL; SQLite's write
/// transaction already excludes other writers) and returns its cursor;
/// `None` when it does not exist or, with `skip_locked`, is locked by another
/// transaction.
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
fn lock_endpoint(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    skip_locked: bool,
) -> Result<Option<i64>, StoreError> {
    let rows = match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => diesel::sql_query(if skip_locked {
            "SELECT cursor_seq FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE SKIP LOCKED"
        } else {
            "SELECT cursor_seq FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
        })
        .bind::<Text, _>(tenant_id)
        .bind::<Text, _>(id)
        .get_results::<Locked>(c)?,
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT cursor_seq FROM webhook_endpoints WHERE tenant_id = ? AND id = ?",
        )
        .bind::<Text, _>(tenant_id)
        .bind::<Text, _>(id)
        .get_results::<Locked>(c)?,
    };
    Ok(rows.first().map(|r| r.cursor_seq))
}

/// The key of deliveries that must go out in order.
fn resource_key(e: &Event) -> String {
    match &e.resource_id {
        Some(id) => format!("{}/{id}", e.resource_type),
        None => e.resource_type.clone(),
    }
}

/// Writes the delivery rows of up to `limit` events per endpoint after each
/// enabled, healthy endpoint's cursor, and moves the cursors. One short
/// transaction per endpoint; an endpoint another replica is dispatching is
/// skipped. Returns how many deliveries were written.
///
/// # Errors
/// Database errors.
pub fn dispatch(
    conn: &mut DbConnection,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let behind: Vec<(String, String)> = webhook_endpoints::table
        .inner_join(tenants::table.on(tenants::id.eq(webhook_endpoints::tenant_id)))
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::state.eq(STATE_HEALTHY))
        .filter(webhook_endpoints::cursor_seq.lt(tenants::event_seq))
        .select((webhook_endpoints::tenant_id, webhook_endpoints::id))
        .load(conn)?;
    let at = to_db(now);
    let mut written = 0;
    for (tenant_id, id) in behind {
        written += write_transaction(conn, |conn| {
            let Some(cursor) = lock_endpoint(conn, &tenant_id, &id, true)? else {
                return Ok(0);
            };
            // Read again under the lock: the admin may have changed it.
            let endpoint = get(conn, &tenant_id, &id)?;
            if !endpoint.enabled || endpoint.state != STATE_HEALTHY {
                return Ok(0);
            }
            let batch = events::list_after(conn, &tenant_id, cursor, limit, &[])?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                return Ok(0);
            };
            let mut n = 0;
            for e in batch.iter().filter(|e| endpoint.wants(&e.event_type)) {
                diesel::insert_into(webhook_deliveries::table)
                    .values((
                        webhook_deliveries::tenant_id.eq(&tenant_id),
                        webhook_deliveries::endpoint_id.eq(&id),
                        webhook_deliveries::id.eq(uuid::Uuid::new_v4().to_string()),
                        webhook_deliveries::seq.eq(e.seq),
                        webhook_deliveries::resource_key.eq(resource_key(e)),
                        webhook_deliveries::created_at.eq(at),
                        webhook_deliveries::available_at.eq(at),
                        webhook_deliveries::attempts.eq(0),
                    ))
                    .execute(conn)?;
                n += 1;
            }
            diesel::update(webhook_endpoints::table.find((&tenant_id, &id)))
                .set(webhook_endpoints::cursor_seq.eq(last))
                .execute(conn)?;
            Ok(n)
        })?;
    }
    Ok(written)
}

/// Whether some delivery is due at `now` (a cheap read before a claim, which
/// takes the write lock on SQLite).
///
/// # Errors
/// Database errors.
pub fn any_due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let at = to_db(now);
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::done_at.is_null())
        .filter(webhook_deliveries::available_at.le(at))
        .filter(
            webhook_deliveries::claimed_until
                .is_null()
                .or(webhook_deliveries::claimed_until.le(at)),
        )
        .select(webhook_deliveries::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// Identifies a delivery row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    /// The tenant.
    pub tenant_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The delivery's id.
    pub id: String,
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The row.
    pub key: DeliveryKey,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The endpoint (URL, sealed secrets).
    pub endpoint: Endpoint,
    /// The event to send.
    pub event: Event,
}

#[derive(QueryableByName)]
struct DueKey {
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    endpoint_id: String,
    #[diesel(sql_type = Text)]
    id: String,
}

const DUE_SQL: &str = "SELECT d.tenant_id, d.endpoint_id, d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id \
     WHERE d.done_at IS NULL AND d.available_at <= {now} \
     AND (d.claimed_until IS NULL OR d.claimed_until <= {now}) \
     AND e.enabled AND e.state = 'healthy' \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
         WHERE p.tenant_id = d.tenant_id AND p.endpoint_id = d.endpoint_id \
         AND p.resource_key = d.resource_key AND p.seq < d.seq AND p.done_at IS NULL) \
     {per_endpoint} \
     ORDER BY d.available_at, d.seq LIMIT {limit}";

/// The per-endpoint limit of [`claim_with`]: not an endpoint on which
/// `{max}` other workers hold a live lease (uncorrelated: evaluated once,
/// over the leased rows only).
const PER_ENDPOINT_SQL: &str = "AND (d.tenant_id, d.endpoint_id) NOT IN (\
         SELECT q.tenant_id, q.endpoint_id FROM webhook_deliveries q \
         WHERE q.done_at IS NULL AND q.claimed_until > {now} AND q.claimed_by <> {worker} \
         GROUP BY q.tenant_id, q.endpoint_id HAVING COUNT(DISTINCT q.claimed_by) >= {max})";

/// Key of the PostgreSQL advisory lock that serialises claims when a
/// per-endpoint limit is set (so two replicas cannot both see an endpoint
/// below its limit and both take it).
#[cfg(feature = "postgres")]
const CLAIM_LOCK_KEY: i64 = 0x5c1e_b400_c1a1;

/// Claims up to `limit` due deliveries for `worker` until `now + lease`: not
/// done, due, not leased, of an enabled healthy endpoint, and with no earlier
/// pending delivery of the same resource to that endpoint. Deliveries whose
/// event was already pruned are closed as `expired` instead. Runs its own
/// transaction.
///
/// # Errors
/// Database errors.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    limit: u32,
    lease: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>, StoreError> {
    claim_with(conn, worker, limit, None, lease, now)
}

/// [`claim`], and with `per_endpoint` = `Some(n)` skips the deliveries of
/// an endpoint on which `n` other workers (threads, of any replica) already
/// hold a live lease: at most `n` workers send to one endpoint at a time,
/// so a slow endpoint cannot occupy every thread. Claims are serialised
/// (SQLite's single writer; a transaction advisory lock on PostgreSQL) so
/// the count cannot be raced.
///
/// # Errors
/// Database errors.
pub fn claim_with(
    conn: &mut DbConnection,
    worker: &str,
    limit: u32,
    per_endpoint: Option<u32>,
    lease: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>, StoreError> {
    let now = truncate(now);
    let until = to_db(now.checked_add_signed(lease).unwrap_or(now));
    let at = to_db(now);
    let max = per_endpoint.map(|n| i64::from(n.max(1)));
    // Without a limit the filter stays (with an unreachable maximum) so both
    // cases bind the same parameters.
    let filter = PER_ENDPOINT_SQL;
    write_transaction(conn, |conn| {
        let keys: Vec<DueKey> = match conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => {
                if max.is_some() {
                    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                        .bind::<BigInt, _>(CLAIM_LOCK_KEY)
                        .execute(c)?;
                }
                let sql = DUE_SQL
                    .replace("{per_endpoint}", filter)
                    .replace("{now}", "$1")
                    .replace("{limit}", "$2")
                    .replace("{worker}", "$3")
                    .replace("{max}", "$4")
                    + " FOR UPDATE OF d SKIP LOCKED";
                diesel::sql_query(sql)
                    .bind::<Timestamp, _>(at)
                    .bind::<BigInt, _>(i64::from(limit))
                    .bind::<Text, _>(worker)
                    .bind::<BigInt, _>(max.unwrap_or(i64::MAX))
                    .get_results(c)?
            }
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => {
                let sql = DUE_SQL
                    .replace("{per_endpoint}", filter)
                    .replace("{now}", "?1")
                    .replace("{limit}", "?2")
                    .replace("{worker}", "?3")
                    .replace("{max}", "?4");
                diesel::sql_query(sql)
                    .bind::<Timestamp, _>(at)
                    .bind::<BigInt, _>(i64::from(limit))
                    .bind::<Text, _>(worker)
                    .bind::<BigInt, _>(max.unwrap_or(i64::MAX))
                    .get_results(c)?
            }
        };
        let mut claimed = Vec::with_capacity(keys.len());
        for k in keys {
            let row = webhook_deliveries::table.find((&k.tenant_id, &k.endpoint_id, &k.id));
            let (seq, attempts): (i64, i32) = row
                .select((webhook_deliveries::seq, webhook_deliveries::attempts))
                .first(conn)?;
            let event = events::list_after(conn, &k.tenant_id, seq - 1, 1, &[])?
                .into_iter()
                .find(|e| e.seq == seq);
            let Some(event) = event else {
                diesel::update(row)
                    .set((
                        webhook_deliveries::done_at.eq(Some(at)),
                        webhook_deliveries::outcome.eq(Some("expired")),
                    ))
                    .execute(conn)?;
                continue;
            };
            diesel::update(row)
                .set((
                    webhook_deliveries::claimed_by.eq(Some(worker)),
                    webhook_deliveries::claimed_until.eq(Some(until)),
                ))
                .execute(conn)?;
            let endpoint = get(conn, &k.tenant_id, &k.endpoint_id)?;
            claimed.push(Claimed {
                key: DeliveryKey {
                    tenant_id: k.tenant_id,
                    endpoint_id: k.endpoint_id,
                    id: k.id,
                },
                attempts,
                endpoint,
                event,
            });
        }
        Ok(claimed)
    })
}

/// One attempt, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When the request started.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; `None` when no response came.
    pub status_code: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong (`None` on success).
    pub error: Option<String>,
}

fn log_attempt(
    conn: &mut DbConnection,
    key: &DeliveryKey,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let (seq, event_id): (i64, Option<String>) = {
        let seq: i64 = webhook_deliveries::table
            .find((&key.tenant_id, &key.endpoint_id, &key.id))
            .select(webhook_deliveries::seq)
            .first(conn)?;
        let id = events::list_after(conn, &key.tenant_id, seq - 1, 1, &[])?
            .into_iter()
            .find(|e| e.seq == seq)
            .map(|e| e.id);
        (seq, id)
    };
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::tenant_id.eq(&key.tenant_id),
            webhook_attempts::endpoint_id.eq(&key.endpoint_id),
            webhook_attempts::id.eq(uuid::Uuid::new_v4().to_string()),
            webhook_attempts::delivery_id.eq(&key.id),
            webhook_attempts::seq.eq(seq),
            webhook_attempts::event_id.eq(event_id.unwrap_or_default()),
            webhook_attempts::attempted_at.eq(to_db(attempt.attempted_at)),
            webhook_attempts::status_code.eq(attempt.status_code.map(i32::from)),
            webhook_attempts::latency_ms.eq(attempt.latency_ms),
            webhook_attempts::error.eq(attempt.error.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
}

fn held(
    conn: &mut DbConnection,
    key: &DeliveryKey,
    worker: &str,
) -> Result<Option<(i32, Option<NaiveDateTime>)>, StoreError> {
    Ok(webhook_deliveries::table
        .find((&key.tenant_id, &key.endpoint_id, &key.id))
        .filter(webhook_deliveries::claimed_by.eq(worker))
        .filter(webhook_deliveries::done_at.is_null())
        .select((
            webhook_deliveries::attempts,
            webhook_deliveries::first_failed_at,
        ))
        .first(conn)
        .optional()?)
}

/// Records a successful attempt of a delivery this worker holds and closes
/// it. Returns `false` when it no longer held it (nothing changed).
///
/// # Errors
/// Database errors.
pub fn complete(
    conn: &mut DbConnection,
    key: &DeliveryKey,
    worker: &str,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        if held(conn, key, worker)?.is_none() {
            return Ok(false);
        }
        log_attempt(conn, key, attempt)?;
        diesel::update(webhook_deliveries::table.find((&key.tenant_id, &key.endpoint_id, &key.id)))
            .set((
                webhook_deliveries::done_at.eq(Some(to_db(now))),
                webhook_deliveries::outcome.eq(Some("delivered")),
                webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::last_error.eq(attempt.error.as_deref()),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Gives a delivery this worker holds back unattempted (its lease cleared,
/// nothing counted), e.g. when an earlier delivery to the same endpoint in
/// the same batch just failed. Returns `false` when it no longer held it.
///
/// # Errors
/// Database errors.
pub fn release(
    conn: &mut DbConnection,
    key: &DeliveryKey,
    worker: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        webhook_deliveries::table
            .find((&key.tenant_id, &key.endpoint_id, &key.id))
            .filter(webhook_deliveries::claimed_by.eq(worker))
            .filter(webhook_deliveries::done_at.is_null()),
    )
    .set((
        webhook_deliveries::claimed_by.eq(None::<String>),
        webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Retries: the n-th failure waits `base * 2^(n-1)`, at most `max_delay`;
/// once the first failure is older than `window`, the delivery is given up
/// and the endpoint marked failing. Start from [`RetryPolicy::default`] and
/// change fields (the struct may gain fields, so it cannot be built literally
/// outside this crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub base: TimeDelta,
    /// Longest delay.
    pub max_delay: TimeDelta,
    /// How long after the first failure retries go on.
    pub window: TimeDelta,
}

impl Default for RetryPolicy {
    /// 5 s, doubling, at most 1 h, for 24 h.
    fn default() -> Self {
        RetryPolicy {
            base: TimeDelta::seconds(5),
            max_delay: TimeDelta::hours(1),
            window: TimeDelta::hours(24),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `attempts`-th failure (1-based).
    pub fn delay(&self, attempts: i32) -> TimeDelta {
        crate::outbox::backoff(self.base, self.max_delay, attempts)
    }
}

/// What [`fail`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Retried for longer than the window: given up, endpoint failing.
    GaveUp,
    /// This worker no longer held the row; nothing changed.
    NotHeld,
}

/// Records a failed attempt of a delivery this worker holds and schedules
/// the next one, or gives up (see [`RetryPolicy`]).
///
/// # Errors
/// Database errors.
pub fn fail(
    conn: &mut DbConnection,
    key: &DeliveryKey,
    worker: &str,
    attempt: &Attempt,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<FailOutcome, StoreError> {
    let now = truncate(now);
    write_transaction(conn, |conn| {
        let Some((attempts, first_failed)) = held(conn, key, worker)? else {
            return Ok(FailOutcome::NotHeld);
        };
        log_attempt(conn, key, attempt)?;
        let attempts = attempts.saturating_add(1);
        let first_failed = first_failed.map_or(now, from_db);
        let row = webhook_deliveries::table.find((&key.tenant_id, &key.endpoint_id, &key.id));
        let common = (
            webhook_deliveries::attempts.eq(attempts),
            webhook_deliveries::first_failed_at.eq(Some(to_db(first_failed))),
            webhook_deliveries::last_error.eq(attempt.error.as_deref()),
            webhook_deliveries::claimed_by.eq(None::<String>),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
        );
        if now - first_failed >= policy.window {
            diesel::update(row)
                .set((
                    common,
                    webhook_deliveries::done_at.eq(Some(to_db(now))),
                    webhook_deliveries::outcome.eq(Some("failed")),
                ))
                .execute(conn)?;
            diesel::update(webhook_endpoints::table.find((&key.tenant_id, &key.endpoint_id)))
                .set((
                    webhook_endpoints::state.eq(STATE_FAILING),
                    webhook_endpoints::updated_at.eq(to_db(now)),
                ))
                .execute(conn)?;
            return Ok(FailOutcome::GaveUp);
        }
        let retry_at = now
            .checked_add_signed(policy.delay(attempts))
            .unwrap_or(now);
        diesel::update(row)
            .set((common, webhook_deliveries::available_at.eq(to_db(retry_at))))
            .execute(conn)?;
        Ok(FailOutcome::RetryAt(truncate(retry_at)))
    })
}

/// A row of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAttempt {
    /// The attempt's id.
    pub id: String,
    /// The delivery it belongs to.
    pub delivery_id: String,
    /// The event's seq.
    pub seq: i64,
    /// The event's id (the `webhook-id` header).
    pub event_id: String,
    /// What happened.
    pub attempt: Attempt,
}

impl LoggedAttempt {
    /// The page cursor after this row.
    pub fn cursor(&self) -> String {
        format!(
            "{}.{}",
            self.attempt.attempted_at.timestamp_micros(),
            self.id
        )
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
struct AttemptRow {
    id: String,
    delivery_id: String,
    seq: i64,
    event_id: String,
    attempted_at: NaiveDateTime,
    status_code: Option<i32>,
    latency_ms: i64,
    error: Option<String>,
}

/// The endpoint's delivery log, oldest first, after the cursor of
/// [`LoggedAttempt::cursor`].
///
/// # Errors
/// [`StoreError::InvalidInput`] for a malformed cursor; database errors.
pub fn attempts(
    conn: &mut DbConnection,
    tenant_id: &str,
    endpoint_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<LoggedAttempt>, StoreError> {
    let mut q = webhook_attempts::table
        .filter(webhook_attempts::tenant_id.eq(tenant_id))
        .filter(webhook_attempts::endpoint_id.eq(endpoint_id))
        .order((
            webhook_attempts::attempted_at.asc(),
            webhook_attempts::id.asc(),
        ))
        .limit(i64::from(limit))
        .select(AttemptRow::as_select())
        .into_boxed();
    if let Some(cursor) = after {
        let bad = || {
            StoreError::InvalidInput("after: not a cursor from a previous page's next".to_owned())
        };
        let (micros, id) = cursor.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
        let at = to_db(at);
        q = q.filter(
            webhook_attempts::attempted_at
                .gt(at)
                .or(webhook_attempts::attempted_at
                    .eq(at)
                    .and(webhook_attempts::id.gt(id.to_owned()))),
        );
    }
    Ok(q.load(conn)?
        .into_iter()
        .map(|r| LoggedAttempt {
            id: r.id,
            delivery_id: r.delivery_id,
            seq: r.seq,
            event_id: r.event_id,
            attempt: Attempt {
                attempted_at: from_db(r.attempted_at),
                status_code: r.status_code.and_then(|c| u16::try_from(c).ok()),
                latency_ms: r.latency_ms,
                error: r.error,
            },
        })
        .collect())
}

/// Pending (not done) deliveries of an endpoint: `(seq, attempts)` in seq order.
///
/// # Errors
/// Database errors.
pub fn pending(
    conn: &mut DbConnection,
    tenant_id: &str,
    endpoint_id: &str,
) -> Result<Vec<(i64, i32)>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::tenant_id.eq(tenant_id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::done_at.is_null())
        .order(webhook_deliveries::seq.asc())
        .select((webhook_deliveries::seq, webhook_deliveries::attempts))
        .load(conn)?)
}

/// Deletes closed deliveries and log rows older than `cutoff` (retention).
///
/// # Errors
/// Database errors.
pub fn prune_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    let cutoff = to_db(cutoff);
    let a =
        diesel::delete(webhook_attempts::table.filter(webhook_attempts::attempted_at.lt(cutoff)))
            .execute(conn)?;
    let d = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::done_at.is_not_null())
            .filter(webhook_deliveries::done_at.lt(cutoff)),
    )
    .execute(conn)?;
    Ok(a + d)
}

//! Invitations: one row per invitation of a user (`number` 1, 2, … as
//! provisioning-core counts them), mirroring the lifecycle's events so the
//! admin API can list them and activation can find a link by its hash.
//!
//! The user's lifecycle (`users.lifecycle`) stays the authority for the rules;
//! this table records what happened to each invitation and keeps the only
//! trace of an activation link: the SHA-256 (hex) of its secret. A link is
//! consumed by [`accept`], which only succeeds once.
//!
//! | state | meaning |
//! |---|---|
//! | `queued` | waiting for the next admin check-in |
//! | `sent` | released by a check-in; the email is in the outbox (`sent_at` is set once it was handed to the SMTP relay); reported as expired once `expires_at` has passed |
//! | `accepted` | the user activated with it |
//! | `cancelled` | the user was suspended while it was queued, or deleted, or automatic invitation was turned off while it was queued |
//! | `failed` | released, but its email could not be delivered (no address, refused by the relay for good, or delivery gave up); `last_error` says why |
//!
//! The states are provisioning-core's [`InvitationState`] (one type, one set
//! of wire names).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::invitations;
use crate::time::{from_db, to_db};
use crate::{DbConnection, StoreError, hex};

pub use provisioning_core::InvitationState;

fn parse_state(s: &str) -> Result<InvitationState, StoreError> {
    InvitationState::parse(s)
        .ok_or_else(|| StoreError::other(format!("unknown invitation state {s:?} in the database")))
}

/// The states the admin API filters by: the stored ones plus `Expired`
/// (sent, unused, past `expires_at`), which `Sent` then excludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateFilter {
    /// `queued`.
    Queued,
    /// `sent` and not yet expired.
    Sent,
    /// `sent` and expired.
    Expired,
    /// `accepted`.
    Accepted,
    /// `cancelled`.
    Cancelled,
    /// `failed`: undeliverable for good (state `failed`), or released with
    /// its delivery failing and being retried (state `sent`, reported as
    /// `sent` until it succeeds or fails for good).
    Failed,
}

impl StateFilter {
    /// Parses the admin API's `state=` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => StateFilter::Queued,
            "sent" => StateFilter::Sent,
            "expired" => StateFilter::Expired,
            "accepted" => StateFilter::Accepted,
            "cancelled" => StateFilter::Cancelled,
            "failed" => StateFilter::Failed,
            _ => return None,
        })
    }
}

/// A stored invitation. Never holds the activation secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    /// The tenant.
    pub tenant_id: String,
    /// The invitation's id (a UUID).
    pub id: String,
    /// The invited user.
    pub user_id: String,
    /// The user's invitation number (1 for the first).
    pub number: i32,
    /// What queued it: `automatic`, `explicit` or `reactivation`.
    pub trigger: String,
    /// Its stored state.
    pub state: InvitationState,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When an admin check-in released it.
    pub released_at: Option<DateTime<Utc>>,
    /// When the email was handed to the SMTP relay (or logged, without one).
    pub sent_at: Option<DateTime<Utc>>,
    /// When the user activated with it.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When its link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the activation secret (set on release).
    pub secret_hash: Option<String>,
    /// Failed delivery attempts so far.
    pub attempts: i32,
    /// When delivery is tried next, after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last delivery error (never contains the secret); for a `failed`
    /// invitation, why it failed.
    pub last_error: Option<String>,
}

impl InvitationRecord {
    /// Whether it was sent, not used, and its link has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == InvitationState::Sent && self.expires_at.is_some_and(|e| now >= e)
    }

    /// The state the admin API reports at `now` (`expired` for a sent one
    /// past its expiry).
    pub fn reported_state(&self, now: DateTime<Utc>) -> &'static str {
        if self.is_expired(now) {
            "expired"
        } else {
            self.state.as_str()
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct InvitationRow {
    tenant_id: String,
    id: String,
    user_id: String,
    number: i32,
    trigger_kind: String,
    state: String,
    created_at: NaiveDateTime,
    released_at: Option<NaiveDateTime>,
    sent_at: Option<NaiveDateTime>,
    accepted_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    secret_hash: Option<String>,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    last_error: Option<String>,
}

impl TryFrom<InvitationRow> for InvitationRecord {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self, StoreError> {
        Ok(InvitationRecord {
            state: parse_state(&r.state)?,
            tenant_id: r.tenant_id,
            id: r.id,
            user_id: r.user_id,
            number: r.number,
            trigger: r.trigger_kind,
            created_at: from_db(r.created_at),
            released_at: r.released_at.map(from_db),
            sent_at: r.sent_at.map(from_db),
            accepted_at: r.accepted_at.map(from_db),
            expires_at: r.expires_at.map(from_db),
            secret_hash: r.secret_hash,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.map(from_db),
            last_error: r.last_error,
        })
    }
}

/// The hex SHA-256 of an activation secret, as stored in `secret_hash`.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes()))
}

fn trigger_ok(trigger: &str) -> Result<(), StoreError> {
    match trigger {
        "automatic" | "explicit" | "reactivation" => Ok(()),
        other => Err(StoreError::InvalidInput(format!(
            "invitation trigger {other:?} is not automatic, explicit or reactivation"
        ))),
    }
}

/// Records invitation `number` of a user as queued at `at`; returns it.
///
/// # Errors
/// [`StoreError::Conflict`] when the user already has that number;
/// [`StoreError::MissingReference`] for an unknown user;
/// [`StoreError::InvalidInput`] for an unknown trigger.
pub fn queue(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    number: i32,
    trigger: &str,
    at: DateTime<Utc>,
) -> Result<InvitationRecord, StoreError> {
    trigger_ok(trigger)?;
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(invitations::table)
        .values((
            invitations::tenant_id.eq(tenant_id),
            invitations::id.eq(&id),
            invitations::user_id.eq(user_id),
            invitations::number.eq(number),
            invitations::trigger_kind.eq(trigger),
            invitations::state.eq(InvitationState::Queued.as_str()),
            invitations::created_at.eq(to_db(at)),
            invitations::attempts.eq(0),
        ))
        .execute(conn)?;
    get(conn, tenant_id, &id)
}

/// One invitation by id.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<InvitationRecord, StoreError> {
    invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::id.eq(id))
        .select(InvitationRow::as_select())
        .first(conn)?
        .try_into()
}

/// Invitation `number` of a user, if recorded.
///
/// # Errors
/// Database errors.
pub fn find_by_number(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    number: i32,
) -> Result<Option<InvitationRecord>, StoreError> {
    invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::user_id.eq(user_id))
        .filter(invitations::number.eq(number))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// Every invitation of a user, oldest first.
///
/// # Errors
/// Database errors.
pub fn of_user(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<InvitationRecord>, StoreError> {
    invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::user_id.eq(user_id))
        .order(invitations::number.asc())
        .select(InvitationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The ids of the tenant's users with a queued invitation (what an admin
/// check-in releases), in id order.
///
/// # Errors
/// Database errors.
pub fn users_with_queued(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::state.eq(InvitationState::Queued.as_str()))
        .select(invitations::user_id)
        .distinct()
        .order(invitations::user_id.asc())
        .load(conn)?)
}

/// A keyset cursor over invitations: `(created_at, id)` of the last row seen.
/// Its text form is `<created_at micros>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    created_at: DateTime<Utc>,
    id: String,
}

impl Cursor {
    /// The cursor after `record`.
    pub fn after(record: &InvitationRecord) -> Self {
        Cursor {
            created_at: record.created_at,
            id: record.id.clone(),
        }
    }

    /// Parses the text form; `None` if malformed. Invitations are queued
    /// after the epoch and have UUID ids, so a time before 1970 (which
    /// PostgreSQL may not even represent) or an id with a NUL is refused too.
    pub fn parse(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        let micros: i64 = micros.parse().ok().filter(|m| *m >= 0)?;
        let created_at = DateTime::<Utc>::from_timestamp_micros(micros)?;
        (!id.is_empty() && !id.contains('\0')).then(|| Cursor {
            created_at,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at.timestamp_micros(), self.id)
    }
}

/// Up to `limit` invitations of the tenant after `after`, oldest first
/// (by queue time, then id), optionally only those in `state` at `now`.
///
/// # Errors
/// Database errors.
pub fn list(
    conn: &mut DbConnection,
    tenant_id: &str,
    state: Option<StateFilter>,
    after: Option<&Cursor>,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Vec<InvitationRecord>, StoreError> {
    let now = to_db(now);
    let mut query = invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .into_boxed();
    query = match state {
        None => query,
        Some(StateFilter::Queued) => query.filter(invitations::state.eq("queued")),
        Some(StateFilter::Accepted) => query.filter(invitations::state.eq("accepted")),
        Some(StateFilter::Cancelled) => query.filter(invitations::state.eq("cancelled")),
        Some(StateFilter::Sent) => query
            .filter(invitations::state.eq("sent"))
            .filter(invitations::expires_at.gt(now)),
        Some(StateFilter::Expired) => query
            .filter(invitations::state.eq("sent"))
            .filter(invitations::expires_at.le(now)),
        Some(StateFilter::Failed) => query.filter(
            invitations::state.eq("failed").or(invitations::state
                .eq("sent")
                .and(invitations::sent_at.is_null())
                .and(invitations::last_error.is_not_null())),
        ),
    };
    if let Some(c) = after {
        let at = to_db(c.created_at);
        query = query.filter(
            invitations::created_at.gt(at).or(invitations::created_at
                .eq(at)
                .and(invitations::id.gt(c.id.clone()))),
        );
    }
    query
        .order((invitations::created_at.asc(), invitations::id.asc()))
        .limit(i64::from(limit))
        .select(InvitationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// Marks the user's queued invitation `number` as released (state `sent`)
/// at `at`, valid until `expires_at`, with the hash of its secret. Returns it.
///
/// # Errors
/// [`StoreError::NotFound`] when no such queued invitation exists.
pub fn release(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    number: i32,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    secret_hash: &str,
) -> Result<InvitationRecord, StoreError> {
    let updated = diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::user_id.eq(user_id))
            .filter(invitations::number.eq(number))
            .filter(invitations::state.eq(InvitationState::Queued.as_str())),
    )
    .set((
        invitations::state.eq(InvitationState::Sent.as_str()),
        invitations::released_at.eq(to_db(at)),
        invitations::expires_at.eq(to_db(expires_at)),
        invitations::secret_hash.eq(secret_hash),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    find_by_number(conn, tenant_id, user_id, number)?.ok_or(StoreError::NotFound)
}

/// Records that the email of invitation `id` was handed over at `at`.
/// Returns `false` when it was already recorded (or the row is gone).
///
/// # Errors
/// Database errors.
pub fn mark_sent(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::id.eq(id))
            .filter(invitations::sent_at.is_null()),
    )
    .set((
        invitations::sent_at.eq(to_db(at)),
        invitations::next_attempt_at.eq(None::<NaiveDateTime>),
        invitations::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Records a failed delivery attempt of invitation `id` (for the admin view).
///
/// # Errors
/// Database errors.
pub fn record_delivery_failure(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    error: &str,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::id.eq(id)),
    )
    .set((
        invitations::attempts.eq(invitations::attempts + 1),
        invitations::last_error.eq(error),
        invitations::next_attempt_at.eq(next_attempt_at.map(to_db)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Marks the released, undelivered invitation `id` as `failed` with
/// `reason` (kept in `last_error`). Returns `false` (and changes nothing)
/// when it is not released-and-undelivered any more.
///
/// # Errors
/// Database errors.
pub fn mark_failed(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::id.eq(id))
            .filter(invitations::state.eq(InvitationState::Sent.as_str()))
            .filter(invitations::sent_at.is_null()),
    )
    .set((
        invitations::state.eq(InvitationState::Failed.as_str()),
        invitations::last_error.eq(reason),
        invitations::next_attempt_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// The tenant's invitation whose secret hashes to `secret_hash`, if any.
///
/// # Errors
/// Database errors.
pub fn find_by_hash(
    conn: &mut DbConnection,
    tenant_id: &str,
    secret_hash: &str,
) -> Result<Option<InvitationRecord>, StoreError> {
    invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::secret_hash.eq(secret_hash))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// Consumes a link: the sent, unexpired invitation `id` becomes `accepted`
/// at `at`. Returns `false` (and changes nothing) when it is not in that
/// state any more: used, cancelled, expired, or consumed by a concurrent
/// request. The update is guarded by its own `WHERE`, so a link works once.
///
/// # Errors
/// Database errors.
pub fn accept(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let at = to_db(at);
    let updated = diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::id.eq(id))
            .filter(invitations::state.eq(InvitationState::Sent.as_str()))
            .filter(invitations::expires_at.gt(at)),
    )
    .set((
        invitations::state.eq(InvitationState::Accepted.as_str()),
        invitations::accepted_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Cancels the user's invitation `number` if it is queued or sent. Returns
/// whether a row changed.
///
/// # Errors
/// Database errors.
pub fn cancel(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    number: i32,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::user_id.eq(user_id))
            .filter(invitations::number.eq(number))
            .filter(
                invitations::state
                    .eq(InvitationState::Queued.as_str())
                    .or(invitations::state.eq(InvitationState::Sent.as_str())),
            ),
    )
    .set(invitations::state.eq(InvitationState::Cancelled.as_str()))
    .execute(conn)?;
    Ok(updated == 1)
}

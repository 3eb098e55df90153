//! Sign-in sessions of the web console, stored in the database so they work
//! across replicas.
//!
//! A session id is 32 random bytes (64 hex characters) that only the browser's
//! cookie holds; the table keys the row by the id's hex SHA-256. Each session
//! carries its own CSRF token. [`touch`] refuses (and deletes) a session idle
//! for longer than the caller's timeout and otherwise records the request.
//!
//! A session belongs to the operator (no tenant) or to one tenant
//! administrator ([`Scope`]); a tenant administrator's session ends when the
//! account is disabled. A session whose second factor is still outstanding
//! carries a `pending` step and signs nobody in until it is cleared.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::{console_sessions, tenant_admins, tenants};
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError, hex};

/// A session as the console sees it (never the id itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Who signed in, e.g. `operator`.
    pub subject: String,
    /// The CSRF token of this session's forms.
    pub csrf_token: String,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// The last request of the session before this one.
    pub last_seen_at: DateTime<Utc>,
    /// The tenant administrator who signed in; `None` for the operator.
    pub scope: Option<Scope>,
    /// The sign-in step still outstanding (`totp`, `enrol`), if any.
    pub pending: Option<String>,
}

/// The tenant administrator a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The tenant.
    pub tenant_id: String,
    /// The tenant's slug (read at each use).
    pub tenant_slug: String,
    /// The account.
    pub admin_id: String,
}

/// A freshly created session: `id` goes into the cookie and nowhere else
/// (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct NewConsoleSession {
    /// The secret session id (64 hex characters).
    pub id: String,
    /// The stored session.
    pub session: ConsoleSession,
}

impl std::fmt::Debug for NewConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConsoleSession")
            .field("id", &"***")
            .field("session", &self.session)
            .finish()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = console_sessions)]
struct Row {
    subject: String,
    csrf_token: String,
    created_at: chrono::NaiveDateTime,
    last_seen_at: chrono::NaiveDateTime,
    admin_id: Option<String>,
    pending: Option<String>,
}

fn id_hash(id: &str) -> String {
    hex::encode(&Sha256::digest(id.as_bytes()))
}

/// Creates an operator session for `subject` with a fresh id and CSRF token.
///
/// # Errors
/// Database errors.
pub fn create(conn: &mut DbConnection, subject: &str) -> Result<NewConsoleSession, StoreError> {
    create_for(conn, subject, None, None)
}

/// Creates a session for `subject` (a tenant administrator's email when
/// `scope` is given), with the sign-in step `pending` still outstanding if
/// given.
///
/// # Errors
/// Database errors.
pub fn create_for(
    conn: &mut DbConnection,
    subject: &str,
    scope: Option<&Scope>,
    pending: Option<&str>,
) -> Result<NewConsoleSession, StoreError> {
    let id = hex::encode(&rand::random::<[u8; 32]>());
    let csrf_token = hex::encode(&rand::random::<[u8; 32]>());
    let at = now();
    diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::id_hash.eq(id_hash(&id)),
            console_sessions::subject.eq(subject),
            console_sessions::csrf_token.eq(&csrf_token),
            console_sessions::created_at.eq(to_db(at)),
            console_sessions::last_seen_at.eq(to_db(at)),
            console_sessions::tenant_id.eq(scope.map(|s| s.tenant_id.as_str())),
            console_sessions::admin_id.eq(scope.map(|s| s.admin_id.as_str())),
            console_sessions::pending.eq(pending),
        ))
        .execute(conn)?;
    Ok(NewConsoleSession {
        id,
        session: ConsoleSession {
            subject: subject.to_owned(),
            csrf_token,
            created_at: at,
            last_seen_at: at,
            scope: scope.cloned(),
            pending: pending.map(str::to_owned),
        },
    })
}

/// The session with this id if it was used within `idle`, after recording
/// this use; a session idle for longer, or of a tenant administrator who is
/// disabled or gone, is deleted and `None`.
///
/// # Errors
/// Database errors.
pub fn touch(
    conn: &mut DbConnection,
    id: &str,
    idle: TimeDelta,
) -> Result<Option<ConsoleSession>, StoreError> {
    let hash = id_hash(id);
    let row = console_sessions::table
        .filter(console_sessions::id_hash.eq(&hash))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let at = now();
    let scope = match &row.admin_id {
        None => None,
        Some(admin_id) => tenant_admins::table
            .inner_join(tenants::table)
            .filter(tenant_admins::id.eq(admin_id))
            .filter(tenant_admins::disabled_at.is_null())
            .select((tenants::id, tenants::slug))
            .first::<(String, String)>(conn)
            .optional()?
            .map(|(tenant_id, tenant_slug)| Scope {
                tenant_id,
                tenant_slug,
                admin_id: admin_id.clone(),
            }),
    };
    if from_db(row.last_seen_at) + idle < at || (row.admin_id.is_some() && scope.is_none()) {
        diesel::delete(console_sessions::table.filter(console_sessions::id_hash.eq(&hash)))
            .execute(conn)?;
        return Ok(None);
    }
    diesel::update(console_sessions::table.filter(console_sessions::id_hash.eq(&hash)))
        .set(console_sessions::last_seen_at.eq(to_db(at)))
        .execute(conn)?;
    Ok(Some(ConsoleSession {
        subject: row.subject,
        csrf_token: row.csrf_token,
        created_at: from_db(row.created_at),
        last_seen_at: from_db(row.last_seen_at),
        scope,
        pending: row.pending,
    }))
}

/// Deletes the session with this id (sign-out); `true` if it existed.
///
/// # Errors
/// Database errors.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    let n =
        diesel::delete(console_sessions::table.filter(console_sessions::id_hash.eq(id_hash(id))))
            .execute(conn)?;
    Ok(n > 0)
}

/// Deletes every session idle for longer than `idle`; returns how many.
///
/// # Errors
/// Database errors.
pub fn delete_idle(conn: &mut DbConnection, idle: TimeDelta) -> Result<usize, StoreError> {
    let cutoff = to_db(now() - idle);
    Ok(
        diesel::delete(console_sessions::table.filter(console_sessions::last_seen_at.lt(cutoff)))
            .execute(conn)?,
    )
}

// In-memory SQLite.
#[cfg(all(test, feature = "sqlite"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Store;

    #[test]
    fn create_touch_expire_delete() {
        let store = Store::connect_and_migrate("sqlite::memory:").unwrap();
        let new = store.transaction(|c| create(c, "operator")).unwrap();
        assert_eq!(new.id.len(), 64);
        let id = new.id.clone();
        let s = store
            .transaction(|c| touch(c, &id, TimeDelta::minutes(30)))
            .unwrap()
            .unwrap();
        assert_eq!(s.subject, "operator");
        assert_eq!(s.csrf_token, new.session.csrf_token);
        assert!(
            store
                .transaction(|c| touch(c, "nope", TimeDelta::minutes(30)))
                .unwrap()
                .is_none()
        );
        // Idle for longer than a negative timeout: refused and gone.
        assert!(
            store
                .transaction(|c| touch(c, &id, TimeDelta::seconds(-1)))
                .unwrap()
                .is_none()
        );
        assert!(!store.transaction(|c| delete(c, &id)).unwrap());
        let again = store.transaction(|c| create(c, "operator")).unwrap();
        assert!(store.transaction(|c| delete(c, &again.id)).unwrap());
        assert_eq!(
            store
                .transaction(|c| delete_idle(c, TimeDelta::zero()))
                .unwrap(),
            0
        );
    }
}

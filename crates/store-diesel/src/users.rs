//! User rows: the indexed columns next to the full SCIM document (JSON text),
//! plus one `user_emails` row per email for indexed `emails.value` lookups.
//!
//! `userName` is unique per tenant case-insensitively: the store keeps
//! `user_name_folded` (Unicode lower case, computed here, never by SQL whose
//! `LOWER` differs between backends) under a unique key.

use crate::single::SingleRow as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::macros::db_run;
use crate::schema::{user_emails, users};
use crate::time::{from_db, to_db};
use crate::{DbConnection, StoreError, write_transaction};

/// Emails are read for this many users per query (well under SQLite's
/// bound-parameter limit).
const BATCH: usize = 500;

/// Case folding used for every case-insensitive key (userName, displayName,
/// email values): Unicode lower case.
pub fn fold(value: &str) -> String {
    value.to_lowercase()
}

/// One email of a user, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The address as given.
    pub value: String,
    /// SCIM `type` (`work`, `home`, …).
    pub email_type: Option<String>,
    /// SCIM `primary`.
    pub primary: bool,
}

/// A user row. The caller (provisioning-core) decides every field; the store
/// keeps them and enforces uniqueness and versions.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Tenant.
    pub tenant_id: String,
    /// SCIM `id`.
    pub id: String,
    /// SCIM `userName` as given.
    pub user_name: String,
    /// SCIM `externalId`.
    pub external_id: Option<String>,
    /// SCIM `displayName`.
    pub display_name: Option<String>,
    /// SCIM `active`.
    pub active: bool,
    /// Product status: `Staged`, `Invited`, `Active` or `Suspended` (checked by
    /// the database).
    pub status: String,
    /// The status to restore on reactivation while suspended.
    pub status_before_suspend: Option<String>,
    /// Per-user automatic-invitation override (`None`: inherit the tenant's).
    pub override_automatic_invitation: Option<bool>,
    /// Per-user mobile-authentication override (`None`: inherit).
    pub override_require_mobile_auth: Option<bool>,
    /// Whether a mobile device is enrolled.
    pub mobile_device_enrolled: bool,
    /// The enrolled device's name.
    pub mobile_device_name: Option<String>,
    /// `meta.created`.
    pub created_at: DateTime<Utc>,
    /// `meta.lastModified`.
    pub last_modified: DateTime<Utc>,
    /// `meta.version` counter; [`insert`] stores it as given, [`update`] bumps it.
    pub version: i64,
    /// The SCIM resource without `id` and `meta` (see [`UserRecord::to_resource`]).
    /// Its `userName`, `externalId`, `displayName`, `active` and `emails` must
    /// agree with the columns above: filters on those attributes are answered
    /// from the columns, other filters from this document.
    pub document: serde_json::Value,
    /// provisioning-core's `LifecycleRecord` as JSON; opaque to the store,
    /// stored as text and returned as given.
    pub lifecycle: serde_json::Value,
    /// Emails, indexed for `emails.value` / `emails.type` filters (the same
    /// emails as the document's, in document order).
    pub emails: Vec<Email>,
}

impl UserRecord {
    /// The SCIM resource: the stored document plus `id` and
    /// `meta` (`resourceType`, `created`, `lastModified`, `version`). The HTTP
    /// layer adds `meta.location`.
    pub fn to_resource(&self) -> serde_json::Value {
        crate::render::resource(
            &self.document,
            &self.id,
            "User",
            self.created_at,
            self.last_modified,
            self.version,
        )
    }
}

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    tenant_id: String,
    id: String,
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    active: bool,
    status: String,
    status_before_suspend: Option<String>,
    override_automatic_invitation: Option<bool>,
    override_require_mobile_auth: Option<bool>,
    mobile_device_enrolled: bool,
    mobile_device_name: Option<String>,
    created_at: NaiveDateTime,
    last_modified: NaiveDateTime,
    version: i64,
    document: String,
    lifecycle: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = user_emails)]
struct EmailRow {
    user_id: String,
    value: String,
    email_type: Option<String>,
    is_primary: bool,
}

/// The columns that [`insert`] and [`update`] both write.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserColumns {
    user_name: String,
    user_name_folded: String,
    external_id: Option<String>,
    display_name: Option<String>,
    display_name_folded: Option<String>,
    active: bool,
    status: String,
    status_before_suspend: Option<String>,
    override_automatic_invitation: Option<bool>,
    override_require_mobile_auth: Option<bool>,
    mobile_device_enrolled: bool,
    mobile_device_name: Option<String>,
    last_modified: NaiveDateTime,
    document: String,
    lifecycle: String,
}

fn columns(u: &UserRecord) -> Result<UserColumns, StoreError> {
    Ok(UserColumns {
        user_name: u.user_name.clone(),
        user_name_folded: fold(&u.user_name),
        external_id: u.external_id.clone(),
        display_name: u.display_name.clone(),
        display_name_folded: u.display_name.as_deref().map(fold),
        active: u.active,
        status: u.status.clone(),
        status_before_suspend: u.status_before_suspend.clone(),
        override_automatic_invitation: u.override_automatic_invitation,
        override_require_mobile_auth: u.override_require_mobile_auth,
        mobile_device_enrolled: u.mobile_device_enrolled,
        mobile_device_name: u.mobile_device_name.clone(),
        last_modified: to_db(u.last_modified),
        document: serde_json::to_string(&u.document).map_err(StoreError::other)?,
        lifecycle: serde_json::to_string(&u.lifecycle).map_err(StoreError::other)?,
    })
}

fn insert_emails(conn: &mut DbConnection, u: &UserRecord) -> Result<(), StoreError> {
    insert_emails_of(conn, std::slice::from_ref(u))
}

/// The email rows of all of `users`, in multi-row statements.
fn insert_emails_of(conn: &mut DbConnection, users: &[UserRecord]) -> Result<(), StoreError> {
    let rows: Vec<_> = users
        .iter()
        .flat_map(|u| {
            u.emails.iter().zip(0i32..).map(move |(email, position)| {
                (
                    user_emails::tenant_id.eq(&u.tenant_id),
                    user_emails::user_id.eq(&u.id),
                    user_emails::position.eq(position),
                    user_emails::value.eq(&email.value),
                    user_emails::value_folded.eq(fold(&email.value)),
                    user_emails::email_type.eq(&email.email_type),
                    user_emails::email_type_folded.eq(email.email_type.as_deref().map(fold)),
                    user_emails::is_primary.eq(email.primary),
                )
            })
        })
        .collect();
    if let [one] = rows.as_slice() {
        // The usual single address: a one-row insert keeps its prepared
        // statement (a multi-row insert's SQL depends on its length).
        db_run!(conn => {
            diesel::insert_into(user_emails::table)
                .values(one)
                .execute(conn)?;
        });
        return Ok(());
    }
    for chunk in rows.chunks(BATCH) {
        // Multi-row INSERT does not compile for `MultiBackend`: run it per backend.
        db_run!(conn => {
            diesel::insert_into(user_emails::table)
                .values(chunk)
                .execute(conn)?;
        });
    }
    Ok(())
}

/// Every column of a new user row.
#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    tenant_id: &'a str,
    id: &'a str,
    created_at: NaiveDateTime,
    version: i64,
    #[diesel(embed)]
    columns: UserColumns,
}

/// Inserts many users and their emails in one transaction (imports, `POST
/// /Bulk`, benchmarks). All or nothing. On PostgreSQL with multi-row
/// `INSERT`s of [`BATCH`] rows (one round trip each); on SQLite, which has
/// no round trips, with the one-row statements of [`insert`], which stay
/// prepared (a multi-row statement is parsed again for every length, and
/// a prepared one of a thousand rows holds a large program in memory).
///
/// # Errors
/// As [`insert`], for the first user that conflicts.
pub fn insert_many(conn: &mut DbConnection, batch: &[UserRecord]) -> Result<(), StoreError> {
    let rows = batch
        .iter()
        .map(|u| {
            Ok(NewUser {
                tenant_id: &u.tenant_id,
                id: &u.id,
                created_at: to_db(u.created_at),
                version: u.version,
                columns: columns(u)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    write_transaction(conn, |conn| match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            for chunk in rows.chunks(BATCH) {
                diesel::insert_into(users::table)
                    .values(chunk)
                    .execute(pg)?;
            }
            insert_emails_of(conn, batch)
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => {
            for (row, user) in rows.iter().zip(batch) {
                db_run!(conn => {
                    diesel::insert_into(users::table).values(row).execute(conn)?;
                });
                insert_emails(conn, user)?;
            }
            Ok(())
        }
    })
}

/// Inserts a user and its emails in one transaction.
///
/// # Errors
/// [`StoreError::Conflict`] (`"userName"`) when the folded userName is taken in
/// the tenant, (`"user id"`) when the id is.
pub fn insert(conn: &mut DbConnection, user: &UserRecord) -> Result<(), StoreError> {
    let values = columns(user)?;
    write_transaction(conn, |conn| {
        // On the concrete connection: diesel's MultiConnection re-renders a
        // statement's SQL on every execution (docs/performance.md).
        db_run!(conn => {
            diesel::insert_into(users::table)
                .values((
                    users::tenant_id.eq(&user.tenant_id),
                    users::id.eq(&user.id),
                    users::created_at.eq(to_db(user.created_at)),
                    users::version.eq(user.version),
                    &values,
                ))
                .execute(conn)?
        });
        insert_emails(conn, user)
    })
}

fn load(conn: &mut DbConnection, row: UserRow) -> Result<UserRecord, StoreError> {
    let mut records = load_many(conn, vec![row])?;
    records.pop().ok_or(StoreError::NotFound)
}

/// Turns rows into records, reading the emails of all of them in one query.
pub(crate) fn load_many(
    conn: &mut DbConnection,
    rows: Vec<UserRow>,
) -> Result<Vec<UserRecord>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let tenant_id = first.tenant_id.clone();
    let mut by_user: std::collections::HashMap<String, Vec<Email>> =
        std::collections::HashMap::new();
    for chunk in rows.chunks(BATCH) {
        let ids: Vec<&str> = chunk.iter().map(|r| r.id.as_str()).collect();
        let emails = user_emails::table
            .filter(user_emails::tenant_id.eq(&tenant_id))
            .filter(user_emails::user_id.eq_any(ids))
            .order((user_emails::user_id.asc(), user_emails::position.asc()))
            .select(EmailRow::as_select())
            .load(conn)?;
        for e in emails {
            by_user.entry(e.user_id).or_default().push(Email {
                value: e.value,
                email_type: e.email_type,
                primary: e.is_primary,
            });
        }
    }
    rows.into_iter()
        .map(|row| {
            let emails = by_user.remove(&row.id).unwrap_or_default();
            record(row, emails)
        })
        .collect()
}

/// A record from its row, with the given emails (the list module evaluates
/// filters on records without reading their emails: the document has them).
pub(crate) fn record(row: UserRow, emails: Vec<Email>) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        document: serde_json::from_str(&row.document).map_err(StoreError::other)?,
        lifecycle: serde_json::from_str(&row.lifecycle).map_err(StoreError::other)?,
        tenant_id: row.tenant_id,
        id: row.id,
        user_name: row.user_name,
        external_id: row.external_id,
        display_name: row.display_name,
        active: row.active,
        status: row.status,
        status_before_suspend: row.status_before_suspend,
        override_automatic_invitation: row.override_automatic_invitation,
        override_require_mobile_auth: row.override_require_mobile_auth,
        mobile_device_enrolled: row.mobile_device_enrolled,
        mobile_device_name: row.mobile_device_name,
        created_at: from_db(row.created_at),
        last_modified: from_db(row.last_modified),
        version: row.version,
        emails,
    })
}

/// The user `(tenant, id)`.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<UserRecord, StoreError> {
    let row = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .single(conn)?;
    load(conn, row)
}

/// The user whose userName equals `user_name` case-insensitively: one query on
/// the `(tenant_id, user_name_folded)` unique key.
///
/// # Errors
/// Database errors.
pub fn find_by_user_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_name: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::user_name_folded.eq(fold(user_name)))
        .select(UserRow::as_select())
        .single(conn)
        .optional()?;
    row.map(|row| load(conn, row)).transpose()
}

/// Up to `limit` users whose externalId is exactly `external_id` (which
/// ones, when more match, is unspecified), in id order: one query on the
/// `(tenant_id, external_id)` index.
///
/// # Errors
/// Database errors.
pub fn find_by_external_id(
    conn: &mut DbConnection,
    tenant_id: &str,
    external_id: &str,
    limit: u32,
) -> Result<Vec<UserRecord>, StoreError> {
    let rows = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::external_id.eq(external_id))
        // No ORDER BY: SQLite would then walk the primary key instead of
        // the external-id index. Sorted here (few rows).
        .limit(i64::from(limit))
        .select(UserRow::as_select())
        .load(conn)?;
    let mut found = rows
        .into_iter()
        .map(|row| load(conn, row))
        .collect::<Result<Vec<_>, _>>()?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// [`get`] without reading the user's email rows: the record's `emails` is
/// empty (the document carries them). For reads that render the document.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get_document(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<UserRecord, StoreError> {
    let row: UserRow = db_run!(conn => {
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .single(conn)?
    });
    record(row, Vec::new())
}

/// [`get_document`] for a read-modify-write: on PostgreSQL the row is locked
/// (`FOR UPDATE`) until the transaction ends, so concurrent writers of one
/// user queue instead of failing on the version check; on SQLite the write
/// transaction already holds the database's write lock.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get_document_for_update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> Result<UserRecord, StoreError> {
    let row: UserRow = match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(conn) => users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .for_update()
            .single(conn)?,
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(conn) => users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .single(conn)?,
    };
    record(row, Vec::new())
}

/// [`find_by_user_name`] without reading the user's email rows (the record's
/// `emails` is empty; the document carries them): the one indexed query of
/// Entra ID's `userName eq` lookup.
///
/// # Errors
/// Database errors.
pub fn find_document_by_user_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_name: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let folded = fold(user_name);
    let row: Option<UserRow> = db_run!(conn => {
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::user_name_folded.eq(&folded))
            .select(UserRow::as_select())
            .single(conn)
            .optional()?
    });
    row.map(|row| record(row, Vec::new())).transpose()
}

/// One page of the tenant's users matching `q` (see [`crate::list`]: indexed
/// filters run in SQL, the rest is finished by scim-model's evaluator on
/// [`UserRecord::to_resource`]).
///
/// # Errors
/// [`StoreError::UnsupportedFilter`] for a filter that does not compile against
/// the User schema or that names `groups` or `meta.location`.
pub fn list(
    conn: &mut DbConnection,
    tenant_id: &str,
    q: &crate::ListQuery<'_>,
) -> Result<crate::Page<UserRecord>, StoreError> {
    crate::list::list(conn, tenant_id, q)
}

/// [`list`] without reading email rows: each record's `emails` is empty (the
/// document carries them). For callers that render the stored documents.
///
/// # Errors
/// As [`list`].
pub fn list_documents(
    conn: &mut DbConnection,
    tenant_id: &str,
    q: &crate::ListQuery<'_>,
) -> Result<crate::Page<UserRecord>, StoreError> {
    crate::list::list_with(conn, tenant_id, q, false)
}

/// Replaces the user's row and emails when its version is `expected_version`
/// (`None`: any version); returns the new version (old + 1). `created_at` and
/// `version` of `user` are ignored.
///
/// # Errors
/// [`StoreError::NotFound`], [`StoreError::PreconditionFailed`] with the current
/// version, [`StoreError::Conflict`] for a taken userName.
pub fn update(
    conn: &mut DbConnection,
    user: &UserRecord,
    expected_version: Option<i64>,
) -> Result<i64, StoreError> {
    let values = columns(user)?;
    write_transaction(conn, |conn| {
        let current: i64 = users::table
            .filter(users::tenant_id.eq(&user.tenant_id))
            .filter(users::id.eq(&user.id))
            .select(users::version)
            .single(conn)?;
        if expected_version.is_some_and(|v| v != current) {
            return Err(StoreError::PreconditionFailed { current });
        }
        let updated = diesel::update(
            users::table
                .filter(users::tenant_id.eq(&user.tenant_id))
                .filter(users::id.eq(&user.id))
                .filter(users::version.eq(current)),
        )
        .set((&values, users::version.eq(current + 1)))
        .execute(conn)?;
        if updated == 0 {
            return Err(StoreError::PreconditionFailed {
                current: current + 1,
            });
        }
        diesel::delete(
            user_emails::table
                .filter(user_emails::tenant_id.eq(&user.tenant_id))
                .filter(user_emails::user_id.eq(&user.id)),
        )
        .execute(conn)?;
        insert_emails(conn, user)?;
        Ok(current + 1)
    })
}

/// Deletes the user; its emails, group memberships and invitations go with it
/// (`ON DELETE CASCADE`) and its userName is free again.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Number of users in the tenant.
///
/// # Errors
/// Database errors.
pub fn count(conn: &mut DbConnection, tenant_id: &str) -> Result<i64, StoreError> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant_id))
        .count()
        .get_result(conn)?)
}

/// How many of the tenant's users carry their own override of automatic
/// invitation, and of "require mobile authentication" (two counts on
/// partial indexes of the rows with an override: cheap however many users).
///
/// # Errors
/// Database errors.
pub fn override_counts(conn: &mut DbConnection, tenant_id: &str) -> Result<(i64, i64), StoreError> {
    let automatic = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::override_automatic_invitation.is_not_null())
        .count()
        .get_result(conn)?;
    let mobile = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::override_require_mobile_auth.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((automatic, mobile))
}

/// Which of `ids` are users of the tenant: one indexed query per 500 ids on the
/// primary key, reading nothing but the ids (for checking group members).
///
/// # Errors
/// Database errors.
pub fn existing_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[&str],
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let mut found = std::collections::BTreeSet::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<String> = users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq_any(chunk))
            .select(users::id)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

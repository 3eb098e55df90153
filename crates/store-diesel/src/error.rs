//! [`StoreError`]: what callers of the store can tell apart, and the one place
//! where diesel's errors are mapped onto it.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// Everything the store can fail with. The HTTP layer maps these to statuses:
/// `NotFound` → 404, `Conflict` → 409 `uniqueness`, `PreconditionFailed` → 412,
/// `Unavailable` → 503, `UnsupportedFilter` → 400 `invalidFilter`, the rest → 500 (or a startup failure).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (in this tenant).
    #[error("not found")]
    NotFound,
    /// A unique key is already taken: `what` names it (`"userName"`,
    /// `"displayName"`, `"tenant slug"`, …). Raised for unique violations on both
    /// backends.
    #[error("conflict: {what} is already taken")]
    Conflict {
        /// The unique key that was violated, in caller terms.
        what: String,
    },
    /// A row refers to another row that does not exist (foreign key violation),
    /// e.g. a group member that is not a user of this tenant.
    #[error("missing reference: {what}")]
    MissingReference {
        /// The reference that points nowhere.
        what: String,
    },
    /// The caller's expected version (ETag) is not the current one.
    #[error("precondition failed: the current version is {current}")]
    PreconditionFailed {
        /// The version the row has now.
        current: i64,
    },
    /// A list filter the store cannot answer (an uncompilable filter, or an
    /// attribute it cannot filter on, such as a member's `display`). The HTTP
    /// layer maps it to `400 invalidFilter`.
    #[error("unsupported filter: {0}")]
    UnsupportedFilter(String),
    /// Input rejected before it reached the database (e.g. a malformed slug).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database cannot be reached, the pool timed out, or it is busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL names no backend we support, or is malformed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Applying or reverting the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Anything else (an unexpected database error, a corrupt stored document).
    #[error("store error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Other`].
    pub fn other(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Other(err.into())
    }
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(kind, info) => map_database_error(kind, info),
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("the connection's transaction state is broken".to_owned())
            }
            other => Self::Other(Box::new(other)),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        Self::Unavailable(format!("no database connection: {err}"))
    }
}

fn map_database_error(
    kind: DatabaseErrorKind,
    info: Box<dyn DatabaseErrorInformation + Send + Sync>,
) -> StoreError {
    // PostgreSQL names the constraint; SQLite names "table.column, …" in the message.
    let key = format!(
        "{} {}",
        info.constraint_name().unwrap_or_default(),
        info.message()
    );
    match kind {
        DatabaseErrorKind::UniqueViolation => StoreError::Conflict {
            what: unique_key_name(&key).to_owned(),
        },
        DatabaseErrorKind::ForeignKeyViolation => StoreError::MissingReference {
            what: info.message().to_owned(),
        },
        DatabaseErrorKind::ClosedConnection
        | DatabaseErrorKind::SerializationFailure
        | DatabaseErrorKind::UnableToSendCommand => {
            StoreError::Unavailable(info.message().to_owned())
        }
        // SQLITE_BUSY / SQLITE_LOCKED surface as `Unknown` with these messages.
        _ if info.message().contains("database is locked")
            || info.message().contains("database table is locked") =>
        {
            StoreError::Unavailable(info.message().to_owned())
        }
        other => StoreError::Other(Box::new(DieselError::DatabaseError(other, info))),
    }
}

/// Names a violated unique key in caller terms, from the constraint name
/// (PostgreSQL: `users_user_name_uq`) or the message (SQLite: `UNIQUE constraint
/// failed: users.tenant_id, users.user_name_folded`).
fn unique_key_name(key: &str) -> &'static str {
    if key.contains("user_name") {
        "userName"
    } else if key.contains("display_name") {
        "displayName"
    } else if key.contains("slug") {
        "tenant slug"
    } else if key.contains("scim_tokens") {
        "live SCIM token"
    } else if key.contains("group_members") {
        "group membership"
    } else if key.contains("users") {
        "user id"
    } else if key.contains("groups") {
        "group id"
    } else if key.contains("tenants") {
        "tenant id"
    } else {
        "unique key"
    }
}

#[cfg(test)]
mod tests {
    use super::unique_key_name;

    #[test]
    fn names_unique_keys_from_both_backends() {
        assert_eq!(
            unique_key_name("users_user_name_uq duplicate key"),
            "userName"
        );
        assert_eq!(
            unique_key_name(" UNIQUE constraint failed: users.tenant_id, users.user_name_folded"),
            "userName"
        );
        assert_eq!(
            unique_key_name(
                " UNIQUE constraint failed: groups.tenant_id, groups.display_name_folded"
            ),
            "displayName"
        );
        assert_eq!(unique_key_name("tenants_slug_uq x"), "tenant slug");
        assert_eq!(
            unique_key_name(" UNIQUE constraint failed: users.tenant_id, users.id"),
            "user id"
        );
    }
}

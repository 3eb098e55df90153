//! Tenants: one organisation each, with its SCIM settings.

use crate::single::SingleRow as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::macros::db_run;
use crate::schema::tenants;
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError};

/// A tenant's SCIM settings (the product defaults that per-user and per-group
/// overrides refine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSettings {
    /// Send an activation invitation after provisioning (default off).
    pub automatic_invitation: bool,
    /// Users provisioned via SCIM must use the mobile app (default on).
    pub require_mobile_auth_users: bool,
    /// Data in SCIM groups is hidden from phoneless users (default on).
    pub require_mobile_auth_groups: bool,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            automatic_invitation: false,
            require_mobile_auth_users: true,
            require_mobile_auth_groups: true,
        }
    }
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Stable id (a UUID string); every other table's rows carry it.
    pub id: String,
    /// URL name: lower-case ASCII letters, digits and `-`, 1–63 characters,
    /// unique across the server.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// SCIM settings.
    pub settings: TenantSettings,
    /// The tenant's own rate limit in requests per second (`None`: the
    /// server's default; `Some(0)`: unlimited).
    pub rate_limit: Option<i32>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants)]
struct TenantRow {
    id: String,
    slug: String,
    name: String,
    created_at: chrono::NaiveDateTime,
    automatic_invitation: bool,
    require_mobile_auth_users: bool,
    require_mobile_auth_groups: bool,
    rate_limit: Option<i32>,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            created_at: from_db(row.created_at),
            settings: TenantSettings {
                automatic_invitation: row.automatic_invitation,
                require_mobile_auth_users: row.require_mobile_auth_users,
                require_mobile_auth_groups: row.require_mobile_auth_groups,
            },
            rate_limit: row.rate_limit,
        }
    }
}

/// Checks a slug: 1–63 characters from `a-z`, `0-9` and `-`, not starting or
/// ending with `-` (so it is also a valid DNS label).
///
/// # Errors
/// [`StoreError::InvalidInput`] naming the rule broken.
pub fn validate_slug(slug: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::InvalidInput(format!(
            "tenant slug {slug:?} {why}"
        )))
    };
    if slug.is_empty() || slug.len() > 63 {
        return invalid("must be 1 to 63 characters long");
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return invalid("may contain only lower-case letters, digits and '-'");
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return invalid("must not start or end with '-'");
    }
    Ok(())
}

/// Creates a tenant with the default settings and a fresh id.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a bad slug, [`StoreError::Conflict`] when the
/// slug is taken.
pub fn create(conn: &mut DbConnection, slug: &str, name: &str) -> Result<Tenant, StoreError> {
    validate_slug(slug)?;
    let tenant = Tenant {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        created_at: now(),
        settings: TenantSettings::default(),
        rate_limit: None,
    };
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(&tenant.id),
            tenants::slug.eq(&tenant.slug),
            tenants::name.eq(&tenant.name),
            tenants::created_at.eq(to_db(tenant.created_at)),
            tenants::automatic_invitation.eq(tenant.settings.automatic_invitation),
            tenants::require_mobile_auth_users.eq(tenant.settings.require_mobile_auth_users),
            tenants::require_mobile_auth_groups.eq(tenant.settings.require_mobile_auth_groups),
        ))
        .execute(conn)?;
    Ok(tenant)
}

/// Every tenant, ordered by slug.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Tenant>, StoreError> {
    Ok(tenants::table
        .order(tenants::slug.asc())
        .select(TenantRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Tenant::from)
        .collect())
}

/// The tenant with this id.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Tenant, StoreError> {
    Ok(tenants::table
        .filter(tenants::id.eq(id))
        .select(TenantRow::as_select())
        .single(conn)?
        .into())
}

/// The tenant with this slug.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Tenant, StoreError> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug))
        .select(TenantRow::as_select())
        .single(conn)?
        .into())
}

/// What authenticating a Secret Token needs from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    /// The tenant.
    pub tenant: Tenant,
    /// Hex SHA-256 of its live token (compare in constant time).
    pub token_hash: String,
    /// The tenant accepts OAuth access tokens only (Secret Tokens refused).
    pub oauth_only: bool,
}

/// The tenant whose slug is `slug` and whose id is `tenant_id`, with the hash
/// of its **live** SCIM token `token_id`: one indexed join, what a request's
/// authentication costs. `None` when the slug is unknown, names another tenant,
/// or the token is unknown or revoked.
///
/// # Errors
/// Database errors only.
pub fn with_live_token(
    conn: &mut DbConnection,
    slug: &str,
    tenant_id: &str,
    token_id: &str,
) -> Result<Option<LiveToken>, StoreError> {
    use crate::schema::scim_tokens;
    if slug.contains('\0') || tenant_id.contains('\0') || token_id.contains('\0') {
        return Ok(None);
    }
    // On the concrete connection: diesel's MultiConnection re-renders a
    // query's SQL on every execution (docs/performance.md).
    let found = db_run!(conn => {
        tenants::table
            .inner_join(scim_tokens::table.on(scim_tokens::tenant_id.eq(tenants::id)))
            .filter(tenants::slug.eq(slug))
            .filter(tenants::id.eq(tenant_id))
            .filter(scim_tokens::token_id.eq(token_id))
            .filter(scim_tokens::revoked_at.is_null())
            .select((
                TenantRow::as_select(),
                scim_tokens::token_hash,
                tenants::oauth_only,
            ))
            .single::<(TenantRow, String, bool)>(conn)
            .optional()?
    });
    Ok(found.map(|(row, token_hash, oauth_only)| LiveToken {
        tenant: Tenant::from(row),
        token_hash,
        oauth_only,
    }))
}

/// Replaces the tenant's SCIM settings; returns the updated tenant.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn update_settings(
    conn: &mut DbConnection,
    id: &str,
    settings: &TenantSettings,
) -> Result<Tenant, StoreError> {
    let updated = diesel::update(tenants::table.filter(tenants::id.eq(id)))
        .set((
            tenants::automatic_invitation.eq(settings.automatic_invitation),
            tenants::require_mobile_auth_users.eq(settings.require_mobile_auth_users),
            tenants::require_mobile_auth_groups.eq(settings.require_mobile_auth_groups),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    get(conn, id)
}

/// Sets the tenant's own rate limit (`None`: the server's default; `Some(0)`:
/// unlimited); returns the updated tenant.
///
/// # Errors
/// [`StoreError::NotFound`]; [`StoreError::InvalidInput`] for a negative limit.
pub fn set_rate_limit(
    conn: &mut DbConnection,
    id: &str,
    per_second: Option<i32>,
) -> Result<Tenant, StoreError> {
    if per_second.is_some_and(|n| n < 0) {
        return Err(StoreError::InvalidInput(
            "rate limit: must be 0 (unlimited) or more".to_owned(),
        ));
    }
    let updated = diesel::update(tenants::table.filter(tenants::id.eq(id)))
        .set(tenants::rate_limit.eq(per_second))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    get(conn, id)
}

#[cfg(test)]
mod tests {
    use super::validate_slug;

    #[test]
    fn slug_rules() {
        for good in ["a", "acme", "acme-2", "0", &"a".repeat(63)] {
            assert!(validate_slug(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Acme",
            "ac me",
            "acme_2",
            "-acme",
            "acme-",
            "émile",
            &"a".repeat(64),
        ] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}

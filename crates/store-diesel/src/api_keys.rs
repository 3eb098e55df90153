//! Tenant API keys: bearer keys that open one tenant's events feed and
//! webhook management (never its SCIM API, never another tenant). A key is
//! shown once, when created; the database keeps only its SHA-256 (hex).
//!
//! Key format: `sk_<64 hex characters>`; the hash covers the whole key and is
//! the lookup (a unique index), so checking a key is one indexed read.

use crate::single::SingleRow as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::schema::tenant_api_keys;
use crate::time::{from_db, to_db};
use crate::{DbConnection, StoreError, hex};

/// What every key starts with.
pub const PREFIX: &str = "sk_";

/// A stored key (without the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The tenant.
    pub tenant_id: String,
    /// Its id (a UUID).
    pub id: String,
    /// A label chosen by the operator.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A freshly created key: `key` is the secret, show it once (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedKey {
    /// The stored part.
    pub record: ApiKey,
    /// The bearer value.
    pub key: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("record", &self.record)
            .field("key", &"***")
            .finish()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenant_api_keys)]
struct KeyRow {
    tenant_id: String,
    id: String,
    name: String,
    created_at: NaiveDateTime,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            tenant_id: r.tenant_id,
            id: r.id,
            name: r.name,
            created_at: from_db(r.created_at),
        }
    }
}

fn hash(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes()))
}

/// Creates a key for the tenant.
///
/// # Errors
/// [`StoreError::MissingReference`] for an unknown tenant; database errors.
pub fn create(
    conn: &mut DbConnection,
    tenant_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<CreatedKey, StoreError> {
    let key = format!("{PREFIX}{}", hex::encode(&rand::random::<[u8; 32]>()));
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(tenant_api_keys::table)
        .values((
            tenant_api_keys::tenant_id.eq(tenant_id),
            tenant_api_keys::id.eq(&id),
            tenant_api_keys::name.eq(name),
            tenant_api_keys::key_hash.eq(hash(&key)),
            tenant_api_keys::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    let record = tenant_api_keys::table
        .find((tenant_id, &id))
        .select(KeyRow::as_select())
        .single(conn)?
        .into();
    Ok(CreatedKey { record, key })
}

/// The tenant's keys, oldest first.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConnection, tenant_id: &str) -> Result<Vec<ApiKey>, StoreError> {
    Ok(tenant_api_keys::table
        .filter(tenant_api_keys::tenant_id.eq(tenant_id))
        .order((tenant_api_keys::created_at.asc(), tenant_api_keys::id.asc()))
        .select(KeyRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Revokes (deletes) a key; it stops working at once on every replica.
///
/// # Errors
/// [`StoreError::NotFound`]; database errors.
pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    let n = diesel::delete(tenant_api_keys::table.find((tenant_id, id))).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The id of the tenant's key equal to `presented`, if any.
///
/// # Errors
/// Database errors.
pub fn verify(
    conn: &mut DbConnection,
    tenant_id: &str,
    presented: &str,
) -> Result<Option<String>, StoreError> {
    if !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    let h = hash(presented);
    let found: Option<(String, String)> = tenant_api_keys::table
        .filter(tenant_api_keys::key_hash.eq(&h))
        .filter(tenant_api_keys::tenant_id.eq(tenant_id))
        .select((tenant_api_keys::id, tenant_api_keys::key_hash))
        .single(conn)
        .optional()?;
    Ok(found
        .filter(|(_, stored)| bool::from(stored.as_bytes().ct_eq(h.as_bytes())))
        .map(|(id, _)| id))
}

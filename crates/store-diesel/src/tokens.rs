//! SCIM bearer tokens. A token is shown once, when issued; the database keeps
//! only its SHA-256 (hex). Issuing a token revokes every earlier live token of
//! the tenant in the same transaction, and a partial unique index
//! (`scim_tokens_one_live_uq`) guarantees at most one live token per tenant.
//!
//! Token format: `<token_id>.<secret>` (32 + 64 hex characters). The id locates
//! the row in one indexed lookup; the hash covers the whole token.

use crate::single::SingleRow as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::schema::scim_tokens;
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError, hex, write_transaction};

/// A freshly issued token. `token` is the secret bearer value: show it once,
/// never log it (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's id (also its first part).
    pub token_id: String,
    /// The full bearer token, `<token_id>.<secret>`.
    pub token: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token_id", &self.token_id)
            .field("token", &"***")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A stored token: its hash and whether it still opens the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's id.
    pub token_id: String,
    /// Hex SHA-256 of the full token.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; `None` while live.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = scim_tokens)]
struct TokenRow {
    token_id: String,
    token_hash: String,
    created_at: chrono::NaiveDateTime,
    revoked_at: Option<chrono::NaiveDateTime>,
}

impl From<TokenRow> for TokenRecord {
    fn from(row: TokenRow) -> Self {
        Self {
            token_id: row.token_id,
            token_hash: row.token_hash,
            created_at: from_db(row.created_at),
            revoked_at: row.revoked_at.map(from_db),
        }
    }
}

/// Hex SHA-256 of a presented token: what the database stores.
pub fn hash_token(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes()))
}

/// The id part of a presented token, if it has the `<id>.<secret>` shape.
pub fn token_id_of(token: &str) -> Option<&str> {
    token
        .split_once('.')
        .map(|(id, _)| id)
        .filter(|id| !id.is_empty())
}

/// Issues a new token for the tenant and revokes every earlier live one, in
/// one transaction (a savepoint if the caller already opened one).
///
/// Two concurrent issuances for one tenant cannot both leave a live token: the
/// loser fails with [`StoreError::Conflict`] (`"live SCIM token"`) and may retry.
///
/// # Errors
/// [`StoreError::MissingReference`] when the tenant does not exist.
pub fn issue(conn: &mut DbConnection, tenant_id: &str) -> Result<IssuedToken, StoreError> {
    issue_with(conn, tenant_id, |token_id, _| {
        let secret = hex::encode(&rand::random::<[u8; 32]>());
        Ok::<_, std::convert::Infallible>(format!("{token_id}.{secret}"))
    })
}

/// Like [`issue`], but the caller makes the bearer value from the new token id
/// (the HTTP layer signs a JWT that carries it). Only the value's SHA-256 is
/// stored; every earlier live token of the tenant is revoked in the same
/// transaction.
///
/// # Errors
/// As [`issue`]; `make` failing is [`StoreError::Other`].
pub fn issue_with<E>(
    conn: &mut DbConnection,
    tenant_id: &str,
    make: impl FnOnce(&str, DateTime<Utc>) -> Result<String, E>,
) -> Result<IssuedToken, StoreError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    issue_signed(conn, tenant_id, None, make)
}

/// [`issue_with`], recording the id of the server key that signs the value
/// (see [`live_signing_keys`]).
///
/// # Errors
/// As [`issue_with`].
pub fn issue_signed<E>(
    conn: &mut DbConnection,
    tenant_id: &str,
    signing_key_id: Option<&str>,
    make: impl FnOnce(&str, DateTime<Utc>) -> Result<String, E>,
) -> Result<IssuedToken, StoreError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let token_id = uuid::Uuid::new_v4().simple().to_string();
    let created_at = now();
    let token = make(&token_id, created_at).map_err(StoreError::other)?;
    let issued = IssuedToken {
        token,
        token_id,
        created_at,
    };
    write_transaction(conn, |conn| {
        diesel::update(
            scim_tokens::table
                .filter(scim_tokens::tenant_id.eq(tenant_id))
                .filter(scim_tokens::revoked_at.is_null()),
        )
        .set(scim_tokens::revoked_at.eq(Some(to_db(issued.created_at))))
        .execute(conn)?;
        diesel::insert_into(scim_tokens::table)
            .values((
                scim_tokens::tenant_id.eq(tenant_id),
                scim_tokens::token_id.eq(&issued.token_id),
                scim_tokens::token_hash.eq(hash_token(&issued.token)),
                scim_tokens::created_at.eq(to_db(issued.created_at)),
                scim_tokens::signing_key_id.eq(signing_key_id),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(issued)
}

/// A tenant's live Secret Token and the server key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTokenKey {
    /// The tenant's id.
    pub tenant_id: String,
    /// The tenant's slug.
    pub slug: String,
    /// The signing key's id (`None`: issued before key ids were recorded
    /// and not yet filled in by [`fill_signing_key_id`]).
    pub signing_key_id: Option<String>,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
}

/// Every tenant's live Secret Token with its signing key id, by slug.
///
/// # Errors
/// Database errors.
pub fn live_signing_keys(conn: &mut DbConnection) -> Result<Vec<LiveTokenKey>, StoreError> {
    use crate::schema::tenants;
    let rows: Vec<(String, String, Option<String>, chrono::NaiveDateTime)> = tenants::table
        .inner_join(scim_tokens::table.on(scim_tokens::tenant_id.eq(tenants::id)))
        .filter(scim_tokens::revoked_at.is_null())
        .order(tenants::slug.asc())
        .select((
            tenants::id,
            tenants::slug,
            scim_tokens::signing_key_id,
            scim_tokens::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(tenant_id, slug, signing_key_id, created_at)| LiveTokenKey {
                tenant_id,
                slug,
                signing_key_id,
                created_at: from_db(created_at),
            },
        )
        .collect())
}

/// Records `signing_key_id` on every token issued before key ids were
/// recorded (run by `serve` with the key it last started with, which signed
/// them all); returns how many rows changed.
///
/// # Errors
/// Database errors.
pub fn fill_signing_key_id(
    conn: &mut DbConnection,
    signing_key_id: &str,
) -> Result<usize, StoreError> {
    Ok(
        diesel::update(scim_tokens::table.filter(scim_tokens::signing_key_id.is_null()))
            .set(scim_tokens::signing_key_id.eq(signing_key_id))
            .execute(conn)?,
    )
}

/// Whether `presented` is the live token `token_id` of the tenant (the id comes
/// from the token's signed claims): one indexed lookup, then a constant-time
/// comparison of the hashes. Unknown and revoked tokens are `false`.
///
/// # Errors
/// Database errors only.
pub fn verify_id(
    conn: &mut DbConnection,
    tenant_id: &str,
    token_id: &str,
    presented: &str,
) -> Result<bool, StoreError> {
    let record = match get(conn, tenant_id, token_id) {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Ok(false),
        Err(err) => return Err(err),
    };
    let matches: bool = hash_token(presented)
        .as_bytes()
        .ct_eq(record.token_hash.as_bytes())
        .into();
    Ok(matches && record.revoked_at.is_none())
}

/// Revokes every live token of the tenant; returns how many were live.
///
/// # Errors
/// Database errors.
pub fn revoke_all(conn: &mut DbConnection, tenant_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(tenant_id))
            .filter(scim_tokens::revoked_at.is_null()),
    )
    .set(scim_tokens::revoked_at.eq(Some(to_db(now()))))
    .execute(conn)?)
}

/// The stored token `(tenant, token_id)`, live or revoked.
///
/// # Errors
/// [`StoreError::NotFound`].
pub fn get(
    conn: &mut DbConnection,
    tenant_id: &str,
    token_id: &str,
) -> Result<TokenRecord, StoreError> {
    Ok(scim_tokens::table
        .filter(scim_tokens::tenant_id.eq(tenant_id))
        .filter(scim_tokens::token_id.eq(token_id))
        .select(TokenRow::as_select())
        .single(conn)?
        .into())
}

/// The tenant's live token, if one was issued and not revoked.
///
/// # Errors
/// Database errors.
pub fn live(conn: &mut DbConnection, tenant_id: &str) -> Result<Option<TokenRecord>, StoreError> {
    Ok(scim_tokens::table
        .filter(scim_tokens::tenant_id.eq(tenant_id))
        .filter(scim_tokens::revoked_at.is_null())
        .select(TokenRow::as_select())
        .single(conn)
        .optional()?
        .map(TokenRecord::from))
}

/// Whether `presented` is the tenant's live token: one indexed lookup by the
/// token's id, then a constant-time comparison of the hashes. Malformed,
/// unknown and revoked tokens are all simply `false`.
///
/// # Errors
/// Database errors only.
pub fn verify(
    conn: &mut DbConnection,
    tenant_id: &str,
    presented: &str,
) -> Result<bool, StoreError> {
    let Some(token_id) = token_id_of(presented) else {
        return Ok(false);
    };
    let record = match get(conn, tenant_id, token_id) {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Ok(false),
        Err(err) => return Err(err),
    };
    let matches: bool = hash_token(presented)
        .as_bytes()
        .ct_eq(record.token_hash.as_bytes())
        .into();
    Ok(matches && record.revoked_at.is_none())
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_shape() {
        assert_eq!(super::token_id_of("abc.def"), Some("abc"));
        assert_eq!(super::token_id_of(".def"), None);
        assert_eq!(super::token_id_of("nodot"), None);
        assert_eq!(
            super::hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

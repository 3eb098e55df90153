//! OAuth 2.0 clients (client credentials, RFC 6749 §4.4): at most one per
//! tenant, and the tenant's "OAuth only" flag.
//!
//! A client has an id, `<tenant_id>.<random>`, so the token endpoint, which
//! knows only the client id, finds the row by its primary key `(tenant_id)`;
//! and a secret shown once, of which the table keeps the hex SHA-256.
//! Rotation ([`create_or_rotate`] on an existing client) keeps the client id,
//! replaces the secret, keeps the replaced one valid for a grace period the
//! caller chooses (zero: it dies at once) and bumps the client's
//! **generation**.
//!
//! Access tokens carry the client id and the generation of the secret that
//! obtained them (the current generation, or the previous one while its grace
//! period lasts). [`access_token_is_current`] checks, in one primary-key
//! lookup, that such a token still names the tenant's client as it is now:
//! rotation refuses tokens of older generations (once the grace period of the
//! replaced secret is over), deletion refuses every token, and a client
//! created after a deletion has a new id, so earlier tokens never revive.
//!
//! Secrets are compared through their hashes in constant time (`subtle`).
//!
//! [`use_assertion_id`] makes each `private_key_jwt` client assertion (RFC
//! 7523) work once, by its `jti`, until it expires.

use crate::single::SingleRow as _;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::macros::db_run;
use crate::schema::{oauth_assertion_ids, oauth_clients, tenants};
use crate::time::{from_db, now, to_db};
use crate::{DbConnection, StoreError, hex, write_transaction};

/// The longest grace period a rotated secret may keep (30 days).
pub const MAX_GRACE: TimeDelta = TimeDelta::days(30);

/// A tenant's OAuth client as stored (hashes only, never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The tenant's id.
    pub tenant_id: String,
    /// The client id, `<tenant_id>.<32 hex>`.
    pub client_id: String,
    /// Hex SHA-256 of the current secret.
    pub secret_hash: String,
    /// Hex SHA-256 of the secret replaced by the last rotation, while it is
    /// kept (see `previous_secret_expires_at`).
    pub previous_secret_hash: Option<String>,
    /// Until when the replaced secret still authenticates.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// 1 at creation, bumped by every rotation.
    pub generation: i64,
    /// Registered public keys for `private_key_jwt`, a JWK Set as JSON text.
    pub jwks: Option<String>,
    /// When the client was created.
    pub created_at: DateTime<Utc>,
    /// When its secret was last rotated.
    pub rotated_at: Option<DateTime<Utc>>,
}

impl OAuthClient {
    /// Whether the replaced secret (generation `generation - 1`) is still
    /// accepted at `now`.
    pub fn previous_secret_live(&self, now: DateTime<Utc>) -> bool {
        self.previous_secret_hash.is_some()
            && self.previous_secret_expires_at.is_some_and(|t| t > now)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
struct ClientRow {
    tenant_id: String,
    client_id: String,
    secret_hash: String,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<chrono::NaiveDateTime>,
    generation: i64,
    jwks: Option<String>,
    created_at: chrono::NaiveDateTime,
    rotated_at: Option<chrono::NaiveDateTime>,
}

impl From<ClientRow> for OAuthClient {
    fn from(row: ClientRow) -> Self {
        Self {
            tenant_id: row.tenant_id,
            client_id: row.client_id,
            secret_hash: row.secret_hash,
            previous_secret_hash: row.previous_secret_hash,
            previous_secret_expires_at: row.previous_secret_expires_at.map(from_db),
            generation: row.generation,
            jwks: row.jwks,
            created_at: from_db(row.created_at),
            rotated_at: row.rotated_at.map(from_db),
        }
    }
}

/// A freshly issued client secret: show `client_secret` once, never log it
/// (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedClientSecret {
    /// The client id (unchanged by a rotation).
    pub client_id: String,
    /// The new secret (64 hex characters).
    pub client_secret: String,
    /// The generation the new secret obtains tokens for.
    pub generation: i64,
    /// `true` when the client was created, `false` when its secret was rotated.
    pub created: bool,
    /// When the secret was issued.
    pub issued_at: DateTime<Utc>,
    /// After a rotation with a grace period: until when the replaced secret
    /// (and the access tokens it obtained) still works.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for IssuedClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedClientSecret")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("generation", &self.generation)
            .field("created", &self.created)
            .field("issued_at", &self.issued_at)
            .field(
                "previous_secret_expires_at",
                &self.previous_secret_expires_at,
            )
            .finish()
    }
}

/// A client that authenticated at the token endpoint: the generation the
/// access token must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    /// The tenant's id.
    pub tenant_id: String,
    /// The client id.
    pub client_id: String,
    /// The generation of the secret that authenticated (the current one, or
    /// the previous one during its grace period).
    pub generation: i64,
}

/// Hex SHA-256 of a client secret: what the table stores.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes()))
}

fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The tenant id a client id names (its part before the first `.`), if it
/// has the `<tenant_id>.<random>` shape.
pub fn tenant_of_client_id(client_id: &str) -> Option<&str> {
    client_id
        .split_once('.')
        .map(|(tenant, _)| tenant)
        .filter(|t| !t.is_empty() && !t.contains('\0'))
}

/// The tenant's OAuth client, if it has one.
///
/// # Errors
/// Database errors.
pub fn get(conn: &mut DbConnection, tenant_id: &str) -> Result<Option<OAuthClient>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id))
        .select(ClientRow::as_select())
        .single(conn)
        .optional()?
        .map(OAuthClient::from))
}

/// The client with this id: one primary-key lookup on the tenant the id
/// names. Unknown and malformed ids are `None`.
///
/// # Errors
/// Database errors.
pub fn find_by_client_id(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Option<OAuthClient>, StoreError> {
    let Some(tenant_id) = tenant_of_client_id(client_id) else {
        return Ok(None);
    };
    Ok(get(conn, tenant_id)?.filter(|c| hashes_equal(&c.client_id, client_id)))
}

/// Creates the tenant's OAuth client, or rotates its secret when it has one.
///
/// On rotation the client id stays, the replaced secret stays valid for
/// `grace` (zero or negative: not at all; at most [`MAX_GRACE`]) and the
/// generation is bumped, so access tokens obtained with the replaced secret
/// stop working when its grace period ends and tokens of older generations at
/// once. A secret replaced earlier (still in its own grace period) dies now.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a grace period over [`MAX_GRACE`];
/// [`StoreError::MissingReference`] when the tenant does not exist;
/// [`StoreError::Conflict`] (`"OAuth client"`) when a concurrent request
/// created or rotated the client first (retry).
pub fn create_or_rotate(
    conn: &mut DbConnection,
    tenant_id: &str,
    grace: TimeDelta,
) -> Result<IssuedClientSecret, StoreError> {
    if grace > MAX_GRACE {
        return Err(StoreError::InvalidInput(format!(
            "the grace period may be at most {} seconds",
            MAX_GRACE.num_seconds()
        )));
    }
    let secret = hex::encode(&rand::random::<[u8; 32]>());
    let secret_hash = hash_secret(&secret);
    let issued_at = now();
    let conflict = |e: StoreError| match e {
        StoreError::Conflict { .. } => StoreError::Conflict {
            what: "OAuth client".to_owned(),
        },
        other => other,
    };
    write_transaction(conn, |conn| match get(conn, tenant_id)? {
        None => {
            let client_id = format!("{tenant_id}.{}", hex::encode(&rand::random::<[u8; 16]>()));
            diesel::insert_into(oauth_clients::table)
                .values((
                    oauth_clients::tenant_id.eq(tenant_id),
                    oauth_clients::client_id.eq(&client_id),
                    oauth_clients::secret_hash.eq(&secret_hash),
                    oauth_clients::generation.eq(1_i64),
                    oauth_clients::created_at.eq(to_db(issued_at)),
                ))
                .execute(conn)
                .map_err(|e| conflict(e.into()))?;
            Ok(IssuedClientSecret {
                client_id,
                client_secret: secret.clone(),
                generation: 1,
                created: true,
                issued_at,
                previous_secret_expires_at: None,
            })
        }
        Some(current) => {
            let previous_expires =
                (grace > TimeDelta::zero()).then(|| crate::time::truncate(issued_at + grace));
            let previous_hash = previous_expires.map(|_| current.secret_hash.clone());
            let generation = current.generation + 1;
            let updated = diesel::update(
                oauth_clients::table
                    .filter(oauth_clients::tenant_id.eq(tenant_id))
                    .filter(oauth_clients::generation.eq(current.generation)),
            )
            .set((
                oauth_clients::secret_hash.eq(&secret_hash),
                oauth_clients::previous_secret_hash.eq(previous_hash),
                oauth_clients::previous_secret_expires_at.eq(previous_expires.map(to_db)),
                oauth_clients::generation.eq(generation),
                oauth_clients::rotated_at.eq(Some(to_db(issued_at))),
            ))
            .execute(conn)?;
            if updated != 1 {
                return Err(conflict(StoreError::Conflict {
                    what: String::new(),
                }));
            }
            Ok(IssuedClientSecret {
                client_id: current.client_id,
                client_secret: secret.clone(),
                generation,
                created: false,
                issued_at,
                previous_secret_expires_at: previous_expires,
            })
        }
    })
}

/// Deletes the tenant's OAuth client: its secrets and every access token it
/// obtained stop working at once. Returns the deleted client, if there was one.
///
/// # Errors
/// Database errors.
pub fn delete(conn: &mut DbConnection, tenant_id: &str) -> Result<Option<OAuthClient>, StoreError> {
    write_transaction(conn, |conn| {
        let client = get(conn, tenant_id)?;
        if client.is_some() {
            diesel::delete(oauth_clients::table.filter(oauth_clients::tenant_id.eq(tenant_id)))
                .execute(conn)?;
        }
        Ok(client)
    })
}

/// Registers (or, with `None`, removes) the client's public keys for
/// `private_key_jwt`, a JWK Set as JSON text (validated by the caller).
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no client.
pub fn set_jwks(
    conn: &mut DbConnection,
    tenant_id: &str,
    jwks: Option<&str>,
) -> Result<(), StoreError> {
    let n = diesel::update(oauth_clients::table.filter(oauth_clients::tenant_id.eq(tenant_id)))
        .set(oauth_clients::jwks.eq(jwks))
        .execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Checks a client secret presented at the token endpoint: one primary-key
/// lookup, then constant-time comparisons with the current secret and, during
/// its grace period, the replaced one. Unknown clients and wrong secrets are
/// `None`.
///
/// # Errors
/// Database errors only.
pub fn authenticate_secret(
    conn: &mut DbConnection,
    client_id: &str,
    secret: &str,
    at: DateTime<Utc>,
) -> Result<Option<AuthenticatedClient>, StoreError> {
    let Some(client) = find_by_client_id(conn, client_id)? else {
        return Ok(None);
    };
    let presented = hash_secret(secret);
    let current = hashes_equal(&presented, &client.secret_hash);
    let previous = client
        .previous_secret_hash
        .as_deref()
        .is_some_and(|h| hashes_equal(&presented, h))
        && client.previous_secret_live(at);
    let generation = if current {
        client.generation
    } else if previous {
        client.generation - 1
    } else {
        return Ok(None);
    };
    Ok(Some(AuthenticatedClient {
        tenant_id: client.tenant_id,
        client_id: client.client_id,
        generation,
    }))
}

/// The longest client-assertion id [`use_assertion_id`] accepts.
pub const MAX_ASSERTION_ID_LEN: usize = 200;

/// Records the `jti` of a verified `private_key_jwt` client assertion as used
/// until `expires_at` (the assertion's expiry), so the assertion works once:
/// `true` the first time, `false` for a replay (on every replica: the id is
/// the primary key `(tenant_id, jti)`, written with `ON CONFLICT DO NOTHING`).
/// The tenant's ids that expired before `now` are pruned first.
///
/// # Errors
/// [`StoreError::InvalidInput`] for an empty id, one longer than
/// [`MAX_ASSERTION_ID_LEN`] or one with a NUL; database errors.
pub fn use_assertion_id(
    conn: &mut DbConnection,
    tenant_id: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if jti.is_empty() || jti.len() > MAX_ASSERTION_ID_LEN || jti.contains('\0') {
        return Err(StoreError::InvalidInput(format!(
            "jti: expected 1 to {MAX_ASSERTION_ID_LEN} bytes without NUL"
        )));
    }
    write_transaction(conn, |conn| {
        diesel::delete(
            oauth_assertion_ids::table
                .filter(oauth_assertion_ids::tenant_id.eq(tenant_id))
                .filter(oauth_assertion_ids::expires_at.lt(to_db(now))),
        )
        .execute(conn)?;
        let expires_at = to_db(expires_at);
        let inserted = db_run!(conn => {
            diesel::insert_into(oauth_assertion_ids::table)
                .values((
                    oauth_assertion_ids::tenant_id.eq(tenant_id),
                    oauth_assertion_ids::jti.eq(jti),
                    oauth_assertion_ids::expires_at.eq(expires_at),
                ))
                .on_conflict((oauth_assertion_ids::tenant_id, oauth_assertion_ids::jti))
                .do_nothing()
                .execute(conn)?
        });
        Ok(inserted == 1)
    })
}

/// **For the SCIM authentication path.** Whether an access token whose
/// verified claims name `tenant_id`, `client_id` and `generation` still
/// belongs to the tenant's client as it is now: one primary-key lookup on
/// `oauth_clients (tenant_id)`. `true` when the client exists with that id and
/// either the token's generation is the current one, or it is the previous
/// one and the replaced secret's grace period has not ended at `at`.
///
/// # Errors
/// Database errors only.
pub fn access_token_is_current(
    conn: &mut DbConnection,
    tenant_id: &str,
    client_id: &str,
    generation: i64,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(client) = get(conn, tenant_id)? else {
        return Ok(false);
    };
    if !hashes_equal(&client.client_id, client_id) {
        return Ok(false);
    }
    Ok(generation == client.generation
        || (generation == client.generation - 1 && client.previous_secret_live(at)))
}

/// **For the SCIM authentication path.** Whether the tenant accepts only
/// OAuth access tokens (its Secret Token is refused): one primary-key lookup.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant.
pub fn oauth_only(conn: &mut DbConnection, tenant_id: &str) -> Result<bool, StoreError> {
    Ok(tenants::table
        .filter(tenants::id.eq(tenant_id))
        .select(tenants::oauth_only)
        .single(conn)?)
}

/// Sets the tenant's "OAuth only" flag.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown tenant.
pub fn set_oauth_only(
    conn: &mut DbConnection,
    tenant_id: &str,
    only: bool,
) -> Result<(), StoreError> {
    let n = diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)))
        .set(tenants::oauth_only.eq(only))
        .execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_ids_name_their_tenant() {
        assert_eq!(super::tenant_of_client_id("t-1.abc"), Some("t-1"));
        assert_eq!(super::tenant_of_client_id(".abc"), None);
        assert_eq!(super::tenant_of_client_id("abc"), None);
        assert_eq!(super::tenant_of_client_id("a\0.b"), None);
    }
}

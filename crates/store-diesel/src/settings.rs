//! Server-wide settings in the `server_settings` key/value table, chiefly the
//! JWT signing key: generated at first start and kept in the database so every
//! replica signs and verifies with the same key. This table is the one place
//! whose key does not start with `tenant_id`: the rows belong to no tenant.

use crate::single::SingleRow as _;
use diesel::prelude::*;

use crate::macros::db_run;
use crate::schema::server_settings;
use crate::time::{now, to_db};
use crate::{DbConnection, StoreError, hex};

/// The `server_settings` name of the JWT signing key (32 random bytes, hex).
pub const SIGNING_KEY: &str = "jwt_signing_key";

/// The `server_settings` name of the public base URL the server last started
/// with (`serve --public-url`): commands that print Tenant URLs use it when
/// they are not given one themselves.
pub const PUBLIC_URL: &str = "public_url";

/// The `server_settings` name of the fingerprint (never the key) of the
/// signing key the server last started with: a command that signs tokens with
/// another key is refused instead of issuing tokens the server rejects.
pub const SIGNING_KEY_FINGERPRINT: &str = "signing_key_fingerprint";

/// The setting that holds when `serve` first started with the signing key
/// `key_id` as its current key (RFC 3339): previous keys' grace periods
/// count from it.
pub fn signing_key_since(key_id: &str) -> String {
    format!("signing_key_since.{key_id}")
}

/// The value stored under `name`, if any.
///
/// # Errors
/// Database errors.
pub fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(server_settings::table
        .filter(server_settings::name.eq(name))
        .select(server_settings::value)
        .single(conn)
        .optional()?)
}

/// Stores `value` under `name` unless a value is already there, and returns
/// the value that is stored afterwards: race-safe across replicas
/// (`INSERT … ON CONFLICT DO NOTHING`, then read back), so concurrent callers
/// all get the first writer's value.
///
/// # Errors
/// Database errors.
pub fn put_if_absent(
    conn: &mut DbConnection,
    name: &str,
    value: &str,
) -> Result<String, StoreError> {
    let created_at = to_db(now());
    db_run!(conn => {
        diesel::insert_into(server_settings::table)
            .values((
                server_settings::name.eq(name),
                server_settings::value.eq(value),
                server_settings::created_at.eq(created_at),
            ))
            .on_conflict(server_settings::name)
            .do_nothing()
            .execute(conn)?;
    });
    get(conn, name)?.ok_or(StoreError::NotFound)
}

/// Stores `value` under `name`, replacing what was there (the last writer wins).
///
/// # Errors
/// Database errors.
pub fn put(conn: &mut DbConnection, name: &str, value: &str) -> Result<(), StoreError> {
    let created_at = to_db(now());
    db_run!(conn => {
        diesel::insert_into(server_settings::table)
            .values((
                server_settings::name.eq(name),
                server_settings::value.eq(value),
                server_settings::created_at.eq(created_at),
            ))
            .on_conflict(server_settings::name)
            .do_update()
            .set((
                server_settings::value.eq(value),
                server_settings::created_at.eq(created_at),
            ))
            .execute(conn)?;
    });
    Ok(())
}

/// The signing key kept in the database, if the server ever generated one
/// (never creates it).
///
/// # Errors
/// Database errors, or [`StoreError::Other`] when the stored key is not hex.
pub fn stored_signing_key(conn: &mut DbConnection) -> Result<Option<Vec<u8>>, StoreError> {
    get(conn, SIGNING_KEY)?
        .map(|stored| {
            hex::decode(&stored)
                .ok_or_else(|| StoreError::other("the stored signing key is not hex"))
        })
        .transpose()
}

/// The server's JWT signing key (32 bytes), created on first use. Every replica
/// sharing the database gets the same key.
///
/// # Errors
/// Database errors, or [`StoreError::Other`] when the stored key is not hex.
pub fn get_or_create_signing_key(conn: &mut DbConnection) -> Result<Vec<u8>, StoreError> {
    let candidate = hex::encode(&rand::random::<[u8; 32]>());
    let stored = put_if_absent(conn, SIGNING_KEY, &candidate)?;
    hex::decode(&stored).ok_or_else(|| StoreError::other("the stored signing key is not hex"))
}

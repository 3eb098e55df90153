//! Cursors of RFC 9865 paging: opaque to clients, tamper-proof (HMAC-SHA256
//! under a key derived from the server key), bound to the tenant, the
//! resource type and the filter they were issued for, and valid for
//! [`CURSOR_TIMEOUT_SECS`].
//!
//! A cursor names the last resource of its page in the default order
//! (`meta.created`, then `id`); the next page starts strictly after it
//! (keyset paging), so resources created or deleted meanwhile never shift the
//! pages: a resource present throughout the walk is seen exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use ring::hmac;
use scim_model::ScimType;
use serde::{Deserialize, Serialize};
use store_diesel::Keyset;

use crate::ApiError;

/// Seconds a cursor stays valid (advertised as `cursorTimeout`).
pub const CURSOR_TIMEOUT_SECS: u32 = 3600;

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Tenant id.
    t: String,
    /// Resource type name.
    r: String,
    /// Hash of the filter (empty: none).
    f: String,
    /// `meta.created` of the last resource, microseconds since the epoch.
    c: i64,
    /// Its id.
    i: String,
    /// Expiry, seconds since the epoch.
    e: i64,
}

fn filter_hash(filter: Option<&scim_model::Filter>) -> String {
    match filter {
        None => String::new(),
        Some(f) => {
            let digest = ring::digest::digest(&ring::digest::SHA256, f.to_string().as_bytes());
            URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12])
        }
    }
}

fn invalid(why: &str) -> ApiError {
    ApiError::bad_request(
        ScimType::InvalidCursor,
        format!("cursor: {why}; start again with an empty cursor"),
    )
}

/// Issues the cursor of a page whose last resource is `last`.
pub(crate) fn issue(
    key: &hmac::Key,
    tenant_id: &str,
    resource_type: &str,
    filter: Option<&scim_model::Filter>,
    last: &Keyset,
    now: DateTime<Utc>,
) -> String {
    let payload = Payload {
        t: tenant_id.to_owned(),
        r: resource_type.to_owned(),
        f: filter_hash(filter),
        c: last.created.timestamp_micros(),
        i: last.id.clone(),
        e: now.timestamp() + i64::from(CURSOR_TIMEOUT_SECS),
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
    let tag = hmac::sign(key, body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]))
}

/// The position a cursor continues after, once its signature, tenant,
/// resource type, filter and expiry check out.
pub(crate) fn open(
    key: &hmac::Key,
    cursor: &str,
    tenant_id: &str,
    resource_type: &str,
    filter: Option<&scim_model::Filter>,
    now: DateTime<Utc>,
) -> Result<Keyset, ApiError> {
    let (body, tag) = cursor
        .split_once('.')
        .ok_or_else(|| invalid("not a cursor this server issued"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| invalid("not a cursor this server issued"))?;
    let expected = hmac::sign(key, body.as_bytes());
    let same: bool = subtle::ConstantTimeEq::ct_eq(tag.as_slice(), &expected.as_ref()[..16]).into();
    if tag.len() != 16 || !same {
        return Err(invalid("not a cursor this server issued, or altered"));
    }
    let payload: Payload = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or_else(|| invalid("not a cursor this server issued"))?;
    if payload.t != tenant_id || payload.r != resource_type {
        return Err(invalid("issued for another tenant or resource type"));
    }
    if payload.f != filter_hash(filter) {
        return Err(invalid(
            "issued for another filter: send the same filter on every page",
        ));
    }
    if payload.e < now.timestamp() {
        return Err(ApiError::bad_request(
            ScimType::ExpiredCursor,
            format!(
                "cursor: expired (cursors are valid for {CURSOR_TIMEOUT_SECS} s); start again with an empty cursor"
            ),
        ));
    }
    let created = Utc
        .timestamp_micros(payload.c)
        .single()
        .ok_or_else(|| invalid("not a cursor this server issued"))?;
    Ok(Keyset {
        created,
        id: payload.i,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"test key")
    }

    #[test]
    fn a_cursor_opens_only_for_its_tenant_type_filter_and_time() -> Result<(), ApiError> {
        let now = Utc::now();
        let last = Keyset {
            created: Utc
                .timestamp_micros(1_700_000_000_123_456)
                .single()
                .unwrap_or(now),
            id: "u1".to_owned(),
        };
        let f = scim_model::parse_filter("userName sw \"a\"").ok();
        let c = issue(&key(), "t1", "User", f.as_ref(), &last, now);
        assert_eq!(open(&key(), &c, "t1", "User", f.as_ref(), now)?, last);
        let err = |r: Result<Keyset, ApiError>| match r {
            Err(ApiError::Scim(e)) => e.scim_type,
            _ => None,
        };
        assert_eq!(
            err(open(&key(), &c, "t2", "User", f.as_ref(), now)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            err(open(&key(), &c, "t1", "Group", f.as_ref(), now)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            err(open(&key(), &c, "t1", "User", None, now)),
            Some(ScimType::InvalidCursor)
        );
        let later = now + chrono::TimeDelta::seconds(i64::from(CURSOR_TIMEOUT_SECS) + 1);
        assert_eq!(
            err(open(&key(), &c, "t1", "User", f.as_ref(), later)),
            Some(ScimType::ExpiredCursor)
        );
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"other key");
        assert_eq!(
            err(open(&other, &c, "t1", "User", f.as_ref(), now)),
            Some(ScimType::InvalidCursor)
        );
        let mut altered = c.clone();
        altered.insert(3, 'A');
        assert_eq!(
            err(open(&key(), &altered, "t1", "User", f.as_ref(), now)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            err(open(&key(), "garbage", "t1", "User", None, now)),
            Some(ScimType::InvalidCursor)
        );
        Ok(())
    }
}

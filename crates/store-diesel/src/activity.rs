//! Provisioning activity: how many SCIM requests (and how many of them
//! failed) each tenant's directory sent, per time bucket, and its last
//! errors. Each replica counts in memory and adds its counts here every few
//! seconds ([`add`]): a bucket's row is the sum over all replicas.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::schema::{scim_activity, scim_activity_errors};
use crate::time::{from_db, to_db};
use crate::{DbConnection, StoreError};

/// The requests of one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the bucket, Unix seconds.
    pub bucket: i64,
    /// Requests in it.
    pub requests: i64,
    /// Of which failed (any non-2xx/3xx answer).
    pub errors: i64,
    /// Its first request.
    pub first_at: DateTime<Utc>,
    /// Its last request.
    pub last_at: DateTime<Utc>,
}

/// A failed SCIM request and the SCIM error it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// When it was answered.
    pub at: DateTime<Utc>,
    /// Method and path, e.g. `PATCH /scim/v2/acme/Users/…`.
    pub request: String,
    /// The HTTP status.
    pub status: i32,
    /// The SCIM `scimType`, if any.
    pub scim_type: Option<String>,
    /// The SCIM `detail` (for a refused token: why).
    pub detail: String,
}

#[derive(Queryable)]
struct BucketRow {
    bucket: i64,
    requests: i64,
    errors: i64,
    first_at: chrono::NaiveDateTime,
    last_at: chrono::NaiveDateTime,
}

/// Adds a replica's counts to the tenant's buckets (creating them), records
/// its errors keeping the newest `keep_errors`, and drops buckets older than
/// `prune_before` (Unix seconds). One statement per bucket: a replica calls
/// this every few seconds per tenant, not per request.
///
/// # Errors
/// Database errors (an unknown tenant violates the foreign key).
pub fn add(
    conn: &mut DbConnection,
    tenant_id: &str,
    buckets: &[Bucket],
    errors: &[RequestError],
    keep_errors: i64,
    prune_before: i64,
) -> Result<(), StoreError> {
    for b in buckets {
        let (first, last) = (to_db(b.first_at), to_db(b.last_at));
        match conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => diesel::sql_query(
                "INSERT INTO scim_activity (tenant_id, bucket, requests, errors, first_at, last_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, bucket) DO UPDATE SET \
                 requests = scim_activity.requests + excluded.requests, \
                 errors = scim_activity.errors + excluded.errors, \
                 first_at = LEAST(scim_activity.first_at, excluded.first_at), \
                 last_at = GREATEST(scim_activity.last_at, excluded.last_at)",
            )
            .bind::<Text, _>(tenant_id)
            .bind::<BigInt, _>(b.bucket)
            .bind::<BigInt, _>(b.requests)
            .bind::<BigInt, _>(b.errors)
            .bind::<Timestamp, _>(first)
            .bind::<Timestamp, _>(last)
            .execute(c)?,
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => diesel::sql_query(
                "INSERT INTO scim_activity (tenant_id, bucket, requests, errors, first_at, last_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, bucket) DO UPDATE SET \
                 requests = scim_activity.requests + excluded.requests, \
                 errors = scim_activity.errors + excluded.errors, \
                 first_at = MIN(scim_activity.first_at, excluded.first_at), \
                 last_at = MAX(scim_activity.last_at, excluded.last_at)",
            )
            .bind::<Text, _>(tenant_id)
            .bind::<BigInt, _>(b.bucket)
            .bind::<BigInt, _>(b.requests)
            .bind::<BigInt, _>(b.errors)
            .bind::<Timestamp, _>(first)
            .bind::<Timestamp, _>(last)
            .execute(c)?,
        };
    }
    diesel::delete(
        scim_activity::table
            .filter(scim_activity::tenant_id.eq(tenant_id))
            .filter(scim_activity::bucket.lt(prune_before)),
    )
    .execute(conn)?;
    if errors.is_empty() {
        return Ok(());
    }
    for e in errors {
        diesel::insert_into(scim_activity_errors::table)
            .values((
                scim_activity_errors::tenant_id.eq(tenant_id),
                scim_activity_errors::id.eq(uuid::Uuid::new_v4().to_string()),
                scim_activity_errors::at.eq(to_db(e.at)),
                scim_activity_errors::request.eq(&e.request),
                scim_activity_errors::status.eq(e.status),
                scim_activity_errors::scim_type.eq(e.scim_type.as_deref()),
                scim_activity_errors::detail.eq(&e.detail),
            ))
            .execute(conn)?;
    }
    // The oldest error still kept; older ones go.
    let cutoff = scim_activity_errors::table
        .filter(scim_activity_errors::tenant_id.eq(tenant_id))
        .order(scim_activity_errors::at.desc())
        .offset(keep_errors.max(1) - 1)
        .select(scim_activity_errors::at)
        .first::<chrono::NaiveDateTime>(conn)
        .optional()?;
    if let Some(cutoff) = cutoff {
        diesel::delete(
            scim_activity_errors::table
                .filter(scim_activity_errors::tenant_id.eq(tenant_id))
                .filter(scim_activity_errors::at.lt(cutoff)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The tenant's buckets starting at or after `since` (Unix seconds), newest
/// first.
///
/// # Errors
/// Database errors.
pub fn buckets_since(
    conn: &mut DbConnection,
    tenant_id: &str,
    since: i64,
) -> Result<Vec<Bucket>, StoreError> {
    let rows = scim_activity::table
        .filter(scim_activity::tenant_id.eq(tenant_id))
        .filter(scim_activity::bucket.ge(since))
        .order(scim_activity::bucket.desc())
        .select((
            scim_activity::bucket,
            scim_activity::requests,
            scim_activity::errors,
            scim_activity::first_at,
            scim_activity::last_at,
        ))
        .load::<BucketRow>(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Bucket {
            bucket: r.bucket,
            requests: r.requests,
            errors: r.errors,
            first_at: from_db(r.first_at),
            last_at: from_db(r.last_at),
        })
        .collect())
}

/// The tenant's newest `limit` errors, newest first.
///
/// # Errors
/// Database errors.
pub fn last_errors(
    conn: &mut DbConnection,
    tenant_id: &str,
    limit: i64,
) -> Result<Vec<RequestError>, StoreError> {
    let rows = scim_activity_errors::table
        .filter(scim_activity_errors::tenant_id.eq(tenant_id))
        .order((scim_activity_errors::at.desc(), scim_activity_errors::id))
        .limit(limit)
        .select((
            scim_activity_errors::at,
            scim_activity_errors::request,
            scim_activity_errors::status,
            scim_activity_errors::scim_type,
            scim_activity_errors::detail,
        ))
        .load::<(chrono::NaiveDateTime, String, i32, Option<String>, String)>(conn)?;
    Ok(rows
        .into_iter()
        .map(|(at, request, status, scim_type, detail)| RequestError {
            at: from_db(at),
            request,
            status,
            scim_type,
            detail,
        })
        .collect())
}

//! The admin API's user listing: the tenant's users, optionally of one product
//! status, in id order with a keyset cursor (`after` = the last id seen). Uses
//! the `(tenant_id, status)` index; no SCIM filter involved.

use diesel::prelude::*;

use crate::schema::users;
use crate::users::{UserRecord, UserRow, load_many};
use crate::{DbConnection, StoreError};

/// Up to `limit` users of the tenant with `id > after`, in id order, only
/// those whose `status` column equals `status` when given (`Staged`,
/// `Invited`, `Active`, `Suspended`).
///
/// # Errors
/// Database errors.
pub fn by_status(
    conn: &mut DbConnection,
    tenant_id: &str,
    status: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut query = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(users::status.eq(status.to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(users::id.gt(after.to_owned()));
    }
    let rows = query
        .order(users::id.asc())
        .limit(i64::from(limit))
        .select(UserRow::as_select())
        .load(conn)?;
    load_many(conn, rows)
}

//! What `scim-server status` reports per tenant, read from the tables the
//! server already writes: the audit log (the last SCIM write), invitations,
//! the outbox and webhook deliveries. Directory reads (Entra's Test
//! connection) are not in the audit log; every request, reads included, is
//! counted in [`crate::activity`] for the console's Provisioning activity page.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;

use crate::schema::{audit_log, invitations, outbox, webhook_deliveries, webhook_endpoints};
use crate::time::from_db;
use crate::{DbConnection, StoreError};

/// The audit actor of SCIM client writes.
const SCIM_ACTOR: &str = "scim";

/// One tenant's provisioning progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantStatus {
    /// When a SCIM client last changed something (audit log, actor `scim`).
    pub last_scim_write_at: Option<DateTime<Utc>>,
    /// Invitations waiting for an admin check-in.
    pub invitations_queued: i64,
    /// Released invitations whose email has not been handed to the relay yet.
    pub invitations_undelivered: i64,
    /// Invitations whose delivery failed: released and undelivered with an
    /// error recorded (being retried or given up), or in state `failed`.
    pub invitations_failed: i64,
    /// Outbox rows not done yet.
    pub outbox_pending: i64,
    /// When the oldest of them was written.
    pub outbox_oldest_pending_at: Option<DateTime<Utc>>,
    /// Webhook deliveries not done yet (all endpoints of the tenant).
    pub webhook_pending: i64,
    /// When the oldest of them was created (dispatched).
    pub webhook_oldest_pending_at: Option<DateTime<Utc>>,
    /// Endpoints marked `failing` (retried for too long; replay resumes).
    pub webhook_endpoints_failing: i64,
}

/// The tenant's [`TenantStatus`].
///
/// # Errors
/// Database errors.
pub fn of_tenant(conn: &mut DbConnection, tenant_id: &str) -> Result<TenantStatus, StoreError> {
    let last_scim_write_at = audit_log::table
        .filter(audit_log::tenant_id.eq(tenant_id))
        .filter(audit_log::actor.eq(SCIM_ACTOR))
        .select(max(audit_log::at))
        .first::<Option<chrono::NaiveDateTime>>(conn)?
        .map(from_db);
    let invitations_queued = invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::state.eq("queued"))
        .select(count_star())
        .first::<i64>(conn)?;
    let undelivered = || {
        invitations::table
            .filter(invitations::tenant_id.eq(tenant_id))
            .filter(invitations::state.eq("sent"))
            .filter(invitations::sent_at.is_null())
    };
    let invitations_undelivered = undelivered().select(count_star()).first::<i64>(conn)?;
    let failing = undelivered()
        .filter(invitations::last_error.is_not_null())
        .select(count_star())
        .first::<i64>(conn)?;
    let marked_failed = invitations::table
        .filter(invitations::tenant_id.eq(tenant_id))
        .filter(invitations::state.eq("failed"))
        .select(count_star())
        .first::<i64>(conn)?;
    let pending = || {
        outbox::table
            .filter(outbox::tenant_id.eq(tenant_id))
            .filter(outbox::done_at.is_null())
    };
    let outbox_pending = pending().select(count_star()).first::<i64>(conn)?;
    let outbox_oldest_pending_at = pending()
        .select(min(outbox::created_at))
        .first::<Option<chrono::NaiveDateTime>>(conn)?
        .map(from_db);
    let deliveries = || {
        webhook_deliveries::table
            .filter(webhook_deliveries::tenant_id.eq(tenant_id))
            .filter(webhook_deliveries::done_at.is_null())
    };
    let webhook_pending = deliveries().select(count_star()).first::<i64>(conn)?;
    let webhook_oldest_pending_at = deliveries()
        .select(min(webhook_deliveries::created_at))
        .first::<Option<chrono::NaiveDateTime>>(conn)?
        .map(from_db);
    let webhook_endpoints_failing = webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id))
        .filter(webhook_endpoints::state.eq("failing"))
        .select(count_star())
        .first::<i64>(conn)?;
    Ok(TenantStatus {
        webhook_pending,
        webhook_oldest_pending_at,
        webhook_endpoints_failing,
        last_scim_write_at,
        invitations_queued,
        invitations_undelivered,
        invitations_failed: failing + marked_failed,
        outbox_pending,
        outbox_oldest_pending_at,
    })
}

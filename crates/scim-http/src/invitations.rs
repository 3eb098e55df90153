//! Glue between provisioning-core's lifecycle events and the `invitations`
//! and `outbox` tables, shared by SCIM writes, the admin API and activation.
//!
//! * [`record_events`]: after any transition, in the same transaction, mirror
//!   `invitationQueued` (a new row) and `invitationCancelled` (the row is
//!   cancelled) into the invitations table. SCIM writes call it next to their
//!   audit records.
//! * [`release`]: what an admin check-in does for one user whose invitation
//!   was released: the row becomes `sent` with the hash of its activation
//!   token, and an outbox row asks the mail worker to send it.
//! * [`record_failure`]: the mail worker could not deliver a released
//!   invitation (no address, a permanent SMTP refusal, retries exhausted):
//!   the row and the user's lifecycle say `failed` with the reason, audited
//!   and in the events feed, so the user can be invited again.
//! * [`store_lifecycle`]: writes a changed lifecycle back onto the user row
//!   (status columns, the SCIM document's read-only extension attributes).

use chrono::{DateTime, Utc};
use provisioning_core::{Event, LifecycleRecord, UserLifecycle};
use serde_json::json;
use store_diesel::invitations::{self as store_invitations, InvitationRecord};
use store_diesel::users::{self, UserRecord};
use store_diesel::{DbConnection, StoreError, audit, outbox, tenants};

use crate::auth::TokenKeys;

/// Mirrors the invitation events of one transition of `user_id` into the
/// invitations table: `invitationQueued` inserts the row (with its number and
/// trigger), `invitationCancelled` cancels it. Other events need no row
/// (`invitationReleased` is handled by [`release`], `invitationAccepted` by
/// activation). Call it in the transaction that stores the new lifecycle.
///
/// # Errors
/// Database errors.
pub fn record_events(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    events: &[Event],
) -> Result<(), StoreError> {
    for event in events {
        match event {
            Event::InvitationQueued {
                invitation,
                trigger,
                at,
            } => {
                let trigger = serde_json::to_value(trigger).map_err(StoreError::other)?;
                store_invitations::queue(
                    conn,
                    tenant_id,
                    user_id,
                    number(*invitation)?,
                    trigger.as_str().unwrap_or("explicit"),
                    *at,
                )?;
            }
            Event::InvitationCancelled { invitation, .. } => {
                store_invitations::cancel(conn, tenant_id, user_id, number(*invitation)?)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn number(n: u32) -> Result<i32, StoreError> {
    i32::try_from(n).map_err(|_| StoreError::InvalidInput(format!("invitation number {n}")))
}

/// Appends every event to the audit log as `lifecycle.<event>` by `actor`.
///
/// # Errors
/// Database errors.
pub fn audit_events(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    actor: &str,
    events: &[Event],
) -> Result<(), StoreError> {
    for event in events {
        let details = serde_json::to_value(event).map_err(StoreError::other)?;
        audit::append(
            conn,
            tenant_id,
            &audit::NewAuditRecord {
                actor,
                action: &format!("lifecycle.{}", event.name()),
                target_type: "User",
                target_id: Some(user_id),
                details: &details,
            },
        )?;
    }
    Ok(())
}

/// Releases invitation `number` of `user_id` (the lifecycle already said
/// `invitationReleased` at `at`, expiring at `expires_at`): the row becomes
/// `sent` with the hash of its activation token, and an outbox row
/// (`invitation.email`, payload `{invitationId, userId}`, no secret) asks the
/// mail worker to send it. Returns `None` when the row was not queued any
/// more (a concurrent check-in released it first): the caller must then not
/// store its lifecycle either.
///
/// # Errors
/// Database errors; a key that cannot sign.
pub fn release(
    conn: &mut DbConnection,
    keys: &TokenKeys,
    tenant_id: &str,
    user_id: &str,
    number: u32,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Option<InvitationRecord>, StoreError> {
    let n = self::number(number)?;
    let row = match store_invitations::find_by_number(conn, tenant_id, user_id, n)? {
        Some(row) => row,
        // A lifecycle whose queued invitation has no row yet (written before
        // rows were kept): record it now so it can be released.
        None => store_invitations::queue(conn, tenant_id, user_id, n, "explicit", at)?,
    };
    let token = keys
        .mint_activation(tenant_id, user_id, &row.id, at, expires_at)
        .map_err(StoreError::other)?;
    let hash = store_invitations::hash_secret(&token);
    let released =
        match store_invitations::release(conn, tenant_id, user_id, n, at, expires_at, &hash) {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
    outbox::push(
        conn,
        tenant_id,
        outbox::KIND_INVITATION_EMAIL,
        &json!({"invitationId": released.id, "userId": user_id}),
        at,
    )?;
    Ok(Some(released))
}

/// The audit actor of the mail worker.
pub const MAILER_ACTOR: &str = "system:mailer";

/// The email of the released invitation `invitation_id` cannot be delivered
/// (`reason`, which never contains the link): the invitation row becomes
/// `failed` with the reason, the user's lifecycle records the failure (so an
/// administrator can invite them again at once, and the admin API and the
/// console show it), and it is audited (`invitation.failed` and
/// `lifecycle.invitationFailed`, actor `system:mailer`) and appended to the
/// events feed (`user.invitation_failed`). Call it in the transaction that
/// gives up the outbox row. Returns `false` when the invitation is not
/// released-and-undelivered any more (used, cancelled, delivered, or gone):
/// nothing changed.
///
/// # Errors
/// Database errors; a stored lifecycle that does not parse.
pub fn record_failure(
    conn: &mut DbConnection,
    tenant_id: &str,
    invitation_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = match store_invitations::get(conn, tenant_id, invitation_id) {
        Ok(row) => row,
        Err(StoreError::NotFound) => return Ok(false),
        Err(e) => return Err(e),
    };
    if !store_invitations::mark_failed(conn, tenant_id, invitation_id, reason)? {
        return Ok(false);
    }
    audit::append(
        conn,
        tenant_id,
        &audit::NewAuditRecord {
            actor: MAILER_ACTOR,
            action: "invitation.failed",
            target_type: "User",
            target_id: Some(&row.user_id),
            details: &json!({
                "invitation": row.number,
                "invitationId": row.id,
                "reason": reason,
            }),
        },
    )?;
    let mut user = match users::get(conn, tenant_id, &row.user_id) {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Ok(true),
        Err(e) => return Err(e),
    };
    let mut lifecycle = lifecycle_of(&user)?;
    let number = u32::try_from(row.number).map_err(StoreError::other)?;
    let events = lifecycle.fail_invitation(number, reason, now);
    if events.is_empty() {
        return Ok(true);
    }
    store_lifecycle(conn, &mut user, &lifecycle, now)?;
    audit_events(conn, tenant_id, &user.id, MAILER_ACTOR, &events)?;
    let tenant = tenants::get(conn, tenant_id)?;
    store_diesel::events::append_all(
        conn,
        tenant_id,
        crate::change_events::lifecycle(crate::change_events::SYSTEM, &tenant, &user, &events, now),
    )?;
    Ok(true)
}

/// The user's lifecycle, checked.
///
/// # Errors
/// [`StoreError::Other`] for a stored lifecycle that does not parse or
/// breaks the invariants.
pub fn lifecycle_of(rec: &UserRecord) -> Result<UserLifecycle, StoreError> {
    let record: LifecycleRecord = serde_json::from_value(rec.lifecycle.clone())
        .map_err(|e| StoreError::other(format!("user {}: bad lifecycle: {e}", rec.id)))?;
    UserLifecycle::from_record(record)
        .map_err(|e| StoreError::other(format!("user {}: {e}", rec.id)))
}

/// Copies a changed lifecycle onto the user record: the status columns, the
/// lifecycle JSON, and the document's `active` and read-only extension
/// attributes (`status`, `mobileDeviceEnrolled`), through the one writer of
/// user records (every column is derived again from the document).
///
/// # Errors
/// [`StoreError::Other`] if the lifecycle does not serialise or the document
/// is not an object; [`StoreError::InvalidInput`] for a document without
/// `userName`.
pub fn apply_lifecycle(
    rec: &mut UserRecord,
    lifecycle: &UserLifecycle,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    *rec = crate::user_record::build_record(
        &rec.tenant_id,
        &rec.id,
        std::mem::take(&mut rec.document),
        lifecycle,
        rec.created_at,
        now,
        rec.version,
    )?;
    Ok(())
}

/// [`apply_lifecycle`] and write the user row, guarded by its version.
///
/// # Errors
/// [`StoreError::PreconditionFailed`] when another writer changed the user
/// since `rec` was read; database errors.
pub fn store_lifecycle(
    conn: &mut DbConnection,
    rec: &mut UserRecord,
    lifecycle: &UserLifecycle,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    apply_lifecycle(rec, lifecycle, now)?;
    rec.version = users::update(conn, rec, Some(rec.version))?;
    Ok(())
}

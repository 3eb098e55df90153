//! The change events a write produces (`docs/events.md`): built here from the
//! stored records and provisioning-core's lifecycle events, appended with
//! `store_diesel::events` in the same transaction as the change.
//!
//! SCIM writes collect theirs in the request's [`crate::request::Tx`] (a Bulk
//! operation that fails drops its own) and the request appends them once, just
//! before commit; admin writes and activation append theirs at the end of their
//! transaction.

use chrono::{DateTime, Utc};
use provisioning_core::Event;
use scim_model::schema::PROVISIONING_USER_URN;
use serde_json::{Value, json};
use store_diesel::events::NewEvent;
use store_diesel::groups::GroupRecord;
use store_diesel::tenants::Tenant;
use store_diesel::users::UserRecord;

use crate::user_record::overrides_of;
use crate::users::tenant_settings;

/// The identity provider, through the SCIM API (Bulk included).
pub(crate) const DIRECTORY: &str = "directory";
/// An operator or tenant administrator, through the admin API.
pub(crate) const ADMIN: &str = "admin";
/// The user, through their activation link.
#[cfg_attr(not(feature = "activation"), allow(dead_code))]
pub(crate) const ACTIVATION: &str = "activation";
/// The server itself (the mail worker giving up on an invitation).
pub(crate) const SYSTEM: &str = "system";

fn new(
    event_type: &str,
    actor: &str,
    resource_type: &str,
    resource_id: Option<&str>,
    now: DateTime<Utc>,
    data: Value,
) -> NewEvent {
    NewEvent {
        event_type: event_type.to_owned(),
        time: now,
        actor: actor.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.map(str::to_owned),
        data,
    }
}

/// What a consumer needs of a user: identity, status, `active` and the
/// effective settings with their sources.
pub(crate) fn user_data(tenant: &Tenant, rec: &UserRecord) -> Value {
    json!({
        "id": rec.id,
        "userName": rec.user_name,
        "externalId": rec.external_id,
        "status": rec.status,
        "active": rec.active,
        "mobileDeviceEnrolled": rec.mobile_device_enrolled,
        "effective": tenant_settings(tenant).effective_for_user(&overrides_of(&rec.document)),
    })
}

fn user_event(
    event_type: &str,
    actor: &str,
    tenant: &Tenant,
    rec: &UserRecord,
    now: DateTime<Utc>,
    extra: Value,
) -> NewEvent {
    let mut data = user_data(tenant, rec);
    if let (Some(obj), Value::Object(extra)) = (data.as_object_mut(), extra) {
        obj.extend(extra);
    }
    new(event_type, actor, "User", Some(&rec.id), now, data)
}

/// The feed's events for provisioning-core's lifecycle events of `rec` (its
/// state after them). Invitation bookkeeping the consumer does not act on
/// (held, accepted, device enrolled) is folded into the events that matter.
pub(crate) fn lifecycle(
    actor: &str,
    tenant: &Tenant,
    rec: &UserRecord,
    events: &[Event],
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    events
        .iter()
        .filter_map(|event| {
            let (event_type, extra) = match event {
                Event::UserProvisioned { .. } => ("user.provisioned", json!({})),
                Event::InvitationQueued {
                    invitation,
                    trigger,
                    ..
                } => (
                    "user.invitation_queued",
                    json!({"invitation": invitation, "trigger": trigger}),
                ),
                Event::InvitationReleased {
                    invitation,
                    expires_at,
                    ..
                } => (
                    "user.invited",
                    json!({"invitation": invitation, "expiresAt": expires_at}),
                ),
                Event::InvitationCancelled {
                    invitation, reason, ..
                } => (
                    "user.invitation_cancelled",
                    json!({"invitation": invitation, "reason": reason}),
                ),
                Event::InvitationFailed {
                    invitation, reason, ..
                } => (
                    "user.invitation_failed",
                    json!({"invitation": invitation, "reason": reason}),
                ),
                Event::UserActivated { .. } => ("user.activated", json!({})),
                Event::UserSuspended { previous, .. } => {
                    ("user.suspended", json!({"previousStatus": previous}))
                }
                Event::UserReactivated { .. } => ("user.reactivated", json!({})),
                Event::UserDeleted { previous, .. } => {
                    ("user.deleted", json!({"previousStatus": previous}))
                }
                Event::InvitationHeld { .. }
                | Event::InvitationAccepted { .. }
                | Event::MobileDeviceEnrolled { .. } => return None,
            };
            Some(user_event(event_type, actor, tenant, rec, now, extra))
        })
        .collect()
}

/// Top-level attribute names that a `user.updated` reports: what the client
/// changed, not what the server maintains (`active`, `status`,
/// `mobileDeviceEnrolled`, `meta`), which have their own events.
pub(crate) fn client_changes(before: &Value, after: &Value) -> Vec<String> {
    fn client_part(doc: &Value) -> Value {
        let mut doc = doc.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("active");
            obj.remove("meta");
            let empty = obj
                .get_mut(PROVISIONING_USER_URN)
                .and_then(Value::as_object_mut)
                .map(|ext| {
                    ext.remove("status");
                    ext.remove("mobileDeviceEnrolled");
                    ext.is_empty()
                });
            if empty == Some(true) {
                obj.remove(PROVISIONING_USER_URN);
            }
        }
        doc
    }
    crate::users::changed_attributes(&client_part(before), &client_part(after))
}

/// A directory write of a user: `user.updated` when client attributes
/// changed, then the lifecycle's events.
pub(crate) fn user_written(
    actor: &str,
    tenant: &Tenant,
    before: &UserRecord,
    rec: &UserRecord,
    events: &[Event],
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let changed = client_changes(&before.document, &rec.document);
    let mut out = Vec::new();
    if !changed.is_empty() {
        out.push(user_event(
            "user.updated",
            actor,
            tenant,
            rec,
            now,
            json!({"changed": changed}),
        ));
    }
    out.extend(lifecycle(actor, tenant, rec, events, now));
    out
}

/// What a consumer needs of a group.
pub(crate) fn group_data(tenant: &Tenant, rec: &GroupRecord) -> Value {
    json!({
        "id": rec.id,
        "displayName": rec.display_name,
        "externalId": rec.external_id,
        "effective": tenant_settings(tenant).effective_for_group(&crate::admin::people::group_settings(rec)),
    })
}

/// `group.<what>` with the group's data plus `extra`.
pub(crate) fn group_event(
    event_type: &str,
    actor: &str,
    tenant: &Tenant,
    rec: &GroupRecord,
    now: DateTime<Utc>,
    extra: Value,
) -> NewEvent {
    let mut data = group_data(tenant, rec);
    if let (Some(obj), Value::Object(extra)) = (data.as_object_mut(), extra) {
        obj.extend(extra);
    }
    new(event_type, actor, "Group", Some(&rec.id), now, data)
}

/// One `group.member_added` / `group.member_removed` per user.
pub(crate) fn membership(
    actor: &str,
    group_id: &str,
    added: &[String],
    removed: &[String],
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let one = |event_type: &str, user_id: &String| {
        new(
            event_type,
            actor,
            "Group",
            Some(group_id),
            now,
            json!({"groupId": group_id, "userId": user_id}),
        )
    };
    removed
        .iter()
        .map(|u| one("group.member_removed", u))
        .chain(added.iter().map(|u| one("group.member_added", u)))
        .collect()
}

/// `settings.changed` for a tenant default change: one event, with the new
/// defaults (every user and group without an override follows them).
pub(crate) fn tenant_settings_changed(tenant: &Tenant, now: DateTime<Utc>) -> NewEvent {
    let s = tenant_settings(tenant);
    new(
        "settings.changed",
        ADMIN,
        "Tenant",
        Some(&tenant.id),
        now,
        json!({
            "scope": "tenant",
            "tenant": tenant.slug,
            "settings": {
                "automaticInvitation": {"value": s.automatic_invitation, "source": "tenantDefault"},
                "requireMobileAuthForUsers": {"value": s.require_mobile_auth_for_users, "source": "tenantDefault"},
                "requireMobileAuthForGroups": {"value": s.require_mobile_auth_for_groups, "source": "tenantDefault"},
            },
        }),
    )
}

/// `settings.changed` for one user's overrides (the user's data carries the new
/// effective values and their sources).
pub(crate) fn user_settings_changed(
    tenant: &Tenant,
    rec: &UserRecord,
    now: DateTime<Utc>,
) -> NewEvent {
    user_event(
        "settings.changed",
        ADMIN,
        tenant,
        rec,
        now,
        json!({"scope": "user"}),
    )
}

/// `settings.changed` for one group's settings.
pub(crate) fn group_settings_changed(
    tenant: &Tenant,
    rec: &GroupRecord,
    now: DateTime<Utc>,
) -> NewEvent {
    group_event(
        "settings.changed",
        ADMIN,
        tenant,
        rec,
        now,
        json!({"scope": "group", "membersCanStoreData": rec.members_can_store_data}),
    )
}

/// `token.regenerated`: when, never the token.
pub(crate) fn token_regenerated(
    tenant: &Tenant,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> NewEvent {
    new(
        "token.regenerated",
        ADMIN,
        "Tenant",
        Some(&tenant.id),
        now,
        json!({"tenant": tenant.slug, "createdAt": created_at}),
    )
}

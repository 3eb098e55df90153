//! The one writer of a user's stored record: [`build_record`] derives every
//! column (userName, status, overrides, emails, ...) and the document's
//! read-only attributes from the client document and the lifecycle, so the
//! row and its document cannot disagree. SCIM writes, admin settings,
//! invitations and activation all store users through it.

use chrono::{DateTime, Utc};
use provisioning_core::{Override, UserLifecycle, UserOverrides};
use scim_model::resource::finish_output;
use scim_model::schema::{PROVISIONING_USER_URN, USER};
use serde_json::{Map, Value, json};
use store_diesel::StoreError;
use store_diesel::users::{Email, UserRecord};

/// A boolean in the provisioning extension of a normalized document.
fn ext_bool(doc: &Value, name: &str) -> Option<bool> {
    doc.get(PROVISIONING_USER_URN)?.get(name)?.as_bool()
}

pub(crate) fn overrides_of(doc: &Value) -> UserOverrides {
    UserOverrides {
        automatic_invitation: Override::from(ext_bool(doc, "automaticInvitation")),
        require_mobile_auth: Override::from(ext_bool(doc, "requireMobileAuth")),
    }
}

/// Builds the stored record from a normalized client document and the lifecycle:
/// the document gets `active` and the provisioning extension's read-only
/// attributes from the lifecycle, and `schemas`.
pub(crate) fn build_record(
    tenant_id: &str,
    id: &str,
    mut doc: Value,
    lifecycle: &UserLifecycle,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    version: i64,
) -> Result<UserRecord, StoreError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| StoreError::other("user document is not an object"))?;
    obj.remove("id");
    obj.remove("meta");
    obj.insert("active".into(), Value::Bool(lifecycle.scim_active()));
    let ext = obj
        .entry(PROVISIONING_USER_URN)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ext) = ext {
        ext.insert("status".into(), json!(lifecycle.status().as_str()));
        ext.insert(
            "mobileDeviceEnrolled".into(),
            json!(lifecycle.mobile_device_enrolled()),
        );
    }
    finish_output(&USER, &mut doc);
    let overrides = overrides_of(&doc);
    let user_name = doc
        .get("userName")
        .and_then(Value::as_str)
        .ok_or_else(|| StoreError::InvalidInput("'userName' is required".to_owned()))?
        .to_owned();
    let emails = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some(Email {
                        value: e.get("value")?.as_str()?.to_owned(),
                        email_type: e.get("type").and_then(Value::as_str).map(str::to_owned),
                        primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let record = lifecycle.to_record();
    Ok(UserRecord {
        tenant_id: tenant_id.to_owned(),
        id: id.to_owned(),
        user_name,
        external_id: doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        display_name: doc
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_owned),
        active: lifecycle.scim_active(),
        status: lifecycle.status().as_str().to_owned(),
        status_before_suspend: record.restore_to.map(|s| s.as_str().to_owned()),
        override_automatic_invitation: overrides.automatic_invitation.as_option(),
        override_require_mobile_auth: overrides.require_mobile_auth.as_option(),
        mobile_device_enrolled: lifecycle.mobile_device_enrolled(),
        mobile_device_name: lifecycle.mobile_device().map(|d| d.name.clone()),
        created_at,
        last_modified: now,
        version,
        document: doc,
        emails,
        lifecycle: serde_json::to_value(&record).map_err(StoreError::other)?,
    })
}

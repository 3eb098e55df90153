//! `POST /activate` `{token, mobileDevice?}`: the invitation email's link.
//!
//! The token is a JWT signed with the server key for the `activation`
//! audience, naming the tenant, the user and the invitation; the invitation
//! row keeps only its SHA-256. Activation checks, in one transaction: the
//! signature and expiry; the row found by the hash (unknown: 400), still
//! `sent` (used: 410, cancelled: 410) and the user's current invitation; then
//! provisioning-core's `activate` (mobile device required when mobile
//! authentication is in effect: 400 naming `mobileDevice`). The row is
//! accepted with a guarded update, so a link works once even under
//! concurrent requests. Any refusal changes nothing.
//!
//! `GET /activate?token=...` (where the email link lands) answers a small
//! HTML page telling the user to finish activation in the app; it changes
//! nothing.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use provisioning_core::{MobileDevice, Override, Rejection, UserOverrides};
use serde_json::{Value, json};
use store_diesel::invitations::{self, InvitationState};
use store_diesel::{StoreError, tenants, users};

use crate::ScimState;
use crate::admin::{AdminError, object_body, only_keys, tx};
use crate::auth::ActivationTokenError;
use crate::invitations::{audit_events, lifecycle_of, store_lifecycle};
use crate::users::tenant_settings;

/// The actor of activation records in the audit log.
pub const ACTIVATION_ACTOR: &str = "user:activation";

const INVALID: &str =
    "token: this activation link is not valid; use the link from the most recent invitation email";

/// Registers `POST /activate` and `GET /activate`.
pub fn configure_activation(cfg: &mut web::ServiceConfig) {
    configure_activation_at(cfg, "/activate");
}

/// Registers activation (`GET` and `POST`) at `path` (`""`: at the enclosing
/// scope's path). Needs `web::Data<ScimState>` and `web::Data<AdminConfig>`.
pub fn configure_activation_at(cfg: &mut web::ServiceConfig, path: &str) {
    cfg.service(
        web::resource(path)
            .route(web::post().to(activate))
            .route(web::get().to(landing)),
    );
}

async fn landing() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Activate your account</title></head>\
             <body><h1>Activate your account</h1><p>Open this link on the device where the app is installed \
             to finish activation. The app sends <code>POST /activate</code> with this link's token.</p></body></html>",
        )
}

fn mobile_device(map: &serde_json::Map<String, Value>) -> Result<Option<MobileDevice>, AdminError> {
    match map.get("mobileDevice") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(d)) => match d.get("name") {
            Some(Value::String(n))
                if !n.trim().is_empty() && n.chars().count() <= 200 && !n.contains('\0') =>
            {
                Ok(Some(MobileDevice::new(n.trim())))
            }
            _ => Err(AdminError::BadRequest(
                "mobileDevice.name: expected a non-empty string of at most 200 characters, without NUL"
                    .to_owned(),
            )),
        },
        Some(_) => Err(AdminError::BadRequest(
            "mobileDevice: expected an object such as {\"name\": \"Alice's phone\"}".to_owned(),
        )),
    }
}

async fn activate(
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["token", "mobileDevice"])?;
    let token = match map.get("token") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(AdminError::BadRequest(
                "token: required, the token of the activation link".to_owned(),
            ));
        }
    };
    let device = mobile_device(&map)?;
    let claims = state.keys.verify_activation(&token).map_err(|e| match e {
        ActivationTokenError::Expired => AdminError::Gone(
            "token: this activation link has expired; ask an administrator to invite you again"
                .to_owned(),
        ),
        ActivationTokenError::Invalid => AdminError::BadRequest(INVALID.to_owned()),
    })?;
    let hash = invitations::hash_secret(&token);
    let now = Utc::now();
    let result = tx(&state, move |c| {
        let tenant = match tenants::get(c, &claims.tid) {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Err(AdminError::BadRequest(INVALID.to_owned())),
            Err(e) => return Err(e.into()),
        };
        let row = invitations::find_by_hash(c, &tenant.id, &hash)?
            .filter(|r| r.id == claims.jti && r.user_id == claims.sub)
            .ok_or_else(|| AdminError::BadRequest(INVALID.to_owned()))?;
        match row.state {
            InvitationState::Accepted => {
                return Err(AdminError::Gone(
                    "token: this activation link has already been used".to_owned(),
                ));
            }
            InvitationState::Cancelled => {
                return Err(AdminError::Gone(
                    "token: this invitation was cancelled; ask an administrator to invite you again"
                        .to_owned(),
                ));
            }
            InvitationState::Failed => {
                return Err(AdminError::Gone(
                    "token: this invitation could not be delivered; ask an administrator to invite you again"
                        .to_owned(),
                ));
            }
            InvitationState::Queued => return Err(AdminError::BadRequest(INVALID.to_owned())),
            InvitationState::Sent if row.is_expired(now) => {
                return Err(AdminError::Gone(
                    "token: this activation link has expired; ask an administrator to invite you again"
                        .to_owned(),
                ));
            }
            InvitationState::Sent => {}
        }
        let mut user = users::get(c, &tenant.id, &row.user_id).map_err(|e| match e {
            StoreError::NotFound => AdminError::Gone(
                "token: the user of this activation link no longer exists".to_owned(),
            ),
            other => other.into(),
        })?;
        let mut lifecycle = lifecycle_of(&user)?;
        let current = lifecycle
            .invitation()
            .is_some_and(|i| i64::from(i.number) == i64::from(row.number));
        if !current {
            return Err(AdminError::Gone(
                "token: a newer invitation replaced this one; use the link from the most recent invitation email"
                    .to_owned(),
            ));
        }
        let overrides = UserOverrides {
            automatic_invitation: Override::from(user.override_automatic_invitation),
            require_mobile_auth: Override::from(user.override_require_mobile_auth),
        };
        let effective = tenant_settings(&tenant).effective_for_user(&overrides);
        let events = lifecycle
            .activate(device, effective.require_mobile_auth.value, now)
            .map_err(|e| match e.reason {
                Rejection::MobileDeviceRequired => AdminError::BadRequest(format!(
                    "mobileDevice: mobile authentication is required for this user ({}), so activation must enrol a mobile device: send \"mobileDevice\": {{\"name\": \"...\"}}",
                    effective.require_mobile_auth.source.describe()
                )),
                Rejection::InvitationExpired { .. } => AdminError::Gone(format!("token: {e}")),
                Rejection::AlreadyActive => {
                    AdminError::Gone("token: this activation link has already been used".to_owned())
                }
                _ => AdminError::BadRequest(format!("token: {e}")),
            })?;
        if !invitations::accept(c, &tenant.id, &row.id, now)? {
            return Err(AdminError::Gone(
                "token: this activation link has already been used".to_owned(),
            ));
        }
        store_lifecycle(c, &mut user, &lifecycle, now)?;
        audit_events(c, &tenant.id, &user.id, ACTIVATION_ACTOR, &events)?;
        store_diesel::events::append_all(
            c,
            &tenant.id,
            crate::change_events::lifecycle(
                crate::change_events::ACTIVATION,
                &tenant,
                &user,
                &events,
                now,
            ),
        )?;
        Ok(json!({
            "status": lifecycle.status().as_str(),
            "mobileDeviceEnrolled": lifecycle.mobile_device_enrolled(),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

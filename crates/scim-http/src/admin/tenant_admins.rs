//! Tenant administrators (the console's accounts of one tenant) and the
//! tenant's console settings: the admin API's routes and the functions the
//! console and the command line call, so every path audits the same way.

use actix_web::{HttpResponse, web};
use chrono::TimeDelta;
use serde_json::{Value, json};
use store_diesel::tenant_admins::{self as store_admins, IssuedLink, TenantAdmin};
use store_diesel::tenants::Tenant;
use store_diesel::{DbConnection, StoreError};

use super::{
    ADMIN_ACTOR, Admin, AdminError, audit_as, object_body, only_keys, read, tenant, ts, tx,
};
use crate::ScimConfig;
use crate::ScimState;

/// How long a set-password link works.
pub const LINK_VALIDITY: TimeDelta = TimeDelta::days(3);

/// How a new administrator gets their set-password link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDelivery {
    /// Issued now and returned to the caller, who shows it once.
    Return,
    /// Emailed by the mail worker (`store_diesel::outbox`), which issues the
    /// link when it sends, so no link sits in the database in clear.
    Email,
}

/// The set-password page's URL for a link token.
pub fn set_password_url(config: &ScimConfig, token: &str) -> String {
    config.console_url(&format!("/set-password?token={token}"))
}

fn admin_json(a: &TenantAdmin) -> Value {
    json!({
        "id": a.id,
        "email": a.email,
        "passwordSet": a.password_set,
        "secondFactorEnrolled": a.totp_enrolled,
        "disabledAt": a.disabled_at.map(ts),
        "createdAt": ts(a.created_at),
        "createdBy": a.created_by,
    })
}

fn link_json(config: &ScimConfig, admin: &TenantAdmin, link: &IssuedLink) -> Value {
    let mut body = admin_json(admin);
    body["setPasswordLink"] = json!(set_password_url(config, &link.token));
    body["linkExpiresAt"] = ts(link.expires_at);
    body
}

/// Creates a tenant administrator of `t` with a set-password link valid for
/// [`LINK_VALIDITY`], returned or queued for email, audited as `admin.create`
/// under `actor`, in the caller's transaction (the command line's `admin
/// create` calls this too).
///
/// # Errors
/// [`AdminError::BadRequest`] for a bad email, [`AdminError::Conflict`] when
/// the tenant already has this administrator.
pub fn create_admin_in(
    conn: &mut DbConnection,
    t: &Tenant,
    email: &str,
    actor: &str,
    delivery: LinkDelivery,
) -> Result<(TenantAdmin, Option<IssuedLink>), AdminError> {
    let admin = store_admins::create(conn, &t.id, email, actor).map_err(|e| match e {
        StoreError::Conflict { .. } => AdminError::Conflict(format!(
            "email: {:?} is already an administrator of {}",
            email.trim(),
            t.slug
        )),
        StoreError::InvalidInput(m) => AdminError::BadRequest(m),
        other => other.into(),
    })?;
    let link = match delivery {
        LinkDelivery::Return => Some(store_admins::issue_link(conn, &admin.id, LINK_VALIDITY)?),
        LinkDelivery::Email => {
            store_diesel::outbox::push(
                conn,
                &t.id,
                store_admins::KIND_LINK_EMAIL,
                &json!({"adminId": admin.id}),
                chrono::Utc::now(),
            )?;
            None
        }
    };
    // Never the link's token.
    audit_as(
        conn,
        actor,
        &t.id,
        "admin.create",
        "TenantAdmin",
        Some(&admin.id),
        &json!({
            "email": admin.email,
            "linkDelivery": if link.is_some() { "shown" } else { "email" },
            "linkExpiresAt": link.as_ref().map(|l| l.expires_at),
        }),
    )?;
    Ok((admin, link))
}

/// [`create_admin_in`] for the tenant `slug` in its own transaction.
pub(crate) async fn create_admin_as(
    state: &ScimState,
    slug: String,
    email: String,
    actor: String,
    delivery: LinkDelivery,
) -> Result<(Tenant, TenantAdmin, Option<IssuedLink>), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let (admin, link) = create_admin_in(c, &t, &email, &actor, delivery)?;
        Ok((t, admin, link))
    })
    .await
}

fn admin_of(conn: &mut DbConnection, t: &Tenant, id: &str) -> Result<TenantAdmin, AdminError> {
    // PostgreSQL text cannot hold a NUL; no id has one.
    let found = if id.contains('\0') {
        Err(StoreError::NotFound)
    } else {
        store_admins::get(conn, &t.id, id)
    };
    match found {
        Ok(s) => Ok(s.admin),
        Err(StoreError::NotFound) => Err(AdminError::NotFound(format!(
            "no administrator {id:?} in tenant {}",
            t.slug
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A new set-password link for administrator `id` of tenant `slug` (earlier
/// links stop working), audited as `admin.link` under `actor`.
pub(crate) async fn new_link_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
) -> Result<(Tenant, TenantAdmin, IssuedLink), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let admin = admin_of(c, &t, &id)?;
        if admin.disabled_at.is_some() {
            return Err(AdminError::Conflict(format!(
                "{} is disabled; create the administrator again instead",
                admin.email
            )));
        }
        let link = store_admins::issue_link(c, &admin.id, LINK_VALIDITY)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "admin.link",
            "TenantAdmin",
            Some(&admin.id),
            &json!({"email": admin.email, "linkExpiresAt": link.expires_at}),
        )?;
        Ok((t, admin, link))
    })
    .await
}

/// Disables administrator `id` of tenant `slug`: their sessions end at once.
/// Audited as `admin.disable` under `actor`.
pub(crate) async fn disable_admin_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
) -> Result<(Tenant, TenantAdmin), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        admin_of(c, &t, &id)?;
        let admin = store_admins::disable(c, &t.id, &id)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "admin.disable",
            "TenantAdmin",
            Some(&admin.id),
            &json!({"email": admin.email}),
        )?;
        Ok((t, admin))
    })
    .await
}

/// Enables administrator `id` of tenant `slug` again, audited as
/// `admin.enable` under `actor`.
pub(crate) async fn enable_admin_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
) -> Result<(Tenant, TenantAdmin), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        admin_of(c, &t, &id)?;
        let admin = store_admins::enable(c, &t.id, &id)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "admin.enable",
            "TenantAdmin",
            Some(&admin.id),
            &json!({"email": admin.email}),
        )?;
        Ok((t, admin))
    })
    .await
}

/// Removes the second factor of administrator `id` of tenant `slug` (a lost
/// phone and lost recovery codes): their sessions end, and they enrol again
/// at the next sign-in. Audited as `admin.second_factor.reset` under `actor`.
pub(crate) async fn reset_second_factor_as(
    state: &ScimState,
    slug: String,
    id: String,
    actor: String,
) -> Result<(Tenant, TenantAdmin), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        admin_of(c, &t, &id)?;
        let admin = store_admins::reset_second_factor(c, &t.id, &id)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "admin.second_factor.reset",
            "TenantAdmin",
            Some(&admin.id),
            &json!({"email": admin.email}),
        )?;
        Ok((t, admin))
    })
    .await
}

/// Switches whether the tenant's administrators need a second factor,
/// audited as `tenant.console_settings.update` under `actor`.
pub(crate) async fn set_second_factor_as(
    state: &ScimState,
    slug: String,
    required: bool,
    actor: String,
) -> Result<Tenant, AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let before = store_admins::second_factor_required(c, &t.id)?;
        store_admins::set_second_factor_required(c, &t.id, required)?;
        audit_as(
            c,
            &actor,
            &t.id,
            "tenant.console_settings.update",
            "Tenant",
            Some(&t.id),
            &json!({"before": {"secondFactorRequired": before}, "after": {"secondFactorRequired": required}}),
        )?;
        Ok(t)
    })
    .await
}

/// The tenant `slug`, its administrators and whether they need a second factor.
pub(crate) async fn admins_of(
    state: &ScimState,
    slug: String,
) -> Result<(Tenant, Vec<TenantAdmin>, bool), AdminError> {
    read(state, move |c| {
        let t = tenant(c, &slug)?;
        let admins = store_admins::list(c, &t.id)?;
        let required = store_admins::second_factor_required(c, &t.id)?;
        Ok((t, admins, required))
    })
    .await
}

pub(super) async fn list(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (_, admins, required) = admins_of(&state, path.into_inner()).await?;
    let items: Vec<Value> = admins.iter().map(admin_json).collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next": null,
        "secondFactorRequired": required,
    })))
}

pub(super) async fn create(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["email", "sendEmail"])?;
    let Some(Value::String(email)) = map.get("email") else {
        return Err(AdminError::BadRequest(
            "email: required, the administrator's email address".to_owned(),
        ));
    };
    let delivery = match map.get("sendEmail") {
        None | Some(Value::Bool(false)) => LinkDelivery::Return,
        Some(Value::Bool(true)) => LinkDelivery::Email,
        Some(_) => {
            return Err(AdminError::BadRequest(
                "sendEmail: expected true or false".to_owned(),
            ));
        }
    };
    let (_, admin, link) = create_admin_as(
        &state,
        path.into_inner(),
        email.clone(),
        ADMIN_ACTOR.to_owned(),
        delivery,
    )
    .await?;
    let body = match &link {
        Some(link) => link_json(&state.config, &admin, link),
        None => {
            let mut body = admin_json(&admin);
            body["setPasswordLink"] = json!("emailed");
            body
        }
    };
    Ok(HttpResponse::Created().json(body))
}

pub(super) async fn new_link(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (_, admin, link) = new_link_as(&state, slug, id, ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Created().json(link_json(&state.config, &admin, &link)))
}

pub(super) async fn disable(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (_, admin) = disable_admin_as(&state, slug, id, ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Ok().json(admin_json(&admin)))
}

pub(super) async fn put_console_settings(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["secondFactorRequired"])?;
    let Some(Value::Bool(required)) = map.get("secondFactorRequired") else {
        return Err(AdminError::BadRequest(
            "secondFactorRequired: required, true or false".to_owned(),
        ));
    };
    set_second_factor_as(&state, path.into_inner(), *required, ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Ok().json(json!({"secondFactorRequired": required})))
}

pub(super) async fn enable(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (_, admin) = enable_admin_as(&state, slug, id, ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Ok().json(admin_json(&admin)))
}

pub(super) async fn reset_second_factor(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    let (_, admin) = reset_second_factor_as(&state, slug, id, ADMIN_ACTOR.to_owned()).await?;
    Ok(HttpResponse::Ok().json(admin_json(&admin)))
}

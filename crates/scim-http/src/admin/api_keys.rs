//! Tenant API keys (`/tenants/{t}/api-keys`): the operator creates them (the
//! key shown once), lists and revokes them. A key opens only its tenant's
//! events feed and webhook routes ([`super::tenant_access`]); never the SCIM
//! API, never another tenant. Writes are audited, without the key.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};
use store_diesel::api_keys::{self as store, ApiKey};

use super::{ADMIN_ACTOR, Admin, AdminError, audit_as, object_body, only_keys, tenant, ts, tx};
use crate::ScimState;

/// Longest key name.
const MAX_NAME_CHARS: usize = 200;

fn key_json(k: &ApiKey) -> Value {
    json!({"id": k.id, "name": k.name, "createdAt": ts(k.created_at)})
}

pub(super) async fn list(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let keys = list_of(&state, path.into_inner()).await?;
    let items: Vec<Value> = keys.iter().map(key_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next": null })))
}

/// Checks a key's label: at most [`MAX_NAME_CHARS`] characters, no control
/// characters.
pub(crate) fn check_name(name: &str) -> Result<(), AdminError> {
    if name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(AdminError::BadRequest(format!(
            "name: expected a string of at most {MAX_NAME_CHARS} characters without control characters"
        )))
    }
}

pub(super) async fn create(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let map = object_body(&body)?;
    only_keys(&map, &["name"])?;
    let name = match map.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(AdminError::BadRequest(format!(
                "name: expected a string of at most {MAX_NAME_CHARS} characters without control characters"
            )));
        }
    };
    check_name(&name)?;
    let created = create_as(&state, path.into_inner(), ADMIN_ACTOR.to_owned(), name).await?;
    let mut out = key_json(&created.record);
    out["key"] = json!(created.key);
    Ok(HttpResponse::Created().json(out))
}

pub(super) async fn delete(
    _: Admin,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (slug, id) = path.into_inner();
    revoke_as(&state, slug, ADMIN_ACTOR.to_owned(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The API keys of tenant `slug` (never the keys themselves).
pub(crate) async fn list_of(state: &ScimState, slug: String) -> Result<Vec<ApiKey>, AdminError> {
    super::read(state, move |c| {
        let t = tenant(c, &slug)?;
        Ok(store::list(c, &t.id)?)
    })
    .await
}

/// Creates an API key of tenant `slug` (the key is in the result only),
/// audited under `actor`. The admin API and the console call this.
pub(crate) async fn create_as(
    state: &ScimState,
    slug: String,
    actor: String,
    name: String,
) -> Result<store::CreatedKey, AdminError> {
    check_name(&name)?;
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        let created = store::create(c, &t.id, &name, Utc::now())?;
        audit_as(
            c,
            &actor,
            &t.id,
            "api_key.created",
            "ApiKey",
            Some(&created.record.id),
            &json!({"name": created.record.name}),
        )?;
        Ok(created)
    })
    .await
}

/// Revokes an API key of tenant `slug` (404 for another tenant's), audited
/// under `actor`.
pub(crate) async fn revoke_as(
    state: &ScimState,
    slug: String,
    actor: String,
    id: String,
) -> Result<(), AdminError> {
    tx(state, move |c| {
        let t = tenant(c, &slug)?;
        store::delete(c, &t.id, &id).map_err(|e| match e {
            store_diesel::StoreError::NotFound => {
                AdminError::NotFound("no such API key".to_owned())
            }
            other => other.into(),
        })?;
        audit_as(
            c,
            &actor,
            &t.id,
            "api_key.revoked",
            "ApiKey",
            Some(&id),
            &json!({}),
        )?;
        Ok(())
    })
    .await
}

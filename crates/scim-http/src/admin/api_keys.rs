//! Tenant API keys (`/tenants/{t}/api-keys`): the operator creates them (the
//! key shown once), lists and revokes them. A key opens only its tenant's
//! events feed and webhook routes ([`super::tenant_access`]); never the SCIM
//! API, never another tenant. Writes are audited, without the key.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};
use store_diesel::api_keys::{self as store, ApiKey};

use super::{Admin, AdminError, audit_admin, object_body, only_keys, tenant, ts, tx};
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
    let slug = path.into_inner();
    let keys = super::read(&state, move |c| {
        let t = tenant(c, &slug)?;
        Ok(store::list(c, &t.id)?)
    })
    .await?;
    let items: Vec<Value> = keys.iter().map(key_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next": null })))
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
        Some(Value::String(s))
            if s.chars().count() <= MAX_NAME_CHARS && !s.chars().any(char::is_control) =>
        {
            s.clone()
        }
        Some(_) => {
            return Err(AdminError::BadRequest(format!(
                "name: expected a string of at most {MAX_NAME_CHARS} characters without control characters"
            )));
        }
    };
    let slug = path.into_inner();
    let created = tx(&state, move |c| {
        let t = tenant(c, &slug)?;
        let created = store::create(c, &t.id, &name, Utc::now())?;
        audit_admin(
            c,
            &t.id,
            "api_key.created",
            "ApiKey",
            Some(&created.record.id),
            &json!({"name": created.record.name}),
        )?;
        Ok(created)
    })
    .await?;
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
    tx(&state, move |c| {
        let t = tenant(c, &slug)?;
        store::delete(c, &t.id, &id).map_err(|e| match e {
            store_diesel::StoreError::NotFound => {
                AdminError::NotFound("no such API key".to_owned())
            }
            other => other.into(),
        })?;
        audit_admin(c, &t.id, "api_key.revoked", "ApiKey", Some(&id), &json!({}))?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

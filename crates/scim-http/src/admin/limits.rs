//! `GET`/`PUT /admin/v1/tenants/{t}/rate-limit`: a tenant's own limit on its
//! SCIM traffic (requests per second), or the server's default.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use store_diesel::tenants::{self as store_tenants, Tenant};

use super::{ADMIN_ACTOR, Admin, AdminError, audit_as, object_body, only_keys, read, tenant, tx};
use crate::ScimState;
use crate::throttle::Throttle;

/// The JSON of a tenant's limit: its own (`null`: the default), and what
/// applies, with its source.
fn limit_json(t: &Tenant, throttle: Option<&Throttle>) -> Value {
    let default = throttle.map(|th| th.config().tenant_per_second);
    let (effective, source) = match (t.rate_limit, default) {
        (Some(own), _) => (Some(i64::from(own)), "tenant"),
        (None, Some(d)) => (Some(i64::from(d)), "serverDefault"),
        (None, None) => (None, "serverDefault"),
    };
    json!({
        "requestsPerSecond": t.rate_limit,
        "effective": {
            // 0 = unlimited; null when this process enforces no limits.
            "requestsPerSecond": effective,
            "burst": effective.map(|n| n * 2),
            "source": source,
        },
    })
}

pub(super) async fn get(
    _: Admin,
    state: web::Data<ScimState>,
    throttle: Option<web::Data<Throttle>>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let slug = path.into_inner();
    let t = read(&state, move |c| tenant(c, &slug)).await?;
    Ok(HttpResponse::Ok().json(limit_json(&t, throttle.as_ref().map(|d| d.get_ref()))))
}

pub(super) async fn put(
    _: Admin,
    state: web::Data<ScimState>,
    throttle: Option<web::Data<Throttle>>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    const KEY: &str = "requestsPerSecond";
    let map = object_body(&body)?;
    only_keys(&map, &[KEY])?;
    let own = match map.get(KEY) {
        Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| i32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                return Err(AdminError::BadRequest(format!(
                    "{KEY}: expected a whole number from 0 (unlimited) to {}, or null (the server's default)",
                    i32::MAX
                )));
            }
        },
        _ => {
            return Err(AdminError::BadRequest(format!(
                "{KEY}: expected a whole number (0 = unlimited) or null (the server's default)"
            )));
        }
    };
    let slug = path.into_inner();
    let updated = tx(&state, move |c| {
        let t = tenant(c, &slug)?;
        let updated = store_tenants::set_rate_limit(c, &t.id, own)?;
        audit_as(
            c,
            ADMIN_ACTOR,
            &t.id,
            "tenant.rate_limit.update",
            "Tenant",
            Some(&t.id),
            &json!({"before": t.rate_limit, "after": updated.rate_limit}),
        )?;
        Ok(updated)
    })
    .await?;
    // This replica applies it at once; the others on the tenant's next request.
    if let Some(th) = &throttle {
        th.learn_tenant_limit(&updated.id, updated.rate_limit);
    }
    Ok(HttpResponse::Ok().json(limit_json(&updated, throttle.as_ref().map(|d| d.get_ref()))))
}

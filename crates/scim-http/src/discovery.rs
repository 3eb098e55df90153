//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, generated from the
//! scim-model definitions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use scim_model::messages::ListResponse;
use scim_model::schema::{self, RESOURCE_TYPES};
use serde_json::Value;

use crate::auth::authenticate;
use crate::respond::scim_json;
use crate::{ApiError, ScimState};

/// The schemas `/Schemas` lists: those of the resource types served.
fn listed_schemas() -> impl Iterator<Item = &'static schema::Schema> {
    RESOURCE_TYPES.iter().flat_map(|rt| rt.schemas())
}

pub(crate) async fn service_provider_config(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let mut v =
        serde_json::to_value(state.config.service_provider_config()).map_err(ApiError::internal)?;
    if let Value::Object(o) = &mut v {
        o.insert(
            "meta".into(),
            serde_json::json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", state.config.tenant_url(&t.slug)),
            }),
        );
    }
    Ok(scim_json(StatusCode::OK, &v))
}

pub(crate) async fn resource_types(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let base = state.config.tenant_url(&t.slug);
    let items: Vec<Value> = RESOURCE_TYPES.iter().map(|rt| rt.to_json(&base)).collect();
    let total = items.len() as u64;
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, total, 1),
    ))
}

pub(crate) async fn resource_type(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, name) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let rt = schema::resource_type(&name)
        .ok_or_else(|| ApiError::not_found(format!("resource type {name} not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &rt.to_json(&state.config.tenant_url(&t.slug)),
    ))
}

pub(crate) async fn schemas(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let base = state.config.tenant_url(&t.slug);
    let items: Vec<Value> = listed_schemas().map(|s| s.to_json(&base)).collect();
    let total = items.len() as u64;
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, total, 1),
    ))
}

pub(crate) async fn schema_by_id(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, urn) = path.into_inner();
    let t = authenticate(&req, &state, &tenant).await?;
    let s = schema::schema_by_urn(&urn)
        .ok_or_else(|| ApiError::not_found(format!("schema {urn} not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &s.to_json(&state.config.tenant_url(&t.slug)),
    ))
}

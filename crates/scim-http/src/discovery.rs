//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, generated from the
//! scim-model definitions.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use scim_model::messages::ListResponse;
use scim_model::schema::{self, RESOURCE_TYPES};
use serde_json::Value;

use crate::ApiError;
use crate::request::ScimRequest;
use crate::respond::scim_json;

/// The schemas `/Schemas` lists: those of the resource types served.
fn listed_schemas() -> impl Iterator<Item = &'static schema::Schema> {
    RESOURCE_TYPES.iter().flat_map(|rt| rt.schemas())
}

pub(crate) async fn service_provider_config(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let t = r.authenticate().await?;
    let mut v =
        serde_json::to_value(r.config().service_provider_config()).map_err(ApiError::internal)?;
    if let Value::Object(o) = &mut v {
        o.insert(
            "meta".into(),
            serde_json::json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", r.config().tenant_url(&t.slug)),
            }),
        );
    }
    Ok(scim_json(StatusCode::OK, &v))
}

pub(crate) async fn resource_types(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let t = r.authenticate().await?;
    let base = r.config().tenant_url(&t.slug);
    let items: Vec<Value> = RESOURCE_TYPES.iter().map(|rt| rt.to_json(&base)).collect();
    let total = items.len() as u64;
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, total, 1),
    ))
}

pub(crate) async fn resource_type(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let name = r.segment("name");
    let t = r.authenticate().await?;
    let rt = schema::resource_type(&name)
        .ok_or_else(|| ApiError::not_found(format!("resource type {name} not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &rt.to_json(&r.config().tenant_url(&t.slug)),
    ))
}

pub(crate) async fn schemas(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let t = r.authenticate().await?;
    let base = r.config().tenant_url(&t.slug);
    let items: Vec<Value> = listed_schemas().map(|s| s.to_json(&base)).collect();
    let total = items.len() as u64;
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, total, 1),
    ))
}

pub(crate) async fn schema_by_id(r: ScimRequest) -> Result<HttpResponse, ApiError> {
    let urn = r.segment("urn");
    let t = r.authenticate().await?;
    let s = schema::schema_by_urn(&urn)
        .ok_or_else(|| ApiError::not_found(format!("schema {urn} not found")))?;
    Ok(scim_json(
        StatusCode::OK,
        &s.to_json(&r.config().tenant_url(&t.slug)),
    ))
}

//! `POST /Bulk` (RFC 7644 §3.7): runs each operation through the same handler
//! as the single request (`users::create`, `groups::patch`, ...), one
//! transaction per operation, in request order. A POST's `bulkId` can be
//! referenced later as `bulkId:<id>` in a `path` segment or as a string value
//! anywhere in `data`; a reference to an unknown or failed bulkId fails that
//! operation with 409. `failOnErrors` stops the run after that many errors.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use scim_model::ScimError;
use scim_model::messages::{
    BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse, ScimType,
};
use serde_json::Value;

use crate::auth::authenticate;
use crate::common::IfMatchOverride;
use crate::respond::{parse_body, scim_json};
use crate::{ApiError, ScimState, groups, users};

/// The prefix of a bulkId reference.
const BULK_ID_PREFIX: &str = "bulkId:";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        }
    }
}

/// What a bulk operation's `path` names.
#[derive(Debug)]
enum Target {
    Collection(Kind),
    Resource(Kind, String),
}

/// The ids of the resources created by earlier POSTs, by bulkId; `None` for a
/// POST that failed.
type BulkIds = HashMap<String, Option<String>>;

pub(crate) async fn bulk(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let slug = tenant.into_inner();
    let t = authenticate(&req, &state, &slug).await?;
    let request: BulkRequest = parse_body(&body)?;
    let max = state.config.max_bulk_operations;
    if request.operations.len() > max as usize {
        return Err(ApiError::Scim(ScimError::new(
            413,
            format!(
                "the bulk request has {} operations; at most {max} are allowed (maxOperations in /ServiceProviderConfig)",
                request.operations.len()
            ),
        )));
    }
    let base = state.config.tenant_url(&t.slug);
    let mut ids = BulkIds::new();
    let mut errors: u32 = 0;
    let mut results = Vec::with_capacity(request.operations.len());
    for op in &request.operations {
        let (result, created) = run_operation(&req, &state, &slug, &base, &ids, op).await;
        if op.method.eq_ignore_ascii_case("POST")
            && let Some(bulk_id) = &op.bulk_id
            && !ids.contains_key(bulk_id)
        {
            ids.insert(bulk_id.clone(), created);
        }
        let failed = result.status >= 400;
        results.push(result);
        if failed {
            errors = errors.saturating_add(1);
            if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
        }
    }
    req.extensions_mut().remove::<IfMatchOverride>();
    Ok(scim_json(StatusCode::OK, &BulkResponse::new(results)))
}

/// Runs one operation; returns its result and, for a successful POST, the id of
/// the created resource.
async fn run_operation(
    req: &HttpRequest,
    state: &web::Data<ScimState>,
    slug: &str,
    base: &str,
    ids: &BulkIds,
    op: &BulkOperation,
) -> (BulkOperationResponse, Option<String>) {
    let method = op.method.to_ascii_uppercase();
    let mut out = BulkOperationResponse {
        method: if matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            method.clone()
        } else {
            op.method.clone()
        },
        bulk_id: op.bulk_id.clone(),
        version: None,
        location: None,
        status: 0,
        response: None,
    };
    let res = match dispatch(req, state, slug, ids, op, &method).await {
        Ok(res) => res,
        Err(e) => e.error_response(),
    };
    let status = res.status();
    out.status = status.as_u16();
    let header_str = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    out.version = header_str(header::ETAG);
    let location = header_str(header::LOCATION);
    let body = match actix_web::body::to_bytes(res.into_body()).await {
        Ok(bytes) if bytes.is_empty() => Value::Null,
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => {
            tracing::error!(detail = %e, "bulk: reading an operation's response");
            let e = ApiError::internal(e);
            out.status = 500;
            out.version = None;
            out.response = serde_json::to_value(e.body()).ok();
            return (out, None);
        }
    };
    if !status.is_success() {
        out.version = None;
        out.response = Some(body);
        return (out, None);
    }
    let created = if method == "POST" {
        body.get("id").and_then(Value::as_str).map(str::to_owned)
    } else {
        None
    };
    out.location = location
        .or_else(|| {
            body.pointer("/meta/location")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(
            || match parse_path(&resolve_path(&op.path, ids).ok()?).ok()? {
                Target::Resource(kind, id) => Some(format!("{base}/{}/{id}", kind.segment())),
                Target::Collection(_) => None,
            },
        );
    (out, created)
}

/// Resolves the operation's references and calls the resource handler.
async fn dispatch(
    req: &HttpRequest,
    state: &web::Data<ScimState>,
    slug: &str,
    ids: &BulkIds,
    op: &BulkOperation,
    method: &str,
) -> Result<HttpResponse, ApiError> {
    if !matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(ApiError::bad_request(
            ScimType::InvalidSyntax,
            format!(
                "method {:?}: a bulk operation is POST, PUT, PATCH or DELETE",
                op.method
            ),
        ));
    }
    if method == "POST"
        && let Some(bulk_id) = &op.bulk_id
        && ids.contains_key(bulk_id)
    {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            format!("bulkId {bulk_id:?} is already declared by an earlier operation"),
        ));
    }
    let target = parse_path(&resolve_path(&op.path, ids)?)?;
    let body = match &op.data {
        Some(data) if method != "DELETE" => {
            let mut data = data.clone();
            resolve_data(&mut data, ids)?;
            web::Bytes::from(serde_json::to_vec(&data).map_err(ApiError::internal)?)
        }
        _ => web::Bytes::new(),
    };
    req.extensions_mut()
        .insert(IfMatchOverride(op.version.clone()));
    let (r, s) = (req.clone(), state.clone());
    let slug = slug.to_owned();
    match (method, target) {
        ("POST", Target::Collection(Kind::Users)) => {
            users::create(r, s, web::Path::from(slug), body).await
        }
        ("POST", Target::Collection(Kind::Groups)) => {
            groups::create(r, s, web::Path::from(slug), body).await
        }
        ("PUT", Target::Resource(Kind::Users, id)) => {
            users::replace(r, s, web::Path::from((slug, id)), body).await
        }
        ("PUT", Target::Resource(Kind::Groups, id)) => {
            groups::replace(r, s, web::Path::from((slug, id)), body).await
        }
        ("PATCH", Target::Resource(Kind::Users, id)) => {
            users::patch(r, s, web::Path::from((slug, id)), body).await
        }
        ("PATCH", Target::Resource(Kind::Groups, id)) => {
            groups::patch(r, s, web::Path::from((slug, id)), body).await
        }
        ("DELETE", Target::Resource(Kind::Users, id)) => {
            users::delete(r, s, web::Path::from((slug, id))).await
        }
        ("DELETE", Target::Resource(Kind::Groups, id)) => {
            groups::delete(r, s, web::Path::from((slug, id))).await
        }
        (_, target) => Err(ApiError::bad_request(
            ScimType::InvalidPath,
            format!(
                "{method} {:?}: POST goes to /Users or /Groups; PUT, PATCH and DELETE to /Users/{{id}} or /Groups/{{id}}{}",
                op.path,
                match target {
                    Target::Collection(_) => " (this path names no resource)",
                    Target::Resource(..) => " (this path names a resource)",
                }
            ),
        )),
    }
}

/// The error of a reference to a bulkId that no earlier POST created.
fn unresolved(bulk_id: &str, ids: &BulkIds) -> ApiError {
    let why = if ids.contains_key(bulk_id) {
        "the operation that declares it failed"
    } else {
        "no earlier POST in this request declares it"
    };
    ApiError::Scim(ScimError::new(
        409,
        format!("cannot resolve bulkId:{bulk_id}: {why}"),
    ))
}

/// The id a `bulkId:<id>` reference stands for, `Ok(None)` when `s` is no reference.
fn resolve(s: &str, ids: &BulkIds) -> Result<Option<String>, ApiError> {
    let Some(bulk_id) = s.strip_prefix(BULK_ID_PREFIX) else {
        return Ok(None);
    };
    match ids.get(bulk_id) {
        Some(Some(id)) => Ok(Some(id.clone())),
        _ => Err(unresolved(bulk_id, ids)),
    }
}

/// The path with each `bulkId:<id>` segment replaced by the created id.
fn resolve_path(path: &str, ids: &BulkIds) -> Result<String, ApiError> {
    let segments = path
        .split('/')
        .map(|seg| Ok(resolve(seg, ids)?.unwrap_or_else(|| seg.to_owned())))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(segments.join("/"))
}

/// Replaces every string value `bulkId:<id>` in `data` with the created id.
fn resolve_data(data: &mut Value, ids: &BulkIds) -> Result<(), ApiError> {
    match data {
        Value::String(s) => {
            if let Some(id) = resolve(s, ids)? {
                *s = id;
            }
        }
        Value::Array(items) => {
            for v in items {
                resolve_data(v, ids)?;
            }
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                resolve_data(v, ids)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// `/Users`, `/Groups`, `/Users/{id}` or `/Groups/{id}` (relative to the
/// tenant base; the leading `/` may be missing).
fn parse_path(path: &str) -> Result<Target, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            ScimType::InvalidPath,
            format!(
                "bulk operation path {path:?}: expected /Users, /Groups, /Users/{{id}} or /Groups/{{id}}"
            ),
        )
    };
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (kind, id) = match rest.split_once('/') {
        Some((kind, id)) => (kind, Some(id)),
        None => (rest, None),
    };
    let kind = if kind.eq_ignore_ascii_case("Users") {
        Kind::Users
    } else if kind.eq_ignore_ascii_case("Groups") {
        Kind::Groups
    } else {
        return Err(invalid());
    };
    match id {
        None => Ok(Target::Collection(kind)),
        Some(id) if id.is_empty() || id.contains(['/', '?', '#']) => Err(invalid()),
        Some(id) => Ok(Target::Resource(kind, id.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_references_resolve() {
        let mut ids = BulkIds::new();
        ids.insert("u1".into(), Some("abc".into()));
        ids.insert("bad".into(), None);
        assert_eq!(
            resolve_path("/Users/bulkId:u1", &ids).unwrap(),
            "/Users/abc"
        );
        assert_eq!(
            resolve_path("/Users/bulkId:bad", &ids)
                .unwrap_err()
                .body()
                .status,
            409
        );
        assert_eq!(
            resolve_path("/Users/bulkId:nope", &ids)
                .unwrap_err()
                .body()
                .status,
            409
        );
        let mut data = serde_json::json!({"members": [{"value": "bulkId:u1"}, {"value": "x"}]});
        resolve_data(&mut data, &ids).unwrap();
        assert_eq!(data["members"][0]["value"], "abc");
        assert_eq!(data["members"][1]["value"], "x");
        assert!(matches!(
            parse_path("/Groups/g1").unwrap(),
            Target::Resource(Kind::Groups, id) if id == "g1"
        ));
        assert!(matches!(
            parse_path("Users").unwrap(),
            Target::Collection(Kind::Users)
        ));
        assert!(parse_path("/Schemas").is_err());
        assert!(parse_path("/Users/").is_err());
        assert!(parse_path("/Users/a/b").is_err());
    }
}

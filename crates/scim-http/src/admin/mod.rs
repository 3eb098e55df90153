//! The admin API (`/admin/v1`, documented in `docs/admin-api.md`): everything the admin
//! portal of the setup guide does — tenants, the Integrations view and its
//! Generate button, SCIM settings, per-user and per-group overrides with their
//! effective values, the group access check, invitations and admin check-ins,
//! and the audit log.
//!
//! Mount it with [`configure_admin`]; it needs `web::Data<ScimState>` and
//! `web::Data<AdminConfig>` in the app. Requests carry
//! `Authorization: Bearer <admin token>` (the operator's `SCIM_ADMIN_TOKEN`),
//! compared in constant time; without a configured token every route answers
//! 403 saying how to enable it. Bodies and errors are `application/json`;
//! errors are `{"error": "<message naming the field>"}`.

pub(crate) mod api_keys;
pub(crate) mod events;
mod limits;
pub(crate) mod oauth;
pub(crate) mod people;
pub mod signing_keys;
pub mod tenant_admins;
pub(crate) mod tenants;
pub(crate) mod webhooks;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use store_diesel::tenants::Tenant;
use store_diesel::{DbConnection, StoreError, audit, tenants as store_tenants};

use crate::ScimState;
use crate::auth::{bearer, hashes_equal};

/// The actor recorded in the audit log for admin API writes.
pub const ADMIN_ACTOR: &str = "admin";

/// Configuration of the admin API, shared as its own `web::Data`.
#[derive(Clone)]
#[non_exhaustive]
pub struct AdminConfig {
    /// The operator's admin token; `None` disables the admin API (403).
    pub admin_token: Option<String>,
    /// How long a released invitation's activation link stays valid.
    pub invitation_validity: TimeDelta,
    /// Webhook URLs may be `http://` and loopback or private hosts
    /// (development only).
    pub webhook_allow_http: bool,
    /// How long a replaced webhook signing secret still signs deliveries
    /// when the rotation names no grace period.
    pub webhook_secret_grace: TimeDelta,
}

impl AdminConfig {
    /// An admin API with this token (or disabled) and links valid for 7 days.
    pub fn new(admin_token: Option<String>) -> Self {
        AdminConfig {
            admin_token: admin_token.filter(|t| !t.is_empty()),
            invitation_validity: TimeDelta::days(
                provisioning_core::InvitationPolicy::DEFAULT_VALIDITY_DAYS,
            ),
            webhook_allow_http: false,
            webhook_secret_grace: TimeDelta::hours(24),
        }
    }

    /// provisioning-core's invitation policy for this configuration.
    pub fn invitation_policy(&self) -> provisioning_core::InvitationPolicy {
        provisioning_core::InvitationPolicy {
            validity: self.invitation_validity,
        }
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("invitation_validity", &self.invitation_validity)
            .field("webhook_allow_http", &self.webhook_allow_http)
            .finish()
    }
}

/// A failed admin API request, rendered as `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 400: a malformed body or parameter; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or wrong admin token.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: no admin token is configured.
    #[error("the admin API is disabled")]
    Disabled,
    /// 404: unknown tenant, user, group, ...
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 410: used for activation links that expired or were used.
    #[error("{0}")]
    Gone(String),
    /// 503: the database is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    /// A 500 whose detail is only logged.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AdminError::Internal(detail.to_string())
    }

    fn message(&self) -> String {
        match self {
            AdminError::BadRequest(m)
            | AdminError::NotFound(m)
            | AdminError::Conflict(m)
            | AdminError::Gone(m) => m.clone(),
            AdminError::Unauthorized => "authentication failed: send 'Authorization: Bearer <admin token>' with the operator's admin token (SCIM Secret Tokens are not accepted here)".to_owned(),
            AdminError::Disabled => "the admin API is disabled: start the server with --admin-token <token> or set SCIM_ADMIN_TOKEN to enable it".to_owned(),
            AdminError::Unavailable(_) => "the service is temporarily unavailable; retry later".to_owned(),
            AdminError::Internal(_) => "internal server error".to_owned(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound("not found".to_owned()),
            StoreError::Conflict { what } => {
                AdminError::Conflict(format!("{what} is already taken"))
            }
            StoreError::PreconditionFailed { .. } => AdminError::Conflict(
                "the resource was changed by another request at the same time; retry".to_owned(),
            ),
            StoreError::InvalidInput(m) => AdminError::BadRequest(m),
            StoreError::Unavailable(m) => AdminError::Unavailable(m),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for AdminError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AdminError::Internal(format!("blocking task failed: {e}"))
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::Disabled => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Gone(_) => StatusCode::GONE,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::Internal(detail) => tracing::error!(%detail, "admin API internal error"),
            AdminError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, AdminError::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"admin\""));
        }
        if matches!(self, AdminError::Unavailable(_)) {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        res.json(json!({ "error": self.message() }))
    }
}

/// Proof that the request carries the admin token: an extractor every admin
/// handler takes first.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Ready<Result<Admin, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req))
    }
}

/// Whether the request carries the operator's admin token (no database).
pub(crate) fn presents_admin_token(req: &HttpRequest) -> bool {
    authorize(req).is_ok()
}

fn authorize(req: &HttpRequest) -> Result<Admin, AdminError> {
    let config = req
        .app_data::<web::Data<AdminConfig>>()
        .ok_or_else(|| AdminError::internal("AdminConfig is not registered"))?;
    let Some(expected) = config.admin_token.as_deref() else {
        return Err(AdminError::Disabled);
    };
    let presented = bearer(req).ok_or(AdminError::Unauthorized)?;
    // Compare fixed-length digests in constant time, so neither the content
    // nor the length of the token leaks through timing.
    let a = store_diesel::invitations::hash_secret(presented);
    let b = store_diesel::invitations::hash_secret(expected);
    if hashes_equal(&a, &b) {
        Ok(Admin)
    } else {
        Err(AdminError::Unauthorized)
    }
}

/// Authorizes a route a tenant's API key may open (the events feed and the
/// webhook routes): the admin token, or an API key of the URL's tenant. Returns
/// the tenant's id and the actor to audit (`admin` or `api-key:<id>`). A key
/// of another tenant, or for an unknown tenant, is the same 401 as a wrong one.
pub(crate) async fn tenant_access(
    req: &HttpRequest,
    state: &ScimState,
    slug: String,
) -> Result<(String, String), AdminError> {
    let presented = bearer(req).map(str::to_owned);
    match presented {
        Some(key) if key.starts_with(store_diesel::api_keys::PREFIX) => {
            read(state, move |c| {
                // An unknown tenant is the same 401 as a wrong key; a
                // database failure stays a 503/500.
                let t = tenant(c, &slug).map_err(|e| match e {
                    AdminError::NotFound(_) => AdminError::Unauthorized,
                    other => other,
                })?;
                match store_diesel::api_keys::verify(c, &t.id, &key)? {
                    Some(id) => Ok((t.id, format!("api-key:{id}"))),
                    None => Err(AdminError::Unauthorized),
                }
            })
            .await
        }
        _ => {
            authorize(req)?;
            let id = read(state, move |c| Ok(tenant(c, &slug)?.id)).await?;
            Ok((id, ADMIN_ACTOR.to_owned()))
        }
    }
}

/// Registers the admin API under `/admin/v1`.
#[cfg(feature = "admin")]
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    configure_admin_at(cfg, "/admin/v1");
}

/// Registers the admin API under `path` (`""`: at the enclosing scope's
/// path). Needs `web::Data<ScimState>` and `web::Data<AdminConfig>`.
#[cfg(feature = "admin")]
pub fn configure_admin_at(cfg: &mut web::ServiceConfig, path: &str) {
    cfg.service(
        web::scope(path)
            .service(web::resource("/openapi.json").route(web::get().to(openapi)))
            .service(web::resource("/signing-keys").route(web::get().to(signing_keys::get)))
            .service(
                web::resource("/tenants")
                    .route(web::get().to(tenants::list))
                    .route(web::post().to(tenants::create)),
            )
            .service(
                web::resource("/tenants/{t}/integration")
                    .route(web::get().to(tenants::integration)),
            )
            .service(
                web::resource("/tenants/{t}/integration/token")
                    .route(web::post().to(tenants::generate_token)),
            )
            .service(
                web::resource("/tenants/{t}/integration/oauth-client")
                    .route(web::get().to(oauth::get))
                    .route(web::post().to(oauth::create_or_rotate))
                    .route(web::put().to(oauth::update))
                    .route(web::delete().to(oauth::delete)),
            )
            .service(
                web::resource("/tenants/{t}/rate-limit")
                    .route(web::get().to(limits::get))
                    .route(web::put().to(limits::put)),
            )
            .service(
                web::resource("/tenants/{t}/scim-settings")
                    .route(web::get().to(tenants::get_settings))
                    .route(web::put().to(tenants::put_settings)),
            )
            .service(
                web::resource("/tenants/{t}/scim-settings/overrides")
                    .route(web::get().to(tenants::get_override_counts)),
            )
            .service(web::resource("/tenants/{t}/users").route(web::get().to(people::list_users)))
            .service(
                web::resource("/tenants/{t}/users/{id}").route(web::get().to(people::get_user)),
            )
            .service(
                web::resource("/tenants/{t}/users/{id}/settings")
                    .route(web::put().to(people::put_user_settings)),
            )
            .service(
                web::resource("/tenants/{t}/users/{id}/invite")
                    .route(web::post().to(people::invite)),
            )
            .service(
                web::resource("/tenants/{t}/groups/{id}").route(web::get().to(people::get_group)),
            )
            .service(
                web::resource("/tenants/{t}/groups/{id}/settings")
                    .route(web::put().to(people::put_group_settings)),
            )
            .service(
                web::resource("/tenants/{t}/groups/{id}/access/{user}")
                    .route(web::get().to(people::access)),
            )
            .service(
                web::resource("/tenants/{t}/admin-checkins")
                    .route(web::post().to(people::check_in)),
            )
            .service(
                web::resource("/tenants/{t}/invitations")
                    .route(web::get().to(tenants::list_invitations)),
            )
            .service(web::resource("/tenants/{t}/audit").route(web::get().to(tenants::audit_log)))
            .service(
                web::resource("/tenants/{t}/admins")
                    .route(web::get().to(tenant_admins::list))
                    .route(web::post().to(tenant_admins::create)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/disable")
                    .route(web::post().to(tenant_admins::disable)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/link")
                    .route(web::post().to(tenant_admins::new_link)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/enable")
                    .route(web::post().to(tenant_admins::enable)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/reset-second-factor")
                    .route(web::post().to(tenant_admins::reset_second_factor)),
            )
            .service(
                web::resource("/tenants/{t}/console-settings")
                    .route(web::put().to(tenant_admins::put_console_settings)),
            )
            .service(web::resource("/tenants/{t}/events").route(web::get().to(events::list)))
            .service(
                web::resource("/tenants/{t}/webhooks")
                    .route(web::get().to(webhooks::list))
                    .route(web::post().to(webhooks::create)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}")
                    .route(web::get().to(webhooks::get))
                    .route(web::put().to(webhooks::update))
                    .route(web::delete().to(webhooks::delete)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/rotate-secret")
                    .route(web::post().to(webhooks::rotate_secret)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/replay")
                    .route(web::post().to(webhooks::replay)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/deliveries")
                    .route(web::get().to(webhooks::deliveries)),
            )
            .service(
                web::resource("/tenants/{t}/api-keys")
                    .route(web::get().to(api_keys::list))
                    .route(web::post().to(api_keys::create)),
            )
            .service(
                web::resource("/tenants/{t}/api-keys/{id}")
                    .route(web::delete().to(api_keys::delete)),
            )
            .default_service(web::to(not_found)),
    );
}

/// The OpenAPI 3.1 description of this API, kept true by a test that
/// compares its paths and methods with the routes above.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /admin/v1/openapi.json`: [`OPENAPI_JSON`], without authentication
/// (it describes routes, holds no data).
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON)
}

async fn not_found(_: Admin) -> Result<HttpResponse, AdminError> {
    Err(AdminError::NotFound(
        "no such admin API route; see docs/admin-api.md".to_owned(),
    ))
}

// ---- helpers shared by the handlers -------------------------------------------------

/// Runs `f` in one write transaction off the async workers.
pub(crate) async fn tx<T, F>(state: &ScimState, f: F) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AdminError> + Send + 'static,
{
    crate::common::in_transaction(&state.store, f).await
}

/// Runs `f` in one read transaction off the async workers (GET routes: on
/// SQLite they never wait for the write lock).
pub(crate) async fn read<T, F>(state: &ScimState, f: F) -> Result<T, AdminError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AdminError> + Send + 'static,
{
    let store = state.store.clone();
    actix_web::web::block(move || store.read_with(f)).await?
}

/// The tenant named by the URL, or 404.
pub(crate) fn tenant(conn: &mut DbConnection, slug: &str) -> Result<Tenant, AdminError> {
    if slug.contains('\0') {
        // No slug has one, and PostgreSQL text cannot even hold it.
        return Err(AdminError::NotFound(format!("no tenant {slug:?}")));
    }
    match store_tenants::get_by_slug(conn, slug) {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound | StoreError::InvalidInput(_)) => {
            Err(AdminError::NotFound(format!("no tenant {slug:?}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Appends an action of `actor` (the admin API, or a console user) to the
/// tenant's audit log.
pub(crate) fn audit_as(
    conn: &mut DbConnection,
    actor: &str,
    tenant_id: &str,
    action: &str,
    target_type: &str,
    target_id: Option<&str>,
    details: &Value,
) -> Result<(), StoreError> {
    audit::append(
        conn,
        tenant_id,
        &audit::NewAuditRecord {
            actor,
            action,
            target_type,
            target_id,
            details,
        },
    )?;
    Ok(())
}

/// A JSON object body (an empty body is `{}`), or 400.
pub(crate) fn object_body(body: &[u8]) -> Result<Map<String, Value>, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AdminError::BadRequest(
            "body: expected a JSON object".to_owned(),
        )),
        Err(e) => Err(AdminError::BadRequest(format!("body: invalid JSON: {e}"))),
    }
}

/// Refuses keys other than `allowed`.
pub(crate) fn only_keys(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), AdminError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(AdminError::BadRequest(format!(
            "{k}: unknown field; expected one of {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A key that is absent (`None`), a boolean (`Some(Some(b))`) or, when
/// `nullable`, `null` (`Some(None)`).
pub(crate) fn tri_state(
    map: &Map<String, Value>,
    key: &str,
    nullable: bool,
) -> Result<Option<Option<bool>>, AdminError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(Some(*b))),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(_) if nullable => Err(AdminError::BadRequest(format!(
            "{key}: expected true, false or null (null = inherit the tenant default)"
        ))),
        Some(_) => Err(AdminError::BadRequest(format!(
            "{key}: expected true or false"
        ))),
    }
}

/// `limit` and `after` of a list request.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageParams {
    after: Option<String>,
    limit: Option<String>,
}

/// Default and largest page sizes of admin lists.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
pub(crate) const MAX_LIMIT: u32 = 500;

impl PageParams {
    pub(crate) fn limit(&self) -> Result<u32, AdminError> {
        match self.limit.as_deref() {
            None | Some("") => Ok(DEFAULT_LIMIT),
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    AdminError::BadRequest(format!(
                        "limit: expected an integer from 1 to {MAX_LIMIT}"
                    ))
                }),
        }
    }

    pub(crate) fn after(&self) -> Result<Option<&str>, AdminError> {
        match self.after.as_deref() {
            None | Some("") => Ok(None),
            Some(a) if a.contains('\0') => Err(AdminError::BadRequest(
                "after: not a cursor from a previous page's next".to_owned(),
            )),
            Some(a) => Ok(Some(a)),
        }
    }
}

/// `{"items": [...], "next": ...}`: `next` is the cursor after the last item
/// when the page is full.
pub(crate) fn page(items: Vec<Value>, limit: u32, next: Option<String>) -> HttpResponse {
    let full = u32::try_from(items.len()).is_ok_and(|n| n >= limit);
    HttpResponse::Ok().json(json!({
        "items": items,
        "next": if full { next } else { None },
    }))
}

/// A timestamp as the admin API prints it (RFC 3339, UTC).
pub(crate) fn ts(t: DateTime<Utc>) -> Value {
    json!(t)
}

#[cfg(test)]
mod openapi_tests {
    use std::collections::BTreeSet;

    /// `(path, method)` of every route [`super::configure_admin_at`] registers,
    /// read from its source: each `web::resource("…")` and the
    /// `web::get()`/`post()`/… routes that follow it.
    fn registered() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let start = src
            .find("pub fn configure_admin_at")
            .expect("configure_admin_at");
        let end = src[start..].find("\n}\n").expect("its end") + start;
        let body = &src[start..end];
        let mut routes = BTreeSet::new();
        let mut resource: Option<String> = None;
        let mut rest = body;
        loop {
            let next_resource = rest.find("web::resource(\"");
            let next_method = ["get", "post", "put", "delete", "patch", "head"]
                .iter()
                .filter_map(|m| rest.find(&format!("web::{m}()")).map(|i| (i, *m)))
                .min();
            match (next_resource, next_method) {
                (Some(r), m) if m.is_none_or(|(i, _)| r < i) => {
                    let after = &rest[r + "web::resource(\"".len()..];
                    let close = after.find('"').expect("closing quote");
                    resource = Some(after[..close].to_owned());
                    rest = &after[close..];
                }
                (_, Some((i, m))) => {
                    let path = resource.clone().expect("a route outside a resource");
                    assert!(
                        routes.insert((path.clone(), m.to_owned())),
                        "{m} {path} registered twice"
                    );
                    rest = &rest[i + 1..];
                }
                _ => break,
            }
        }
        routes
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value =
            serde_json::from_str(super::OPENAPI_JSON).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], "/admin/v1");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path} has no summary"
                );
                assert!(
                    op["responses"].is_object(),
                    "{method} {path} has no responses"
                );
                // Every path parameter is declared.
                for name in path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                {
                    assert!(
                        op["parameters"].as_array().is_some_and(|ps| ps
                            .iter()
                            .any(|p| p["name"] == name && p["in"] == "path")),
                        "{method} {path}: parameter {name} undeclared"
                    );
                }
                out.insert((path.clone(), method.clone()));
            }
        }
        out
    }

    #[test]
    fn the_openapi_document_describes_exactly_the_registered_routes() {
        let registered = registered();
        assert!(registered.len() > 40, "the parser found {registered:?}");
        let documented = documented();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unregistered: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty() && unregistered.is_empty(),
            "routes without a description in admin/openapi.json: {undocumented:?}; described but not registered: {unregistered:?}"
        );
    }
}

//! [`ApiError`]: every failure of a SCIM request, rendered as an RFC 7644 §3.12
//! error body with `Content-Type: application/scim+json`; and
//! [`scim_error_bodies`], which gives the same shape to the responses actix-web
//! makes itself (unknown routes, wrong methods, oversized bodies).

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use scim_model::messages::{ScimError, ScimType};
use store_diesel::StoreError;

/// The SCIM media type, used on every response.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A failed SCIM request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error with its SCIM body (400, 404, 409, 412, ...).
    #[error("{0}")]
    Scim(ScimError),
    /// Missing, malformed, unknown or revoked credentials, or a token of another
    /// tenant: all look the same to the client (401 with `WWW-Authenticate`).
    #[error("unauthorized")]
    Unauthorized,
    /// A rate limit was reached (429 with `Retry-After`); nothing ran.
    #[error("too many requests: retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Whole seconds until a request would be allowed again.
        retry_after_secs: u64,
    },
    /// The database cannot be reached or is overloaded (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500). The detail goes to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ApiError::Scim(ScimError::bad_request(scim_type, detail))
    }

    /// A 404 naming what was not found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::Scim(ScimError::new(404, detail))
    }

    /// A 500 whose detail is logged only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    /// The SCIM body the client receives.
    pub fn body(&self) -> ScimError {
        match self {
            ApiError::Scim(e) => e.clone(),
            ApiError::Unauthorized => ScimError::new(
                401,
                "authentication failed: send 'Authorization: Bearer <token>' with this tenant's current Secret Token (or an OAuth access token of its client), and check that the tenant part of the Tenant URL is the token's tenant",
            ),
            ApiError::TooManyRequests { retry_after_secs } => ScimError::new(
                429,
                format!(
                    "too many requests: this client's rate limit was reached; retry after {retry_after_secs} s"
                ),
            ),
            ApiError::Unavailable(_) => {
                ScimError::new(503, "the service is temporarily unavailable; retry later")
            }
            ApiError::Internal(_) => ScimError::new(500, "internal server error"),
        }
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError::Scim(e)
    }
}

impl From<scim_model::FilterError> for ApiError {
    fn from(e: scim_model::FilterError) -> Self {
        ApiError::Scim(e.into())
    }
}

impl From<scim_model::PathError> for ApiError {
    fn from(e: scim_model::PathError) -> Self {
        ApiError::Scim(e.into())
    }
}

impl From<scim_model::resource::ResourceError> for ApiError {
    fn from(e: scim_model::resource::ResourceError) -> Self {
        ApiError::Scim(e.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource not found"),
            StoreError::Conflict { what } => ApiError::Scim(
                ScimError::new(409, format!("{what} is already in use in this tenant"))
                    .with_type(ScimType::Uniqueness),
            ),
            StoreError::PreconditionFailed { current } => ApiError::Scim(ScimError::new(
                412,
                format!(
                    "the resource was modified: its current version is {}",
                    scim_model::version_tag(current)
                ),
            )),
            StoreError::MissingReference { what } => {
                ApiError::bad_request(ScimType::InvalidValue, what)
            }
            StoreError::InvalidInput(what) => ApiError::bad_request(ScimType::InvalidValue, what),
            // A valid filter the store cannot run (e.g. on a user's `groups`
            // or a member's `display`): the client's request, not our failure.
            StoreError::UnsupportedFilter(what) => ApiError::bad_request(
                ScimType::InvalidFilter,
                format!("this server cannot run the filter: {what}"),
            ),
            StoreError::Unavailable(why) => ApiError::Unavailable(why),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::throttle::TooManyRequests> for ApiError {
    fn from(t: crate::throttle::TooManyRequests) -> Self {
        ApiError::TooManyRequests {
            retry_after_secs: t.retry_after_secs(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.body().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
        let body = self.body();
        let mut res = HttpResponse::build(self.status_code());
        res.content_type(SCIM_CONTENT_TYPE);
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"SCIM\""));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        res.json(body)
    }
}

/// The error body a family of routes speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// SCIM's error schema, `application/scim+json` (the SCIM routes, OAuth).
    Scim,
    /// `{"error": ...}`, `application/json` (the admin API and activation).
    Json,
}

/// Middleware for the whole App, for a service mounted at the root paths:
/// turns every error response without a JSON body (404 for unknown routes,
/// 405, 413 for oversized bodies, 5xx from anywhere) into a SCIM error body
/// with the same status (under `/admin/` and `/activate`: the admin API's
/// `{"error": ...}`). JSON and HTML error bodies pass unchanged.
///
/// It also rewrites the host application's own errors: mounted with
/// [`crate::ScimService`], each part carries its own error bodies and this
/// middleware is not needed.
pub fn scim_error_bodies<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res| scimify(res, None))
}

/// Middleware for one family of routes (what [`crate::ScimService`] wraps
/// each part in): like [`scim_error_bodies`], with the body style fixed
/// rather than guessed from the path.
pub fn error_bodies<B: 'static>(style: ErrorStyle) -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(move |res| scimify(res, Some(style)))
}

fn scimify<B>(
    res: ServiceResponse<B>,
    style: Option<ErrorStyle>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // SCIM errors pass unchanged, and so do other JSON error bodies (the admin
    // API's `{"error": ...}`) and HTML pages (the console): only other bodies
    // are rewritten.
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with(SCIM_CONTENT_TYPE)
                || v.starts_with("application/json")
                // The console's own HTML error pages.
                || v.starts_with("text/html")
        });
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status.as_u16() {
        404 => "no such endpoint or resource".to_owned(),
        405 => "this method is not allowed on this endpoint".to_owned(),
        408 => "the request body did not arrive in time; send it faster or in a smaller request"
            .to_owned(),
        413 => "the request body is too large".to_owned(),
        429 => "too many requests from this client address: retry after the number of seconds in Retry-After".to_owned(),
        503 => "the service is temporarily unavailable or the request took too long; a write may still complete: read the resource before retrying".to_owned(),
        s if s >= 500 => "internal server error".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let style = style.unwrap_or_else(|| style_of(res.request().path()));
    let (body, content_type) = error_body(style, status, &detail);
    let (req, mut old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = old.headers_mut().remove(&name).next() {
            new.insert_header((name, v));
        }
    }
    new.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)));
    let res = ServiceResponse::new(req, new.body(body)).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The body style of a request path at the root mount: the admin API and
/// activation speak `{"error": ...}`, everything else SCIM's error schema.
fn style_of(path: &str) -> ErrorStyle {
    if path.starts_with("/admin/") || path == "/activate" {
        ErrorStyle::Json
    } else {
        ErrorStyle::Scim
    }
}

fn error_body(style: ErrorStyle, status: StatusCode, detail: &str) -> (String, &'static str) {
    if style == ErrorStyle::Json {
        (
            serde_json::json!({"error": detail}).to_string(),
            "application/json",
        )
    } else {
        (
            serde_json::to_string(&ScimError::new(status.as_u16(), detail))
                .unwrap_or_else(|_| String::from("{}")),
            SCIM_CONTENT_TYPE,
        )
    }
}

/// A complete error response for a request to `path`: `{"error": detail}`
/// under `/admin/` and for `/activate`, a SCIM error body elsewhere. For
/// middleware that answers before a request reaches its route.
pub fn error_response_for(path: &str, status: StatusCode, detail: &str) -> HttpResponse {
    error_response_styled(style_of(path), status, detail)
}

/// The error style of a request: the one the part it reached marked it with
/// ([`crate::ScimService`] does), else guessed from the path as at the root
/// mount. For middleware that answers before a request reaches its route.
pub fn request_style(req: &actix_web::HttpRequest) -> ErrorStyle {
    use actix_web::HttpMessage as _;
    let marked = req.extensions().get::<ErrorStyle>().copied();
    marked.unwrap_or_else(|| style_of(req.path()))
}

/// A complete error response in `style`.
pub fn error_response_styled(style: ErrorStyle, status: StatusCode, detail: &str) -> HttpResponse {
    let (body, content_type) = error_body(style, status, detail);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .body(body)
}

/// The body type [`scim_error_bodies`] produces.
pub type ScimBody<B> = EitherBody<B>;

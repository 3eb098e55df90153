//! The web console (`/console`, documented in `docs/console.md`): the admin
//! portal of the setup guide as server-rendered pages, on the same port as
//! the SCIM and admin APIs.
//!
//! * Pages are askama templates (`templates/console/`), compiled and
//!   type-checked with this crate; the CSS and the small copy-button script
//!   (`assets/console/`) are compiled into the binary. Forms work without
//!   JavaScript.
//! * Every action calls the admin API's code (`admin::tenants`,
//!   `admin::people`, `admin::tenant_admins`, `admin::webhooks`,
//!   `admin::api_keys`; the pages in `pages`, `people`, `admins` and
//!   `webhooks`), audited under the signed-in
//!   person (`console:operator`, or `console:<email>` of a tenant
//!   administrator).
//! * The operator signs in with the admin token (or a token whose SHA-256 the
//!   configuration holds) and sees every tenant. Tenant administrators sign in
//!   with email and password, then a TOTP code or a recovery code (or enrol
//!   one, when their tenant requires a second factor and they have none), and
//!   see their own tenant only: a page of another tenant answers 404 as if it
//!   did not exist (`Signed`, for every route with a `{t}`). Sessions live in
//!   the database
//!   (`store_diesel::console_sessions`), expire when idle, and end at sign-out.
//! * Every response carries a strict Content-Security-Policy and
//!   `Cache-Control: no-store`; every form carries a CSRF token (per session;
//!   the sign-in form's is bound to a pre-session cookie) checked on every
//!   POST; cookies are `HttpOnly; SameSite=Strict; Path=<console path>`, and
//!   `Secure` when the public URL is https.
//! * The console can be mounted at any path: its links, redirects, form
//!   actions, asset URLs and cookie paths start with
//!   [`crate::ScimConfig::console_base_path`] (the public URL's path, then
//!   the configured console path), never a fixed `/console`.
//! * Failed sign-ins from one address are slowed down: each attempt waits
//!   longer the more recent failures that address has.

mod admins;
mod pages;
mod people;
mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use chrono::TimeDelta;

use crate::ScimState;
use crate::admin::AdminError;
use crate::auth::hashes_equal;
use store_diesel::console_sessions::{ConsoleSession, Scope};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "scim_console";
/// The sign-in form's pre-session CSRF cookie.
pub const LOGIN_COOKIE: &str = "scim_console_login";
/// The subject of the operator's sessions; the audit actor is `console:operator`.
pub const OPERATOR: &str = "operator";
/// Default idle timeout of a session.
pub const DEFAULT_IDLE: TimeDelta = TimeDelta::minutes(30);

/// The Content-Security-Policy of every console response: only this origin's
/// stylesheet and script, no inline code, no framing, forms post here only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A console configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleConfigError {
    /// `--admin-token-sha256` is not 64 hex characters.
    #[error("--admin-token-sha256: expected the SHA-256 of the admin token as 64 hex characters")]
    BadHash,
}

/// Configuration and sign-in throttle of the console, shared as `web::Data`.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// Hex SHA-256 of every accepted admin token (empty: nobody can sign in).
    token_hashes: Vec<String>,
    /// A session unused for longer than this is refused.
    pub idle_timeout: TimeDelta,
    throttle: Arc<Mutex<HashMap<IpAddr, Failures>>>,
    /// Wrong second-factor codes per half-signed-in session.
    code_failures: Arc<Mutex<HashMap<String, Failures>>>,
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("token_hashes", &self.token_hashes.len())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Wrong codes a half-signed-in session may send before it is ended (the
/// password must then be entered again).
const MAX_SECOND_FACTOR_FAILURES: u32 = 5;

/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(15 * 60);
/// Delay per recent failure before a sign-in attempt is checked.
const DELAY_PER_FAILURE: Duration = Duration::from_millis(500);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(5);

impl ConsoleConfig {
    /// Sign-in with `admin_token` and/or the token whose hex SHA-256 is
    /// `admin_token_sha256`; sessions expire after [`DEFAULT_IDLE`].
    ///
    /// # Errors
    /// [`ConsoleConfigError::BadHash`] when the hash is not 64 hex characters.
    pub fn new(
        admin_token: Option<&str>,
        admin_token_sha256: Option<&str>,
    ) -> Result<Self, ConsoleConfigError> {
        let mut token_hashes = Vec::new();
        if let Some(t) = admin_token.filter(|t| !t.is_empty()) {
            token_hashes.push(store_diesel::invitations::hash_secret(t));
        }
        if let Some(h) = admin_token_sha256.map(str::trim).filter(|h| !h.is_empty()) {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConsoleConfigError::BadHash);
            }
            token_hashes.push(h.to_ascii_lowercase());
        }
        Ok(ConsoleConfig {
            token_hashes,
            idle_timeout: DEFAULT_IDLE,
            throttle: Arc::default(),
            code_failures: Arc::default(),
        })
    }

    /// Whether anybody can sign in.
    pub fn enabled(&self) -> bool {
        !self.token_hashes.is_empty()
    }

    /// Whether `presented` is an accepted admin token (constant time per hash).
    fn token_ok(&self, presented: &str) -> bool {
        let h = store_diesel::invitations::hash_secret(presented);
        self.token_hashes
            .iter()
            .fold(false, |ok, want| hashes_equal(&h, want) | ok)
    }

    /// How long a sign-in attempt from `addr` waits before it is checked.
    fn delay_for(&self, addr: Option<IpAddr>) -> Duration {
        let Some(addr) = addr else {
            return Duration::ZERO;
        };
        let Ok(mut map) = self.throttle.lock() else {
            return MAX_DELAY;
        };
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY);
        map.get(&addr)
            .map(|f| DELAY_PER_FAILURE.saturating_mul(f.count).min(MAX_DELAY))
            .unwrap_or(Duration::ZERO)
    }

    /// Counts a wrong second-factor code of session `id`; `true` when the
    /// session has had too many and must end.
    fn code_failed(&self, id: &str) -> bool {
        let Ok(mut map) = self.code_failures.lock() else {
            return true;
        };
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY);
        let f = map.entry(id.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        f.count >= MAX_SECOND_FACTOR_FAILURES
    }

    fn forget_code_failures(&self, id: &str) {
        if let Ok(mut map) = self.code_failures.lock() {
            map.remove(id);
        }
    }

    fn record(&self, addr: Option<IpAddr>, success: bool) {
        let (Some(addr), Ok(mut map)) = (addr, self.throttle.lock()) else {
            return;
        };
        if success {
            map.remove(&addr);
        } else {
            let f = map.entry(addr).or_insert(Failures {
                count: 0,
                last: Instant::now(),
            });
            f.count = f.count.saturating_add(1);
            f.last = Instant::now();
        }
    }
}

/// A console request that cannot be answered with its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No (live) session: go to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// 403: a page for the operator only.
    #[error("{0}")]
    Forbidden(String),
    /// A POST without this session's CSRF token.
    #[error(
        "The form is out of date or was not sent by this console; reload the page and try again"
    )]
    Csrf,
    /// What the admin API's code refused.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A template failed to render.
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

impl From<store_diesel::StoreError> for ConsoleError {
    fn from(e: store_diesel::StoreError) -> Self {
        ConsoleError::Admin(e.into())
    }
}

impl From<actix_web::error::BlockingError> for ConsoleError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ConsoleError::Admin(e.into())
    }
}

impl ConsoleError {
    /// The response of this error for a console whose pages are under
    /// `base` ([`crate::ScimConfig::console_base_path`]). Logs nothing
    /// ([`ResponseError::error_response`] logs server-side failures once).
    pub fn response_at(&self, base: &str) -> HttpResponse {
        if matches!(self, ConsoleError::SignIn) {
            return see_other(&format!("{base}/login"));
        }
        let message = match self {
            ConsoleError::Admin(AdminError::Internal(_)) | ConsoleError::Render(_) => {
                "Something went wrong on the server; it has been logged.".to_owned()
            }
            ConsoleError::Admin(AdminError::Unavailable(_)) => {
                "The service is temporarily unavailable; try again shortly.".to_owned()
            }
            other => other.to_string(),
        };
        let status = self.status_code();
        let page = pages::MessagePage {
            csrf: None,
            base: base.to_owned(),
            heading: status.canonical_reason().unwrap_or("Error").to_owned(),
            message,
        };
        match page.render() {
            Ok(body) => html(status, body),
            Err(_) => HttpResponse::build(status).finish(),
        }
    }
}

/// The console's path of the request's service (see
/// [`crate::ScimConfig::console_base_path`]).
pub(crate) fn base(state: &ScimState) -> String {
    state.config.console_base_path()
}

/// Renders the console's errors for the path the console is mounted at: an
/// error type has no request to read it from, so [`ConsoleError`]'s own
/// [`ResponseError::error_response`] assumes `/console`, and this middleware
/// of the console's scope renders the page again with the service's path.
async fn errors_at_base(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let base = req
        .app_data::<web::Data<ScimState>>()
        .map(|state| base(state));
    let res = next.call(req).await?;
    let again = base.and_then(|base| {
        res.response()
            .error()
            .and_then(|e| e.as_error::<ConsoleError>())
            .map(|e| e.response_at(&base))
    });
    Ok(match again {
        Some(response) => res.into_response(response),
        None => res,
    })
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Csrf | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Admin(e) => e.status_code(),
            ConsoleError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::Admin(AdminError::Internal(detail)) => {
                tracing::error!(%detail, "console internal error");
            }
            ConsoleError::Admin(AdminError::Unavailable(detail)) => {
                tracing::warn!(%detail, "database unavailable");
            }
            ConsoleError::Render(e) => tracing::error!(error = %e, "console template failed"),
            _ => {}
        }
        // The console's scope renders it again at its own path
        // (`errors_at_base`).
        self.response_at("/console")
    }
}

/// An HTML response.
pub(crate) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// A `303 See Other` to `to`.
pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict`, `Secure` when the
/// public URL is https; `max_age` 0 deletes the cookie.
pub(crate) fn set_cookie(
    state: &ScimState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
) -> (header::HeaderName, String) {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.public_url.starts_with("https://") {
        c.push_str("; Secure");
    }
    (header::SET_COOKIE, c)
}

/// The signed-in person of a console request: an extractor that refuses
/// (sign-in page) without a live session, and records the request as the
/// session's latest use.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The session id from the cookie.
    session_id: String,
    /// Who signed in: `operator`, or a tenant administrator's email.
    pub subject: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The tenant administrator's account and tenant; `None` for the operator.
    pub scope: Option<Scope>,
    /// The console's path ([`crate::ScimConfig::console_base_path`]).
    base: String,
}

impl Signed {
    /// Refuses (403) a tenant administrator: the page is the operator's.
    pub fn require_operator(&self) -> Result<(), ConsoleError> {
        match self.scope {
            None => Ok(()),
            Some(_) => Err(ConsoleError::Forbidden(
                "This page is for the server's operator only.".to_owned(),
            )),
        }
    }

    /// Whether this person may see tenant `slug`: the operator sees every
    /// tenant, a tenant administrator only their own.
    pub fn may_see(&self, slug: &str) -> bool {
        self.scope.as_ref().is_none_or(|s| s.tenant_slug == slug)
    }

    /// The console's path ([`crate::ScimConfig::console_base_path`]): its
    /// pages are below it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The audit log's actor for this person's actions.
    pub fn actor(&self) -> String {
        format!("console:{}", self.subject)
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        if !presented.is_empty() && hashes_equal(presented, &self.csrf_token) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

/// The live session of the request's cookie (signed in or half-way), or
/// [`ConsoleError::SignIn`].
async fn session_of(
    id: Option<String>,
    state: Option<web::Data<ScimState>>,
    config: Option<web::Data<ConsoleConfig>>,
) -> Result<(String, ConsoleSession, String), ConsoleError> {
    let (Some(id), Some(state), Some(config)) = (id, state, config) else {
        return Err(ConsoleError::SignIn);
    };
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConsoleError::SignIn);
    }
    let base = base(&state);
    let idle = config.idle_timeout;
    let store = state.store.clone();
    let sid = id.clone();
    let session = web::block(move || {
        store.transaction(|c| store_diesel::console_sessions::touch(c, &sid, idle))
    })
    .await??;
    Ok((id, session.ok_or(ConsoleError::SignIn)?, base))
}

impl FromRequest for Signed {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Signed, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = cookie(req, SESSION_COOKIE);
        let state = req.app_data::<web::Data<ScimState>>().cloned();
        let config = req.app_data::<web::Data<ConsoleConfig>>().cloned();
        // The tenant of the URL, if the route has one: a tenant administrator
        // may open only their own.
        let slug = req.match_info().get("t").map(str::to_owned);
        Box::pin(async move {
            let (id, session, base) = session_of(id, state, config).await?;
            if session.pending.is_some() {
                // Password accepted, second factor outstanding: nobody yet.
                return Err(ConsoleError::SignIn);
            }
            let signed = Signed {
                session_id: id,
                subject: session.subject,
                csrf_token: session.csrf_token,
                scope: session.scope,
                base,
            };
            if let Some(slug) = slug.filter(|s| !signed.may_see(s)) {
                // The same answer as for a tenant that does not exist.
                return Err(ConsoleError::Admin(AdminError::NotFound(format!(
                    "no tenant {slug:?}"
                ))));
            }
            Ok(signed)
        })
    }
}

/// A tenant administrator half-way through signing in: password accepted,
/// second factor (`step`: `totp` or `enrol`) outstanding.
#[derive(Debug, Clone)]
pub struct Pending {
    session_id: String,
    /// The administrator's email.
    pub subject: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The account and tenant.
    pub scope: Scope,
    /// `totp` (enter a code) or `enrol` (set up a second factor first).
    pub step: String,
    /// The console's path ([`crate::ScimConfig::console_base_path`]).
    base: String,
}

impl FromRequest for Pending {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Pending, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = cookie(req, SESSION_COOKIE);
        let state = req.app_data::<web::Data<ScimState>>().cloned();
        let config = req.app_data::<web::Data<ConsoleConfig>>().cloned();
        Box::pin(async move {
            let (id, session, base) = session_of(id, state, config).await?;
            match (session.scope, session.pending) {
                (Some(scope), Some(step)) => Ok(Pending {
                    session_id: id,
                    subject: session.subject,
                    csrf_token: session.csrf_token,
                    scope,
                    step,
                    base,
                }),
                _ => Err(ConsoleError::SignIn),
            }
        })
    }
}

/// Registers the console under `/console`. Needs `web::Data<ScimState>`,
/// `web::Data<AdminConfig>` and `web::Data<ConsoleConfig>` in the app.
pub fn configure_console(cfg: &mut web::ServiceConfig) {
    configure_console_at(cfg, "/console");
}

/// [`configure_console`] under `path` (`""`: at the enclosing scope's
/// path). The console's pages link to
/// [`crate::ScimConfig::console_base_path`] (the public URL's path, then
/// `paths.console` of [`ScimState`]'s configuration): mount it where that
/// path reaches it.
pub fn configure_console_at(cfg: &mut web::ServiceConfig, path: &str) {
    cfg.service(
        web::scope(path)
            .wrap(actix_web::middleware::from_fn(errors_at_base))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .service(web::resource("").route(web::get().to(pages::home)))
            .service(web::resource("/").route(web::get().to(pages::home)))
            .service(
                web::resource("/login")
                    .route(web::get().to(pages::login_form))
                    .route(web::post().to(pages::login)),
            )
            .service(web::resource("/logout").route(web::post().to(pages::logout)))
            .service(
                web::resource("/login/second-factor")
                    .route(web::get().to(admins::second_factor_form))
                    .route(web::post().to(admins::second_factor)),
            )
            .service(
                web::resource("/login/enrol")
                    .route(web::get().to(admins::enrol_form))
                    .route(web::post().to(admins::enrol)),
            )
            .service(
                web::resource("/set-password")
                    .route(web::get().to(admins::set_password_form))
                    .route(web::post().to(admins::set_password)),
            )
            .service(
                web::resource("/tenants/{t}/admins")
                    .route(web::get().to(admins::admins))
                    .route(web::post().to(admins::create)),
            )
            .service(
                web::resource("/tenants/{t}/admins/second-factor")
                    .route(web::post().to(admins::second_factor_setting)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/disable")
                    .route(web::post().to(admins::disable)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/link")
                    .route(web::post().to(admins::new_link)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/enable")
                    .route(web::post().to(admins::enable)),
            )
            .service(
                web::resource("/tenants/{t}/admins/{id}/reset-second-factor")
                    .route(web::post().to(admins::reset_second_factor)),
            )
            .service(
                web::resource("/tenants")
                    .route(web::get().to(pages::tenants))
                    .route(web::post().to(people::create_tenant)),
            )
            .service(
                web::resource("/tenants/{t}/settings/integrations")
                    .route(web::get().to(pages::integrations)),
            )
            .service(
                web::resource("/tenants/{t}/settings/integrations/token")
                    .route(web::post().to(pages::generate)),
            )
            .service(
                web::resource("/tenants/{t}/settings/integrations/oauth-client")
                    .route(web::post().to(pages::oauth_client)),
            )
            .service(
                web::resource("/tenants/{t}/settings/integrations/oauth-client/delete")
                    .route(web::post().to(pages::delete_oauth_client)),
            )
            .service(
                web::resource("/tenants/{t}/settings/integrations/oauth-only")
                    .route(web::post().to(pages::oauth_only)),
            )
            .service(
                web::resource("/tenants/{t}/settings/scim")
                    .route(web::get().to(pages::scim_settings))
                    .route(web::post().to(pages::save_scim_settings)),
            )
            .service(web::resource("/tenants/{t}/users").route(web::get().to(pages::users)))
            .service(web::resource("/tenants/{t}/users/{id}").route(web::get().to(people::user)))
            .service(
                web::resource("/tenants/{t}/users/{id}/settings")
                    .route(web::post().to(people::save_user_settings)),
            )
            .service(
                web::resource("/tenants/{t}/users/{id}/invite")
                    .route(web::post().to(people::invite)),
            )
            .service(web::resource("/tenants/{t}/groups").route(web::get().to(people::groups)))
            .service(web::resource("/tenants/{t}/groups/{id}").route(web::get().to(people::group)))
            .service(
                web::resource("/tenants/{t}/groups/{id}/settings")
                    .route(web::post().to(people::save_group_settings)),
            )
            .service(
                web::resource("/tenants/{t}/invitations").route(web::get().to(people::invitations)),
            )
            .service(
                web::resource("/tenants/{t}/admin-checkins")
                    .route(web::post().to(people::check_in)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks")
                    .route(web::get().to(webhooks::webhooks))
                    .route(web::post().to(webhooks::register)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}")
                    .route(web::get().to(webhooks::endpoint)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/rotate")
                    .route(web::post().to(webhooks::rotate)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/enabled")
                    .route(web::post().to(webhooks::set_enabled)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/delete")
                    .route(web::post().to(webhooks::delete)),
            )
            .service(
                web::resource("/tenants/{t}/webhooks/{id}/replay")
                    .route(web::post().to(webhooks::replay)),
            )
            .service(
                web::resource("/tenants/{t}/api-keys").route(web::post().to(webhooks::create_key)),
            )
            .service(
                web::resource("/tenants/{t}/api-keys/{id}/revoke")
                    .route(web::post().to(webhooks::revoke_key)),
            )
            .service(web::resource("/tenants/{t}/audit").route(web::get().to(people::audit)))
            .service(web::resource("/tenants/{t}/activity").route(web::get().to(people::activity)))
            .service(web::resource("/assets/console.css").route(web::get().to(pages::css)))
            .service(web::resource("/assets/console.js").route(web::get().to(pages::js)))
            .default_service(web::to(pages::not_found)),
    );
}

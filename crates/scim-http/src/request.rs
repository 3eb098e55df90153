//! One request path for every SCIM route: [`ScimRequest`] extracts what a
//! handler needs (tenant segment, verified bearer claims, query, `If-Match`),
//! and runs the handler's database work in **one** blocking task, on **one**
//! pooled connection, in **one** transaction that also checks the token:
//!
//! * [`ScimRequest::read`]: a read transaction (SQLite: deferred `BEGIN`, so
//!   readers run beside the writer; PostgreSQL: `BEGIN READ ONLY`);
//! * [`ScimRequest::write`]: a write transaction (SQLite: `BEGIN IMMEDIATE`).
//!
//! The token check is one indexed join (tenant by slug and id, live token by
//! id) inside that transaction, so a regenerated Secret Token is refused on
//! its very next request on every replica sharing the database: nothing is
//! cached.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use store_diesel::events::NewEvent;
use store_diesel::tenants::{self, Tenant};
use store_diesel::{Backend, DbConnection, write_transaction_with};

use crate::auth::{AuthenticatedTenant, TokenClaims, bearer, hashes_equal, secret_token_opens};
use crate::respond::Query;
use crate::{ApiError, ScimConfig, ScimState};

/// Times a write is retried (each time from a fresh read, inside the same
/// transaction) when another writer changed the resource between our read and
/// our write and the client sent no `If-Match`.
pub(crate) const WRITE_ATTEMPTS: usize = 3;

/// The actor recorded in the audit log for SCIM writes.
pub(crate) const SCIM_ACTOR: &str = "scim";

/// A bearer value whose signature verified: the database still has to say
/// that it is the tenant's live Secret Token, or an access token of the
/// tenant's current OAuth client.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// A Secret Token.
    Secret {
        claims: TokenClaims,
        /// SHA-256 (hex) of the presented token, compared with the stored hash.
        hash: String,
    },
    /// An OAuth 2.0 access token (client credentials).
    Access(Box<crate::oauth::AccessClaims>),
}

impl Credential {
    /// The tenant the (verified) token names.
    fn tenant_id(&self) -> &str {
        match self {
            Credential::Secret { claims, .. } => &claims.tid,
            Credential::Access(claims) => &claims.tid,
        }
    }
}

/// How [`ScimRequest::run`] wraps the work in a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A read transaction.
    Read,
    /// A read transaction for a small, bounded read: on SQLite it runs on the
    /// HTTP worker when a pooled connection is free at once.
    SmallRead,
    /// A write transaction, the work in a savepoint (a 4xx is undone and
    /// audited).
    Write,
    /// A write transaction; the work makes its own savepoints.
    WriteEach,
}

/// The work of one transaction: the connection, the authenticated tenant, the
/// request's clock and the service's limits.
pub(crate) struct Tx<'a> {
    /// The connection, inside the request's transaction.
    pub conn: &'a mut DbConnection,
    /// The tenant the token opened.
    pub tenant: &'a Tenant,
    /// One `now` for every row the request writes.
    pub now: DateTime<Utc>,
    /// Limits and URLs.
    pub config: &'a ScimConfig,
    /// The change events of this request's writes so far, appended to the
    /// feed just before commit (`change_events`); a failed savepoint drops its
    /// own.
    pub events: &'a mut Vec<NewEvent>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("tenant", &self.tenant.slug)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Tx<'_> {
    /// Runs `f` in a savepoint: its writes are undone when it fails, and the
    /// transaction stays usable (Bulk runs each operation so).
    pub(crate) fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let (tenant, now, config) = (self.tenant, self.now, self.config);
        let events = &mut *self.events;
        let mark = events.len();
        let result = write_transaction_with(self.conn, |conn| {
            f(&mut Tx {
                conn,
                tenant,
                now,
                config,
                events: &mut *events,
            })
        });
        if result.is_err() {
            events.truncate(mark);
        }
        result
    }

    /// Runs the read-modify-write `f` in a savepoint, again (from a fresh read)
    /// when it failed with 412 because another writer won a race and the
    /// client sent no `If-Match` (Entra ID and Okta never do).
    pub(crate) fn retrying<T>(
        &mut self,
        has_if_match: bool,
        f: impl Fn(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.savepoint(&f) {
                Err(ApiError::Scim(e))
                    if e.status == 412 && !has_if_match && attempt < WRITE_ATTEMPTS =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    /// The Tenant URL of the tenant.
    pub(crate) fn base_url(&self) -> String {
        self.config.tenant_url(&self.tenant.slug)
    }
}

/// Everything a SCIM handler takes from its request. Extracting it checks the
/// `Authorization` header's form and signature (no database); the database
/// half of the check runs in [`ScimRequest::read`] / [`ScimRequest::write`].
#[derive(Debug)]
pub(crate) struct ScimRequest {
    req: HttpRequest,
    state: web::Data<ScimState>,
    slug: String,
    credential: Option<Credential>,
    query: Query,
    if_match: Option<String>,
}

impl FromRequest for ScimRequest {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        // No bearer value, or one this server did not sign: 401 before the
        // body is even read.
        ready(Self::from_http(req).and_then(|r| {
            let throttle = req.app_data::<web::Data<crate::throttle::Throttle>>();
            if let Some(credential) = &r.credential {
                // Counted against the tenant the verified token names, before
                // any database work.
                if let Some(throttle) = throttle {
                    throttle.check_tenant(credential.tenant_id())?;
                }
                Ok(r)
            } else if bearer(req).is_none() {
                Err(r.refuse(None, "no bearer token"))
            } else {
                Err(r.refuse(
                    None,
                    "the bearer token is not one this server signed (another signing key?), or it expired",
                ))
            }
        }))
    }
}

/// Whether `token` carries this server's signature as a Secret Token or an
/// OAuth access token (no database: whether it is still current is checked in
/// the request's transaction).
pub(crate) fn signed_by_this_server(state: &ScimState, token: &str) -> bool {
    state.keys.verify(token).is_some()
        || crate::oauth::verify_access_token(state.keys.access_token_keys(), token).is_some()
}

impl ScimRequest {
    fn from_http(req: &HttpRequest) -> Result<Self, ApiError> {
        let state = req
            .app_data::<web::Data<ScimState>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("ScimState is not registered in the App"))?;
        // Slugs are lower-case: `/scim/v2/ACME` is tenant `acme`.
        let slug = req
            .match_info()
            .get("tenant")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let credential = bearer(req).and_then(|token| match state.keys.verify(token) {
            Some(claims) => Some(Credential::Secret {
                claims,
                hash: store_diesel::tokens::hash_token(token),
            }),
            None => crate::oauth::verify_access_token(state.keys.access_token_keys(), token)
                .map(|claims| Credential::Access(Box::new(claims))),
        });
        let if_match = req
            .headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or("\"unreadable\"").to_owned());
        Ok(ScimRequest {
            query: Query::of(req),
            req: req.clone(),
            state,
            slug,
            credential,
            if_match,
        })
    }

    /// The server's keys.
    pub(crate) fn keys(&self) -> &crate::auth::TokenKeys {
        &self.state.keys
    }

    /// Limits and URLs of the service.
    pub(crate) fn config(&self) -> &ScimConfig {
        &self.state.config
    }

    /// The decoded query string.
    pub(crate) fn query(&self) -> &Query {
        &self.query
    }

    /// The `If-Match` header, if any.
    pub(crate) fn if_match(&self) -> Option<&str> {
        self.if_match.as_deref()
    }

    /// The `{id}` segment of the route.
    pub(crate) fn id(&self) -> String {
        self.segment("id")
    }

    /// A named segment of the route (empty when the route has none).
    pub(crate) fn segment(&self, name: &str) -> String {
        self.req
            .match_info()
            .get(name)
            .unwrap_or_default()
            .to_owned()
    }

    /// Parses the request body as JSON. A body that does not parse is
    /// answered 400 only to an authenticated client (401 otherwise): the
    /// token is checked first on this error path, so nothing about a request
    /// is revealed to a client whose token was revoked.
    pub(crate) async fn parse_body<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
    ) -> Result<T, ApiError> {
        self.checked(crate::respond::parse_body(body)).await
    }

    /// `result` of a check made before the transaction (query parameters,
    /// limits): an error goes back only after the token was checked, so an
    /// unauthenticated client always gets 401 first.
    pub(crate) async fn checked<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if result.is_err() {
            self.authenticate().await?;
        }
        result
    }

    /// Checks the token (in a read transaction) for routes that read nothing
    /// else; returns the tenant.
    pub(crate) async fn authenticate(&self) -> Result<Tenant, ApiError> {
        Ok(self.read(|_| Ok(())).await?.1)
    }

    /// The underlying request.
    pub(crate) fn http(&self) -> &HttpRequest {
        &self.req
    }

    /// Runs `f` in a read transaction after checking the token in it.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<(T, Tenant), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(Mode::Read, f).await
    }

    /// Runs `f` in a write transaction after checking the token in it;
    /// committed when `f` succeeds, rolled back otherwise.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<(T, Tenant), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(Mode::Write, f).await
    }

    /// Runs `f` in a write transaction after checking the token in it, like
    /// [`ScimRequest::write`] but without the request-wide savepoint: `f`
    /// makes its own (`POST /Bulk`, one per operation) and answers its
    /// failures itself; an `Err` from `f` rolls the whole transaction back
    /// and is not audited as a rejected write.
    ///
    /// Why: on SQLite a savepoint journals the original of every page first
    /// written under it, and a savepoint that stays open across a thousand
    /// operations keeps all of them (tens of MB per Bulk request, and
    /// time quadratic in the request's size to release the inner ones).
    pub(crate) async fn write_each<T, F>(&self, f: F) -> Result<(T, Tenant), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(Mode::WriteEach, f).await
    }

    /// [`ScimRequest::read`] for a read that is small and bounded (`small`:
    /// see [`crate::resource::ScimResource::small_get`]): on SQLite it runs on
    /// the HTTP worker when a pooled connection is free.
    pub(crate) async fn read_small<T, F>(&self, small: bool, f: F) -> Result<(T, Tenant), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let mode = if small { Mode::SmallRead } else { Mode::Read };
        self.run(mode, f).await
    }

    async fn run<T, F>(&self, mode: Mode, f: F) -> Result<(T, Tenant), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let credential = self.credential.clone().ok_or(ApiError::Unauthorized)?;
        let state = self.state.clone();
        let slug = self.slug.clone();
        let now = Utc::now();
        let write = matches!(mode, Mode::Write | Mode::WriteEach);
        // What a refused write's audit record names (writes only: no work on
        // the read path).
        let rejected = (mode == Mode::Write).then(|| {
            (
                format!("{} {}", self.req.method(), self.req.path()),
                rejected_target(&self.req),
            )
        });
        // A small read on SQLite runs right here on the HTTP worker when a
        // connection is free: it takes tens of microseconds, about what the
        // hand-off to the blocking pool and back costs (two context
        // switches). Everything else, and PostgreSQL (a network round
        // trip), goes to the blocking pool.
        let inline = if mode == Mode::SmallRead && state.store.backend() == Backend::Sqlite {
            state.store.try_conn()
        } else {
            None
        };
        let job = move |inline: Option<store_diesel::PooledDbConnection>| {
            let work = |conn: &mut DbConnection| {
                let tenant = match check_token(conn, &slug, &credential, now)? {
                    Ok(tenant) => tenant,
                    Err(rejection) => return Ok(Outcome::Refused(rejection)),
                };
                let mut events = Vec::new();
                let mut tx = Tx {
                    conn,
                    tenant: &tenant,
                    now,
                    config: &state.config,
                    events: &mut events,
                };
                let value = if mode == Mode::Write {
                    // The work runs in a savepoint: a write the client made
                    // fail (4xx) is undone, and then audited in the same
                    // transaction, which commits only that record.
                    match tx.savepoint(f) {
                        Ok(value) => value,
                        Err(ApiError::Scim(e)) if (400..500).contains(&e.status) => {
                            if let Some((line, target)) = &rejected {
                                audit_rejected(tx.conn, &tenant.id, line, target, &e)?;
                            }
                            return Ok(Outcome::Rejected(e, tenant.slug));
                        }
                        Err(other) => return Err(other),
                    }
                } else {
                    match f(&mut tx) {
                        Ok(value) => value,
                        Err(ApiError::Scim(e)) => return Ok(Outcome::Rejected(e, tenant.slug)),
                        Err(other) => return Err(other),
                    }
                };
                // Last, so the tenant's event lock is held only until commit.
                store_diesel::events::append_all(conn, &tenant.id, events)?;
                Ok::<_, ApiError>(Outcome::Done(value, tenant))
            };
            if let Some(mut conn) = inline {
                store_diesel::read_transaction_with(&mut conn, work)
            } else if write {
                state.store.transaction_with(work)
            } else {
                state.store.read_with(work)
            }
        };
        let outcome = match inline {
            Some(conn) => job(Some(conn))?,
            None => web::block(move || job(None)).await??,
        };
        match outcome {
            Outcome::Done(value, tenant) => {
                if let Some(throttle) = self.req.app_data::<web::Data<crate::throttle::Throttle>>()
                {
                    throttle.learn_tenant_limit(&tenant.id, tenant.rate_limit);
                }
                self.req
                    .extensions_mut()
                    .insert(AuthenticatedTenant(tenant.slug.clone()));
                Ok((value, tenant))
            }
            Outcome::Refused(rejection) => Err(self.refuse(rejection.tenant, rejection.reason)),
            Outcome::Rejected(e, slug) => {
                // The token opened the tenant: logs, metrics and the
                // Provisioning activity count the failure for it.
                self.req.extensions_mut().insert(AuthenticatedTenant(slug));
                Err(ApiError::Scim(e))
            }
        }
    }

    /// The 401 of a refused request: the reason goes to the operator's log
    /// (and, with the tenant when it exists, to the request's extensions for
    /// logs and metrics), never to the client.
    fn refuse(&self, tenant: Option<String>, reason: &'static str) -> ApiError {
        tracing::warn!(
            tenant = tenant.as_deref().unwrap_or("unknown"),
            url_tenant = %self.slug,
            reason,
            "SCIM request refused (401)"
        );
        self.req
            .extensions_mut()
            .insert(crate::auth::RefusedAuthentication { tenant, reason });
        ApiError::Unauthorized
    }
}

/// How a request's transaction ended.
enum Outcome<T> {
    /// The work succeeded (committed for a write).
    Done(T, Tenant),
    /// The token was refused (nothing ran).
    Refused(Rejection),
    /// An authenticated request the client made fail (a write: undone, and
    /// audited), with the tenant's slug.
    Rejected(scim_model::ScimError, String),
}

/// Audits a write the client made fail (its changes were rolled back): who
/// can see in the audit log what the directory tried and why it was refused.
pub(crate) fn audit_rejected(
    conn: &mut DbConnection,
    tenant_id: &str,
    request_line: &str,
    (target_type, target_id): &(&'static str, Option<String>),
    e: &scim_model::ScimError,
) -> Result<(), ApiError> {
    store_diesel::audit::append(
        conn,
        tenant_id,
        &store_diesel::audit::NewAuditRecord {
            actor: SCIM_ACTOR,
            action: "request.rejected",
            target_type,
            target_id: target_id.as_deref(),
            details: &serde_json::json!({
                "request": request_line,
                "status": e.status,
                "scimType": e.scim_type,
                "detail": e.detail,
            }),
        },
    )?;
    Ok(())
}

/// The resource a refused write names: its type from the route, its id.
fn rejected_target(req: &HttpRequest) -> (&'static str, Option<String>) {
    let pattern = req.match_pattern().unwrap_or_default();
    let kind = if pattern.contains("/Users") {
        "User"
    } else if pattern.contains("/Groups") {
        "Group"
    } else if pattern.contains("/Bulk") {
        "Bulk"
    } else {
        "Request"
    };
    // An id with a NUL names nothing (and PostgreSQL cannot store it).
    let id = req.match_info().get("id").filter(|id| !id.contains('\0'));
    (kind, id.map(str::to_owned))
}

/// Why the database refused a signed token, for the operator's log.
#[derive(Debug)]
struct Rejection {
    /// The URL's tenant, when it exists.
    tenant: Option<String>,
    reason: &'static str,
}

/// The database half of authentication: the tenant of the URL is the token's,
/// and the token is its live Secret Token (constant-time hash comparison; not
/// for an OAuth-only tenant) or an access token of its current OAuth client
/// (same client generation: rotation and deletion refuse it at once).
fn check_token(
    conn: &mut DbConnection,
    slug: &str,
    credential: &Credential,
    now: DateTime<Utc>,
) -> Result<Result<Tenant, Rejection>, ApiError> {
    if slug.contains('\0') {
        return Ok(Err(Rejection {
            tenant: None,
            reason: "no such tenant",
        }));
    }
    let (token_tenant_id, reason) = match credential {
        Credential::Secret { claims, hash } => {
            match tenants::with_live_token(conn, slug, &claims.tid, &claims.jti)? {
                Some(live) if secret_token_opens(&live, hash) => return Ok(Ok(live.tenant)),
                Some(live) if live.oauth_only => (
                    claims.tid.as_str(),
                    "the tenant accepts OAuth access tokens only, not its Secret Token",
                ),
                _ => (
                    claims.tid.as_str(),
                    "not the tenant's current Secret Token (regenerated or revoked)",
                ),
            }
        }
        Credential::Access(claims) => (
            claims.tid.as_str(),
            "the access token's OAuth client was rotated or deleted",
        ),
    };
    // The URL's tenant: for an access token the check itself, for a refused
    // Secret Token what the operator's log says about it.
    let tenant = match tenants::get_by_slug(conn, slug) {
        Ok(t) => t,
        Err(store_diesel::StoreError::NotFound | store_diesel::StoreError::InvalidInput(_)) => {
            return Ok(Err(Rejection {
                tenant: None,
                reason: "no such tenant (check the tenant part of the Tenant URL)",
            }));
        }
        Err(e) => return Err(e.into()),
    };
    if !hashes_equal(&tenant.id, token_tenant_id) {
        return Ok(Err(Rejection {
            tenant: Some(tenant.slug),
            reason: "a token of another tenant (check the tenant part of the Tenant URL)",
        }));
    }
    if let Credential::Access(claims) = credential
        && store_diesel::oauth::access_token_is_current(
            conn,
            &tenant.id,
            &claims.sub,
            claims.generation,
            now,
        )?
    {
        return Ok(Ok(tenant));
    }
    Ok(Err(Rejection {
        tenant: Some(tenant.slug),
        reason,
    }))
}

/// The body of a SCIM request, read up to the service's own
/// [`ScimConfig::max_body_bytes`] (what the ServiceProviderConfig advertises
/// as `bulk.maxPayloadSize`), whatever `PayloadConfig` the host App sets:
/// a larger body is `413` with a SCIM error before more of it is read.
/// Extract it after [`ScimRequest`], so an unauthenticated client gets `401`
/// before its body is read.
#[derive(Debug)]
pub(crate) struct ScimPayload(pub web::Bytes);

impl std::ops::Deref for ScimPayload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl FromRequest for ScimPayload {
    type Error = ApiError;
    type Future = futures_core::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<ScimState>>()
            .map_or(1024 * 1024, |s| s.config.max_body_bytes);
        let too_large = move || {
            ApiError::Scim(scim_model::ScimError::new(
                413,
                format!(
                    "the request body is larger than {limit} bytes (bulk.maxPayloadSize in /ServiceProviderConfig)"
                ),
            ))
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            let e = too_large();
            return Box::pin(async move { Err(e) });
        }
        let body = web::Payload::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| {
                ApiError::bad_request(
                    scim_model::ScimType::InvalidSyntax,
                    format!("the request body could not be read: {e}"),
                )
            })?;
            match body.to_bytes_limited(limit).await {
                Ok(Ok(bytes)) => Ok(ScimPayload(bytes)),
                Ok(Err(e)) => Err(ApiError::bad_request(
                    scim_model::ScimType::InvalidSyntax,
                    format!("the request body could not be read: {e}"),
                )),
                Err(_) => Err(too_large()),
            }
        })
    }
}

//! OAuth 2.0 client credentials (RFC 6749 §4.4) for the Entra ID gallery:
//! the token endpoint, the authorization-server metadata (RFC 8414) and the
//! access tokens they issue.
//!
//! * `POST /oauth/token` (form-encoded, `grant_type=client_credentials`,
//!   `scope=scim` or none) authenticates the tenant's OAuth client with
//!   `client_secret_basic`, `client_secret_post` or `private_key_jwt`
//!   (RFC 7523: a JWT signed RS256 or ES256 with a key of the client's
//!   registered JWK Set, usable once by its `jti`; nothing is fetched) and
//!   answers RFC 6749 §5.1 JSON with `Cache-Control: no-store`, or a §5.2
//!   error (`invalid_request`, `invalid_client` with 401 and
//!   `WWW-Authenticate: Basic`, `unsupported_grant_type`, `invalid_scope`).
//! * `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
//! * Access tokens are HS256 JWTs ([`AccessClaims`]) signed with a key derived
//!   from the server key ([`TokenKeys::access_token_keys`]) for the audience
//!   [`ACCESS_TOKEN_AUDIENCE`], so they are never Secret Tokens nor activation
//!   links, and those are never access tokens. They name the tenant, the
//!   client and the client's generation, and live [`OAuthConfig`]'s lifetime
//!   (60 minutes by default, 60 minutes to 6 hours).
//!
//! # Wiring access tokens into SCIM authentication
//!
//! An access token is valid for the tenant of the URL when, in this order:
//!
//! 1. [`verify_access_token`]`(state.keys.access_token_keys(), bearer)`
//!    returns claims (signature, audience, expiry);
//! 2. `claims.tid` is the tenant's id;
//! 3. [`store_diesel::oauth::access_token_is_current`]`(conn, &tenant.id,
//!    &claims.sub, claims.generation, now)` is `true` (one primary-key lookup: the
//!    client still exists with that id and generation, so rotation and
//!    deletion refuse tokens on their next request on every replica).
//!
//! [`authenticate_access_token`] does 1–3 in one call. A Secret Token is
//! refused for a tenant whose [`store_diesel::oauth::oauth_only`] flag is set.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store_diesel::oauth::{self as store_oauth, AuthenticatedClient};
use store_diesel::{DbConnection, StoreError};

use crate::ScimState;
use crate::auth::TokenKeys;
use crate::jwt::{self, Hs256Key};

/// The audience of OAuth access tokens.
pub const ACCESS_TOKEN_AUDIENCE: &str = "scim-oauth";
/// The one scope: the tenant's SCIM API.
pub const SCIM_SCOPE: &str = "scim";
/// Path of the token endpoint under the public URL.
pub const TOKEN_PATH: &str = "/oauth/token";
/// Path of the RFC 8414 metadata under the public URL.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// `client_assertion_type` of RFC 7523 client authentication.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Client authentication methods of the token endpoint (`private_key_jwt`
/// with the `private-key-jwt` feature).
#[cfg(feature = "private-key-jwt")]
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];
/// Client authentication methods of the token endpoint (`private_key_jwt`
/// with the `private-key-jwt` feature).
#[cfg(not(feature = "private-key-jwt"))]
pub const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];
/// Signature algorithms of client assertions (none without the
/// `private-key-jwt` feature).
#[cfg(feature = "private-key-jwt")]
pub const ASSERTION_ALGORITHMS: &[&str] = &["RS256", "ES256"];
/// Signature algorithms of client assertions (none without the
/// `private-key-jwt` feature).
#[cfg(not(feature = "private-key-jwt"))]
pub const ASSERTION_ALGORITHMS: &[&str] = &[];

/// How to authenticate, for the errors of the token endpoint.
#[cfg(feature = "private-key-jwt")]
const METHODS_HINT: &str = "use HTTP Basic with the client id and secret (client_secret_basic), client_id and client_secret in the body (client_secret_post), or a client assertion (private_key_jwt)";
/// How to authenticate, for the errors of the token endpoint.
#[cfg(not(feature = "private-key-jwt"))]
const METHODS_HINT: &str = "use HTTP Basic with the client id and secret (client_secret_basic), or client_id and client_secret in the body (client_secret_post)";
/// Most keys in a client's JWK Set.
pub const MAX_KEYS: usize = 10;

/// Settings of the token endpoint, as an optional `web::Data<OAuthConfig>`
/// (absent: [`OAuthConfig::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// Lifetime of access tokens (default 60 minutes).
    pub access_token_lifetime: TimeDelta,
}

/// An access-token lifetime outside what Entra ID accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token lifetime must be between 60 minutes and 6 hours")]
pub struct LifetimeError;

impl OAuthConfig {
    /// Shortest access-token lifetime (Entra ID: 60 minutes).
    pub const MIN_LIFETIME: TimeDelta = TimeDelta::minutes(60);
    /// Longest access-token lifetime (Entra ID: 6 hours).
    pub const MAX_LIFETIME: TimeDelta = TimeDelta::hours(6);

    /// A configuration with this access-token lifetime.
    ///
    /// # Errors
    /// [`LifetimeError`] outside [`Self::MIN_LIFETIME`]..=[`Self::MAX_LIFETIME`].
    pub fn with_lifetime(lifetime: TimeDelta) -> Result<Self, LifetimeError> {
        if (Self::MIN_LIFETIME..=Self::MAX_LIFETIME).contains(&lifetime) {
            Ok(OAuthConfig {
                access_token_lifetime: lifetime,
            })
        } else {
            Err(LifetimeError)
        }
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            access_token_lifetime: Self::MIN_LIFETIME,
        }
    }
}

/// Claims of an OAuth access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The issuer: the server's public URL.
    pub iss: String,
    /// The OAuth client id.
    pub sub: String,
    /// Always [`ACCESS_TOKEN_AUDIENCE`].
    pub aud: String,
    /// The tenant's id.
    pub tid: String,
    /// The client generation of the secret or key that obtained the token.
    pub generation: i64,
    /// Granted scope: always [`SCIM_SCOPE`].
    pub scope: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Token id (random), for logs and future revocation lists.
    pub jti: String,
}

impl jwt::Claims for AccessClaims {
    fn audience(&self) -> &str {
        &self.aud
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.exp)
    }
}

/// Access tokens: no leeway (the server issued them on its own clock).
const ACCESS_TOKEN_VALIDATION: jwt::Validation<'static> = jwt::Validation {
    audience: ACCESS_TOKEN_AUDIENCE,
    leeway: 0,
};

/// A key that cannot sign access tokens.
#[derive(Debug, thiserror::Error)]
#[error("the access-token key is unusable: {0}")]
pub struct AccessKeyError(String);

/// Signing and verification keys of access tokens. [`TokenKeys`] derives
/// them once, when it is built ([`TokenKeys::access_token_keys`]).
#[derive(Clone)]
pub struct AccessTokenKeys {
    current: Hs256Key,
    /// Keys derived from previous server keys, with the end of their grace
    /// period: access tokens they signed verify until then (and until they
    /// expire).
    previous: Vec<(Hs256Key, Option<DateTime<Utc>>)>,
}

impl std::fmt::Debug for AccessTokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokenKeys(***)")
    }
}

/// The label the access-token key is derived with.
const KEY_LABEL: &str = "oauth-access-token-key";

impl AccessTokenKeys {
    /// The access-token keys of the server keys behind `keys`: for each, the
    /// HMAC-SHA256 of a fixed label under the server key (the HS256
    /// signature of a fixed JWT), so every replica with the same server key
    /// derives the same key, and access tokens are signed with a key of their
    /// own, not the Secret Tokens' key. [`TokenKeys`] derived them when it
    /// was built: this is a copy ([`TokenKeys::access_token_keys`] borrows
    /// them).
    ///
    /// # Errors
    /// None since the keys are derived when [`TokenKeys`] is built; kept for
    /// callers written against the earlier signature.
    pub fn derive(keys: &TokenKeys) -> Result<Self, AccessKeyError> {
        Ok(keys.access_token_keys().clone())
    }

    /// The access-token key of the server key `server`.
    pub(crate) fn of_server_key(server: &Hs256Key) -> Result<Self, AccessKeyError> {
        Ok(AccessTokenKeys {
            current: derived_key(server)?,
            previous: Vec::new(),
        })
    }

    /// Adds the access-token key of a previous server key, accepted until
    /// `until`.
    pub(crate) fn add_previous(
        &mut self,
        server: &Hs256Key,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), AccessKeyError> {
        self.previous.push((derived_key(server)?, until));
        Ok(())
    }

    /// Signs an access token for an authenticated client.
    ///
    /// # Errors
    /// When signing fails.
    pub fn issue(
        &self,
        issuer: &str,
        client: &AuthenticatedClient,
        now: DateTime<Utc>,
        lifetime: TimeDelta,
    ) -> Result<String, AccessKeyError> {
        let claims = AccessClaims {
            iss: issuer.to_owned(),
            sub: client.client_id.clone(),
            aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
            tid: client.tenant_id.clone(),
            generation: client.generation,
            scope: SCIM_SCOPE.to_owned(),
            iat: now.timestamp(),
            exp: (now + lifetime).timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jwt::encode(&self.current, None, &claims).map_err(|e| AccessKeyError(e.to_string()))
    }
}

/// The access-token secret of one server key (the signature of a fixed
/// kid-less JWT, unchanged since key ids were introduced).
fn derived_secret(server: &Hs256Key) -> Result<String, AccessKeyError> {
    let claims = crate::auth::TokenClaims {
        tid: KEY_LABEL.to_owned(),
        jti: "v1".to_owned(),
        iat: 0,
        exp: None,
        aud: crate::auth::SCIM_AUDIENCE.to_owned(),
    };
    let jwt = jwt::encode(server, None, &claims).map_err(|e| AccessKeyError(e.to_string()))?;
    jwt.rsplit_once('.')
        .map(|(_, sig)| sig.to_owned())
        .filter(|sig| sig.len() >= 32)
        .ok_or_else(|| AccessKeyError("the derivation gave no signature".to_owned()))
}

/// The access-token key of one server key.
fn derived_key(server: &Hs256Key) -> Result<Hs256Key, AccessKeyError> {
    Hs256Key::new(derived_secret(server)?.as_bytes()).map_err(|e| AccessKeyError(e.to_string()))
}

/// **For the SCIM authentication path.** Verifies an access token's
/// signature, audience and expiry (no leeway: the server issued it on its own
/// clock); `None` for anything else, including Secret Tokens and activation
/// links. The client's current state is checked separately, see the module
/// docs or [`authenticate_access_token`].
pub fn verify_access_token(keys: &AccessTokenKeys, token: &str) -> Option<AccessClaims> {
    let now = Utc::now();
    let candidates = std::iter::once(&keys.current)
        .chain(
            keys.previous
                .iter()
                .filter(|(_, until)| until.is_none_or(|until| now <= until))
                .map(|(key, _)| key),
        )
        .map(|key| (key, ()));
    jwt::decode::<AccessClaims, ()>(token, candidates, &ACCESS_TOKEN_VALIDATION, now.timestamp())
        .ok()
        .map(|(claims, ())| claims)
        .filter(|c| c.scope == SCIM_SCOPE)
}

/// **For the SCIM authentication path.** Steps 1–3 of the module docs in one
/// call, to run off the async workers (it does one primary-key lookup):
/// `Some(claims)` when `token` is an access token of the tenant `tenant_id`'s
/// OAuth client as it is at `now`; `None` otherwise (answer 401).
///
/// # Errors
/// Database errors only.
pub fn authenticate_access_token(
    conn: &mut DbConnection,
    keys: &AccessTokenKeys,
    tenant_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<AccessClaims>, StoreError> {
    let Some(claims) = verify_access_token(keys, token) else {
        return Ok(None);
    };
    if !crate::auth::hashes_equal(&claims.tid, tenant_id) {
        return Ok(None);
    }
    let live =
        store_oauth::access_token_is_current(conn, tenant_id, &claims.sub, claims.generation, now)?;
    Ok(live.then_some(claims))
}

/// Registers `POST /oauth/token` and `GET /.well-known/oauth-authorization-server`.
/// Requires `web::Data<ScimState>`; reads an optional `web::Data<OAuthConfig>`.
/// Register it before [`crate::configure`].
pub fn configure_oauth(cfg: &mut web::ServiceConfig) {
    cfg.service(token_resource(TOKEN_PATH))
        .service(metadata_resource(METADATA_PATH));
}

/// The token endpoint (`POST`) at `path` (`""`: at the enclosing scope's path).
pub fn token_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .route(web::post().to(token))
        .default_service(web::to(token_method_not_allowed))
}

/// The authorization server metadata (`GET`) at `path`.
pub fn metadata_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .route(web::get().to(metadata))
        .default_service(web::to(metadata_method_not_allowed))
}

async fn metadata_method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .json(json!({
            "error": "invalid_request",
            "error_description": "the authorization server metadata is read with GET",
        }))
}

/// The token endpoint URL of a public URL, at the default path (see
/// [`crate::ScimConfig::token_endpoint`] for the configured one).
pub fn token_endpoint(public_url: &str) -> String {
    format!("{public_url}{TOKEN_PATH}")
}

async fn metadata(state: web::Data<ScimState>) -> HttpResponse {
    let issuer = &state.config.public_url;
    let mut body = json!({
        "issuer": issuer,
        "token_endpoint": state.config.token_endpoint(),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": [SCIM_SCOPE],
        "response_types_supported": [],
    });
    if !ASSERTION_ALGORITHMS.is_empty()
        && let Some(map) = body.as_object_mut()
    {
        map.insert(
            "token_endpoint_auth_signing_alg_values_supported".to_owned(),
            json!(ASSERTION_ALGORITHMS),
        );
    }
    HttpResponse::Ok().json(body)
}

// ---- errors (RFC 6749 §5.2) ----------------------------------------------------------

/// An error of the token endpoint, rendered as RFC 6749 §5.2 JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenError {
    code: &'static str,
    description: String,
}

impl TokenError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            code,
            description: description.into(),
        }
    }
    fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }

    fn response(&self) -> HttpResponse {
        let mut res = match self.code {
            // 401 for every failed client authentication, with the scheme of
            // the Authorization header this endpoint accepts.
            "invalid_client" => {
                let mut r = HttpResponse::Unauthorized();
                r.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"oauth\""));
                r
            }
            "server_error" => HttpResponse::InternalServerError(),
            "temporarily_unavailable" => {
                let mut r = HttpResponse::ServiceUnavailable();
                r.insert_header((header::RETRY_AFTER, "5"));
                r
            }
            _ => HttpResponse::BadRequest(),
        };
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(json!({"error": self.code, "error_description": self.description}))
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable at the token endpoint");
                TokenError::new(
                    "temporarily_unavailable",
                    "the service is temporarily unavailable; retry later",
                )
            }
            other => {
                tracing::error!(detail = %other, "token endpoint internal error");
                TokenError::new("server_error", "internal server error")
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for TokenError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        tracing::error!(detail = %e, "token endpoint: blocking task failed");
        TokenError::new("server_error", "internal server error")
    }
}

async fn token_method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "invalid_request",
            "error_description": "the token endpoint accepts only POST with an application/x-www-form-urlencoded body",
        }))
}

// ---- the token endpoint --------------------------------------------------------------

/// How the client authenticated. No `Debug`: it holds the secret.
enum ClientCredentials {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { client_id: String, secret: String },
    /// `private_key_jwt`.
    #[cfg(feature = "private-key-jwt")]
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
}

async fn token(
    req: HttpRequest,
    state: web::Data<ScimState>,
    config: Option<web::Data<OAuthConfig>>,
    body: web::Bytes,
) -> HttpResponse {
    match issue_token(&req, &state, config.as_ref().map(|c| c.get_ref()), &body).await {
        Ok(res) => res,
        Err(e) => e.response(),
    }
}

async fn issue_token(
    req: &HttpRequest,
    state: &ScimState,
    config: Option<&OAuthConfig>,
    body: &[u8],
) -> Result<HttpResponse, TokenError> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(TokenError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    let params = form_params(body)?;
    match params.get("grant_type").map(String::as_str) {
        None => {
            return Err(TokenError::invalid_request(
                "grant_type: required; this server supports client_credentials",
            ));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(TokenError::new(
                "unsupported_grant_type",
                "grant_type: this server supports only client_credentials",
            ));
        }
    }
    let credentials = client_credentials(req, &params)?;
    let scope = match params.get("scope") {
        None => SCIM_SCOPE,
        Some(s) if s.split(' ').all(|part| part == SCIM_SCOPE) => SCIM_SCOPE,
        Some(_) => {
            return Err(TokenError::new(
                "invalid_scope",
                "scope: the only scope is \"scim\"",
            ));
        }
    };
    let now = Utc::now();
    #[cfg(feature = "private-key-jwt")]
    let (issuer, endpoint) = (
        state.config.public_url.clone(),
        state.config.token_endpoint(),
    );
    let store = state.store.clone();
    let authenticated = web::block(move || -> Result<_, TokenError> {
        let mut conn = store.conn()?;
        match credentials {
            ClientCredentials::Secret { client_id, secret } => Ok(
                store_oauth::authenticate_secret(&mut conn, &client_id, &secret, now)?,
            ),
            #[cfg(feature = "private-key-jwt")]
            ClientCredentials::Assertion {
                client_id,
                assertion,
            } => authenticate_assertion(
                &mut conn,
                &issuer,
                &endpoint,
                client_id.as_deref(),
                &assertion,
                now,
            ),
        }
    })
    .await??;
    let client = authenticated.ok_or_else(|| {
        TokenError::invalid_client(
            "client authentication failed: unknown client or wrong credentials",
        )
    })?;
    let lifetime = config
        .map(|c| c.access_token_lifetime)
        .unwrap_or(OAuthConfig::MIN_LIFETIME);
    let access_token = state
        .keys
        .access_token_keys()
        .issue(&state.config.public_url, &client, now, lifetime)
        .map_err(|e| {
            tracing::error!(detail = %e, "token endpoint: signing failed");
            TokenError::new("server_error", "internal server error")
        })?;
    tracing::info!(
        tenant_id = %client.tenant_id,
        client_id = %client.client_id,
        generation = client.generation,
        "issued an OAuth access token"
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime.num_seconds(),
            "scope": scope,
        })))
}

/// The form's parameters; a parameter without a value counts as absent
/// (RFC 6749 §3.1) and a repeated one is refused (§3.2).
fn form_params(body: &[u8]) -> Result<std::collections::HashMap<String, String>, TokenError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| TokenError::invalid_request("the request body is not UTF-8"))?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(text)
        .map_err(|_| TokenError::invalid_request("the request body is not a valid form"))?
        .into_inner();
    let mut params = std::collections::HashMap::new();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        if params.insert(k.clone(), v).is_some() {
            return Err(TokenError::invalid_request(format!(
                "{k}: the parameter is repeated"
            )));
        }
    }
    Ok(params)
}

/// The client authentication of the request: exactly one method.
fn client_credentials(
    req: &HttpRequest,
    params: &std::collections::HashMap<String, String>,
) -> Result<ClientCredentials, TokenError> {
    let body_id = params.get("client_id").cloned();
    let body_secret = params.get("client_secret").cloned();
    let assertion_type = params.get("client_assertion_type");
    let assertion = params.get("client_assertion").cloned();
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().trim().to_owned());
    let several = || TokenError::invalid_request("use exactly one client authentication method");
    if let Some(value) = header {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value.as_str(), ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(TokenError::invalid_client(format!(
                "client authentication failed: {METHODS_HINT}"
            )));
        }
        if body_secret.is_some() || assertion.is_some() || assertion_type.is_some() {
            return Err(several());
        }
        let (client_id, secret) = basic_credentials(rest.trim()).ok_or_else(|| {
            TokenError::invalid_client("client authentication failed: malformed Basic credentials")
        })?;
        if body_id.as_ref().is_some_and(|id| *id != client_id) {
            return Err(TokenError::invalid_request(
                "client_id: differs from the client of the Authorization header",
            ));
        }
        return Ok(ClientCredentials::Secret { client_id, secret });
    }
    match (assertion_type, assertion) {
        (None, None) => {}
        (Some(t), Some(assertion)) => {
            if body_secret.is_some() {
                return Err(several());
            }
            if t != JWT_BEARER_ASSERTION {
                return Err(TokenError::invalid_client(format!(
                    "client_assertion_type: only {JWT_BEARER_ASSERTION} is supported"
                )));
            }
            #[cfg(not(feature = "private-key-jwt"))]
            {
                let _ = (body_id, assertion);
                return Err(TokenError::invalid_client(format!(
                    "client authentication failed: {PRIVATE_KEY_JWT_UNAVAILABLE}"
                )));
            }
            #[cfg(feature = "private-key-jwt")]
            return Ok(ClientCredentials::Assertion {
                client_id: body_id,
                assertion,
            });
        }
        (Some(_), None) => {
            return Err(TokenError::invalid_request(
                "client_assertion: required with client_assertion_type",
            ));
        }
        (None, Some(_)) => {
            return Err(TokenError::invalid_request(
                "client_assertion_type: required with client_assertion",
            ));
        }
    }
    match (body_id, body_secret) {
        (Some(client_id), Some(secret)) => Ok(ClientCredentials::Secret { client_id, secret }),
        _ => Err(TokenError::invalid_client(format!(
            "client authentication failed: no client credentials; {METHODS_HINT}"
        ))),
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let id = percent_decode(id)?;
    let secret = percent_decode(secret)?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

// ---- private_key_jwt (RFC 7523) -------------------------------------------------------

/// `private_key_jwt` client authentication: RS256 / ES256 client assertions
/// verified with the keys of the client's registered JWK Set. The only use of
/// asymmetric signatures, hence of `jsonwebtoken` and its RSA and
/// elliptic-curve crates, behind the `private-key-jwt` feature.
#[cfg(feature = "private-key-jwt")]
mod assertion {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::Map;

    /// Claims read from a client assertion.
    #[derive(Debug, Deserialize)]
    struct AssertionClaims {
        sub: String,
        exp: i64,
        #[serde(default)]
        jti: Option<String>,
    }

    /// Clock skew allowed on a client assertion's `exp`.
    const ASSERTION_LEEWAY_SECS: i64 = 60;

    /// The longest a client assertion may still be valid (RFC 7523 §3: an
    /// authorization server may refuse an `exp` unreasonably far in the future).
    const MAX_ASSERTION_LIFETIME_SECS: i64 = 3600;

    pub(super) fn authenticate_assertion(
        conn: &mut DbConnection,
        issuer: &str,
        endpoint: &str,
        body_client_id: Option<&str>,
        assertion: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthenticatedClient>, TokenError> {
        let refused =
            |why: &str| TokenError::invalid_client(format!("client authentication failed: {why}"));
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| refused("client_assertion is not a JWT"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refused(
                "client_assertion must be signed with RS256 or ES256",
            ));
        }
        // The client is named by the assertion; its signature is checked below
        // with that client's registered keys before anything is trusted.
        let unverified: AssertionClaims = jsonwebtoken::dangerous::insecure_decode(assertion)
            .map(|d| d.claims)
            .map_err(|_| refused("client_assertion needs iss, sub, aud and exp"))?;
        let client_id = unverified.sub;
        if body_client_id.is_some_and(|id| id != client_id) {
            return Err(TokenError::invalid_request(
                "client_id: differs from the sub of client_assertion",
            ));
        }
        let Some(client) = store_oauth::find_by_client_id(conn, &client_id)? else {
            return Ok(None);
        };
        // No registered keys: refused like an unknown client.
        let Some(jwks) = client.jwks.as_deref() else {
            return Ok(None);
        };
        let keys = parse_stored_jwks(jwks);
        let candidates = keys.iter().filter(|k| {
            k.alg == header.alg
                && header
                    .kid
                    .as_deref()
                    .is_none_or(|kid| k.kid.as_deref() == Some(kid))
        });
        let mut v = Validation::new(header.alg);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        v.set_audience(&[endpoint, issuer]);
        v.set_issuer(&[client_id.as_str()]);
        v.sub = Some(client_id.clone());
        v.leeway = ASSERTION_LEEWAY_SECS.unsigned_abs();
        for key in candidates {
            let Ok(data) = jsonwebtoken::decode::<AssertionClaims>(assertion, &key.key, &v) else {
                continue;
            };
            // `iss` and `sub` were checked by the validation.
            if data.claims.exp > now.timestamp() + MAX_ASSERTION_LIFETIME_SECS {
                return Err(refused(
                    "client_assertion expires too far in the future (at most one hour)",
                ));
            }
            // Each assertion works once (RFC 7523 §3, item 7), on every replica:
            // its jti is kept until the assertion can no longer pass.
            let Some(jti) = data.claims.jti.filter(|j| !j.is_empty()) else {
                return Err(refused("client_assertion needs a jti"));
            };
            let kept_until =
                DateTime::<Utc>::from_timestamp(data.claims.exp + ASSERTION_LEEWAY_SECS, 0)
                    .ok_or_else(|| refused("client_assertion has an invalid exp"))?;
            let first_use =
                match store_oauth::use_assertion_id(conn, &client.tenant_id, &jti, kept_until, now)
                {
                    Ok(first) => first,
                    Err(StoreError::InvalidInput(_)) => {
                        return Err(refused(&format!(
                            "the jti of client_assertion must have 1 to {} bytes",
                            store_oauth::MAX_ASSERTION_ID_LEN
                        )));
                    }
                    Err(e) => return Err(e.into()),
                };
            if !first_use {
                return Err(refused("client_assertion was already used (same jti)"));
            }
            return Ok(Some(AuthenticatedClient {
                tenant_id: client.tenant_id,
                client_id: client.client_id,
                generation: client.generation,
            }));
        }
        Ok(None)
    }

    /// A usable public key of a client's JWK Set.
    pub(super) struct ClientKey {
        kid: Option<String>,
        alg: Algorithm,
        key: DecodingKey,
    }

    pub(super) fn parse_stored_jwks(text: &str) -> Vec<ClientKey> {
        let Ok(Value::Object(set)) = serde_json::from_str::<Value>(text) else {
            return Vec::new();
        };
        match set.get("keys") {
            Some(Value::Array(keys)) => keys
                .iter()
                .filter_map(|k| k.as_object())
                .filter_map(|k| public_key(k).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn str_member<'a>(key: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
        match key.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
            Some(_) => Err(format!("\"{name}\" must be a non-empty string")),
        }
    }

    fn b64url_len(value: &str, name: &str) -> Result<usize, String> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .map(|b| b.len())
            .map_err(|_| format!("\"{name}\" is not base64url"))
    }

    /// Checks one JWK and returns its verification key: RSA (at least 2048 bits,
    /// RS256) or EC P-256 (ES256); public members only.
    fn public_key(key: &Map<String, Value>) -> Result<ClientKey, String> {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if key.contains_key(private) {
                return Err(format!(
                    "contains the private member \"{private}\": register the public key only"
                ));
            }
        }
        if let Some(u) = str_member(key, "use")?
            && u != "sig"
        {
            return Err("\"use\" must be \"sig\"".to_owned());
        }
        let kid = str_member(key, "kid")?.map(str::to_owned);
        let declared = str_member(key, "alg")?;
        let (alg, decoding) = match str_member(key, "kty")? {
            Some("RSA") => {
                let n = str_member(key, "n")?.ok_or("an RSA key needs \"n\"")?;
                let e = str_member(key, "e")?.ok_or("an RSA key needs \"e\"")?;
                if b64url_len(n, "n")? < 256 {
                    return Err("RSA keys must have at least 2048 bits".to_owned());
                }
                b64url_len(e, "e")?;
                let k = DecodingKey::from_rsa_components(n, e)
                    .map_err(|e| format!("not a usable RSA key: {e}"))?;
                (Algorithm::RS256, k)
            }
            Some("EC") => {
                if str_member(key, "crv")? != Some("P-256") {
                    return Err("EC keys must use the curve P-256 (ES256)".to_owned());
                }
                let x = str_member(key, "x")?.ok_or("an EC key needs \"x\"")?;
                let y = str_member(key, "y")?.ok_or("an EC key needs \"y\"")?;
                if b64url_len(x, "x")? != 32 || b64url_len(y, "y")? != 32 {
                    return Err("\"x\" and \"y\" of a P-256 key are 32 bytes each".to_owned());
                }
                let k = DecodingKey::from_ec_components(x, y)
                    .map_err(|e| format!("not a usable EC key: {e}"))?;
                (Algorithm::ES256, k)
            }
            _ => return Err("\"kty\" must be \"RSA\" or \"EC\"".to_owned()),
        };
        let expected = match alg {
            Algorithm::RS256 => "RS256",
            _ => "ES256",
        };
        if declared.is_some_and(|a| a != expected) {
            return Err(format!("\"alg\" must be {expected} for this key"));
        }
        Ok(ClientKey {
            kid,
            alg,
            key: decoding,
        })
    }

    /// Validates a JWK Set (or a single JWK) an admin registers and returns it
    /// normalised as `{"keys": [...]}` with public members only (`kty`, `kid`,
    /// `use`, `alg`, `n`, `e`, `crv`, `x`, `y`). The message of an error names the
    /// key (`jwks.keys[1]: ...`).
    pub(crate) fn normalize_jwks(value: &Value) -> Result<Value, String> {
        let keys: Vec<&Value> = match value {
            Value::Object(o) if o.contains_key("keys") => match o.get("keys") {
                Some(Value::Array(a)) => a.iter().collect(),
                _ => return Err("jwks.keys: expected an array of JWKs".to_owned()),
            },
            Value::Object(o) if o.contains_key("kty") => vec![value],
            _ => {
                return Err(
                    "jwks: expected a JWK Set {\"keys\": [...]} or a single public JWK".to_owned(),
                );
            }
        };
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(format!("jwks.keys: expected 1 to {MAX_KEYS} keys"));
        }
        let mut out = Vec::with_capacity(keys.len());
        let mut kids = std::collections::HashSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            let Value::Object(map) = key else {
                return Err(format!("jwks.keys[{i}]: expected a JWK object"));
            };
            let parsed = public_key(map).map_err(|e| format!("jwks.keys[{i}]: {e}"))?;
            if let Some(kid) = &parsed.kid
                && !kids.insert(kid.clone())
            {
                return Err(format!("jwks.keys[{i}]: the kid {kid:?} is used twice"));
            }
            let kept: Map<String, Value> = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"]
                .iter()
                .filter_map(|m| map.get(*m).map(|v| ((*m).to_owned(), v.clone())))
                .collect();
            out.push(Value::Object(kept));
        }
        Ok(json!({ "keys": out }))
    }
}

#[cfg(feature = "private-key-jwt")]
use assertion::authenticate_assertion;
#[cfg(feature = "private-key-jwt")]
pub(crate) use assertion::normalize_jwks;

/// Without the `private-key-jwt` feature no client registers keys: the
/// admin API refuses a `jwks` with this message.
#[cfg(not(feature = "private-key-jwt"))]
pub(crate) fn normalize_jwks(_value: &Value) -> Result<Value, String> {
    Err(PRIVATE_KEY_JWT_UNAVAILABLE.to_owned())
}

/// Why a `jwks` or a client assertion is refused by a build without the
/// `private-key-jwt` feature.
#[cfg(not(feature = "private-key-jwt"))]
const PRIVATE_KEY_JWT_UNAVAILABLE: &str = "private_key_jwt (client assertions checked with a registered JWK Set) is not available: this server is built without the private-key-jwt feature; use client_secret_basic or client_secret_post";

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn client(generation: i64) -> AuthenticatedClient {
        AuthenticatedClient {
            tenant_id: "tenant-1".to_owned(),
            client_id: "tenant-1.abc".to_owned(),
            generation,
        }
    }

    #[test]
    fn access_tokens_verify_until_they_expire() {
        let k = AccessTokenKeys::derive(&keys()).unwrap();
        let now = Utc::now();
        let t = k
            .issue("https://x", &client(3), now, TimeDelta::minutes(60))
            .unwrap();
        let claims = verify_access_token(&k, &t).unwrap();
        assert_eq!(claims.tid, "tenant-1");
        assert_eq!(claims.sub, "tenant-1.abc");
        assert_eq!(claims.generation, 3);
        assert_eq!(claims.aud, ACCESS_TOKEN_AUDIENCE);
        assert_eq!(claims.exp - claims.iat, 3600);
        let expired = k
            .issue(
                "https://x",
                &client(3),
                now - TimeDelta::minutes(61),
                TimeDelta::minutes(60),
            )
            .unwrap();
        assert!(verify_access_token(&k, &expired).is_none(), "expired");
        let other =
            AccessTokenKeys::derive(&TokenKeys::new(b"another key, another server.....").unwrap())
                .unwrap();
        assert!(verify_access_token(&other, &t).is_none());
        let mut tampered = t.clone();
        tampered.push('x');
        assert!(verify_access_token(&k, &tampered).is_none());
    }

    #[test]
    fn access_tokens_of_a_previous_key_verify_during_its_grace_period() {
        let old = keys();
        let t = AccessTokenKeys::derive(&old)
            .unwrap()
            .issue("https://x", &client(1), Utc::now(), TimeDelta::minutes(60))
            .unwrap();
        let new = b"the next server key, 32 bytes....";
        let rotated = TokenKeys::new(new)
            .unwrap()
            .with_previous(
                b"0123456789abcdef0123456789abcdef",
                Some(Utc::now() + TimeDelta::days(1)),
            )
            .unwrap();
        assert!(verify_access_token(&AccessTokenKeys::derive(&rotated).unwrap(), &t).is_some());
        let retired = TokenKeys::new(new)
            .unwrap()
            .with_previous(
                b"0123456789abcdef0123456789abcdef",
                Some(Utc::now() - TimeDelta::seconds(1)),
            )
            .unwrap();
        assert!(verify_access_token(&AccessTokenKeys::derive(&retired).unwrap(), &t).is_none());
        // The derivation does not depend on key ids: a replica of an older
        // version derives the same access-token key (HS256 over the JWT
        // {"typ":"JWT","alg":"HS256"}.{"tid":"oauth-access-token-key",
        // "jti":"v1","iat":0,"aud":"scim"}, computed independently).
        assert_eq!(
            derived_secret(&Hs256Key::new(b"0123456789abcdef0123456789abcdef").unwrap()).unwrap(),
            "22eVHqrp7uEwKG2Iuj-wHDVmppTkooYlroxxGYLSzKU"
        );
    }

    #[test]
    fn access_tokens_secret_tokens_and_links_never_mix() {
        let server = keys();
        let k = AccessTokenKeys::derive(&server).unwrap();
        let now = Utc::now();
        let access = k
            .issue("https://x", &client(1), now, TimeDelta::minutes(60))
            .unwrap();
        assert!(server.verify(&access).is_none(), "not a Secret Token");
        assert!(server.verify_activation(&access).is_err(), "not a link");
        let secret_token = server.mint("tenant-1", "tok", now, None).unwrap();
        assert!(verify_access_token(&k, &secret_token).is_none());
        let link = server
            .mint_activation("tenant-1", "u", "i", now, now + TimeDelta::days(1))
            .unwrap();
        assert!(verify_access_token(&k, &link).is_none());
        // The derived key is not the server key: an HS256 token with the
        // access-token audience signed by the server key itself is refused.
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &AccessClaims {
                iss: "https://x".to_owned(),
                sub: "tenant-1.abc".to_owned(),
                aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
                tid: "tenant-1".to_owned(),
                generation: 1,
                scope: SCIM_SCOPE.to_owned(),
                iat: now.timestamp(),
                exp: now.timestamp() + 60,
                jti: "j".to_owned(),
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
        )
        .unwrap();
        assert!(verify_access_token(&k, &forged).is_none());
    }

    /// The whole check the SCIM path will make, against a real store on
    /// both backends: tenant, client, generation and expiry.
    fn authenticate_against(db: &store_diesel::testing::TestDb) {
        use store_diesel::tenants;
        let store = db.store();
        let k = AccessTokenKeys::derive(&keys()).unwrap();
        let a = store.transaction(|c| tenants::create(c, "a", "A")).unwrap();
        let b = store.transaction(|c| tenants::create(c, "b", "B")).unwrap();
        let issued = store
            .transaction(|c| store_oauth::create_or_rotate(c, &a.id, TimeDelta::zero()))
            .unwrap();
        let now = Utc::now();
        let client = store
            .with_conn(|c| {
                store_oauth::authenticate_secret(c, &issued.client_id, &issued.client_secret, now)
            })
            .unwrap()
            .unwrap();
        let token = k
            .issue("https://x", &client, now, TimeDelta::minutes(60))
            .unwrap();
        let check = |tenant: &str, token: &str, at| {
            store
                .with_conn(|c| authenticate_access_token(c, &k, tenant, token, at))
                .unwrap()
        };
        assert_eq!(check(&a.id, &token, now).unwrap().tid, a.id);
        assert!(check(&b.id, &token, now).is_none(), "another tenant");
        let secret_token = keys().mint(&a.id, "tok", now, None).unwrap();
        assert!(check(&a.id, &secret_token, now).is_none(), "a Secret Token");
        let expired = k
            .issue(
                "https://x",
                &client,
                now - TimeDelta::minutes(61),
                TimeDelta::minutes(60),
            )
            .unwrap();
        assert!(check(&a.id, &expired, now).is_none(), "expired");

        // Rotation with a grace period keeps the token until it ends.
        store
            .transaction(|c| store_oauth::create_or_rotate(c, &a.id, TimeDelta::hours(1)))
            .unwrap();
        assert!(check(&a.id, &token, now).is_some());
        assert!(check(&a.id, &token, now + TimeDelta::minutes(61)).is_none());
        // Rotation without one refuses it at once; so does deletion.
        store
            .transaction(|c| store_oauth::create_or_rotate(c, &a.id, TimeDelta::zero()))
            .unwrap();
        assert!(check(&a.id, &token, now).is_none());
        let current = AuthenticatedClient {
            generation: 3,
            ..client
        };
        let fresh = k
            .issue("https://x", &current, now, TimeDelta::minutes(60))
            .unwrap();
        assert!(check(&a.id, &fresh, now).is_some());
        store
            .transaction(|c| store_oauth::delete(c, &a.id))
            .unwrap();
        assert!(check(&a.id, &fresh, now).is_none());
    }

    #[test]
    fn access_tokens_are_checked_against_the_client_on_sqlite() {
        authenticate_against(&store_diesel::testing::TestDb::sqlite());
    }

    #[test]
    fn access_tokens_are_checked_against_the_client_on_postgres() {
        if let Some(db) = store_diesel::testing::TestDb::postgres() {
            authenticate_against(&db);
        }
    }

    #[test]
    fn lifetimes_stay_between_one_and_six_hours() {
        assert_eq!(
            OAuthConfig::default().access_token_lifetime,
            TimeDelta::minutes(60)
        );
        assert!(OAuthConfig::with_lifetime(TimeDelta::minutes(59)).is_err());
        assert!(OAuthConfig::with_lifetime(TimeDelta::hours(6)).is_ok());
        assert!(OAuthConfig::with_lifetime(TimeDelta::minutes(361)).is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let enc = base64::engine::general_purpose::STANDARD.encode("a%2Eb+c:s%3Ae");
        assert_eq!(
            basic_credentials(&enc),
            Some(("a.b c".to_owned(), "s:e".to_owned()))
        );
        assert_eq!(basic_credentials("!!"), None);
        let empty = base64::engine::general_purpose::STANDARD.encode(":x");
        assert_eq!(basic_credentials(&empty), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[cfg(not(feature = "private-key-jwt"))]
    #[test]
    fn without_private_key_jwt_assertions_and_jwks_are_refused() {
        let req = actix_web::test::TestRequest::post().to_http_request();
        let params = [
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", "e30.e30.c2ln"),
            ("client_id", "tenant-1.abc"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let Err(e) = client_credentials(&req, &params) else {
            panic!("a client assertion was accepted")
        };
        assert_eq!(e.code, "invalid_client");
        assert!(
            e.description.contains("private-key-jwt"),
            "{}",
            e.description
        );
        let ec = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"});
        assert!(normalize_jwks(&ec).unwrap_err().contains("private-key-jwt"));
        assert_eq!(AUTH_METHODS, ["client_secret_basic", "client_secret_post"]);
        assert!(ASSERTION_ALGORITHMS.is_empty());
    }

    #[cfg(feature = "private-key-jwt")]
    #[test]
    fn jwks_are_checked_and_normalised() {
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "extra": 1});
        let set = normalize_jwks(&ec).unwrap();
        assert_eq!(set["keys"][0]["kid"], "k1");
        assert!(set["keys"][0].get("extra").is_none());
        let mut private = ec.clone();
        private["d"] = json!("abc");
        assert!(normalize_jwks(&private).unwrap_err().contains("private"));
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": "a", "y": "b"});
        assert!(normalize_jwks(&json!({"keys": [p384]})).is_err());
        let short_rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert!(normalize_jwks(&short_rsa).unwrap_err().contains("2048"));
        assert!(normalize_jwks(&json!({"keys": []})).is_err());
        assert!(normalize_jwks(&json!({"keys": [ec.clone(), ec.clone()]})).is_err());
        let wrong_alg = json!({"kty": "EC", "crv": "P-256", "alg": "RS256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        assert!(normalize_jwks(&wrong_alg).is_err());
        assert_eq!(assertion::parse_stored_jwks(&set.to_string()).len(), 1);
    }
}

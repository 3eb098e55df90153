//! Secret Tokens: HS256 JWTs naming a tenant and a token id, signed with the
//! server key, of which the database keeps only a SHA-256 hash.
//!
//! A request is authenticated when, in this order: the bearer value is a JWT with
//! a valid signature (and expiry, if one was set); its tenant is the tenant of the
//! URL; and its hash equals, in constant time, the hash of that tenant's **current**
//! token. Regenerating a token revokes the previous one in the database, so every
//! replica rejects it on its next request. Every failure is the same 401.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Claims of a Secret Token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The tenant's id.
    pub tid: String,
    /// The token's id (a row of `scim_tokens`).
    pub jti: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch); absent by default, as Entra ID expects a
    /// long-lived token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Audience: always [`SCIM_AUDIENCE`], so other JWTs signed with the same key
    /// (activation links) never open the SCIM API.
    pub aud: String,
}

/// The audience of Secret Tokens.
pub const SCIM_AUDIENCE: &str = "scim";

/// Signing and verification keys derived from the server key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Option<chrono::TimeDelta>,
    sealer: std::sync::Arc<crate::sealed::Sealer>,
    cursor_key: ring::hmac::Key,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

/// A server key that cannot sign (empty).
#[derive(Debug, thiserror::Error)]
#[error("the signing key is unusable: {0}")]
pub struct KeyError(String);

impl TokenKeys {
    /// Keys from the server's secret (at least 32 bytes recommended).
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError("it is empty".to_owned()));
        }
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret).map_err(|e| KeyError(e.to_string()))?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| KeyError(e.to_string()))?,
            ttl: None,
            sealer: std::sync::Arc::new(
                crate::sealed::Sealer::new(secret).map_err(|e| KeyError(e.to_string()))?,
            ),
            cursor_key: {
                let prk =
                    ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"scim-server list cursors")
                        .extract(secret);
                let okm = prk
                    .expand(&[b"v1 hmac-sha256"], ring::hmac::HMAC_SHA256)
                    .map_err(|_| KeyError("cannot derive the cursor key".to_owned()))?;
                ring::hmac::Key::from(okm)
            },
        })
    }

    /// The key that signs list cursors (RFC 9865 paging).
    pub(crate) fn cursor_key(&self) -> &ring::hmac::Key {
        &self.cursor_key
    }

    /// Encrypts and decrypts stored secrets (webhook signing secrets, TOTP
    /// seeds) with a key derived from the same server key.
    pub fn sealer(&self) -> &crate::sealed::Sealer {
        &self.sealer
    }

    /// Secret Tokens issued with [`TokenKeys::issue`] expire after `ttl`
    /// (`None`, the default: they never expire, as Entra ID expects a long-lived
    /// token; an expired token quarantines the provisioning job).
    pub fn with_ttl(mut self, ttl: Option<chrono::TimeDelta>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Signs a new Secret Token for `tenant_id` / `token_id`, expiring after the
    /// configured time to live, if any.
    pub fn issue(
        &self,
        tenant_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let expires_at = match self.ttl {
            Some(ttl) => Some(
                now.checked_add_signed(ttl)
                    .ok_or_else(|| KeyError("the token lifetime is out of range".to_owned()))?,
            ),
            None => None,
        };
        self.mint(tenant_id, token_id, now, expires_at)
    }

    /// Signs a Secret Token for `tenant_id` / `token_id`.
    pub fn mint(
        &self,
        tenant_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<String, KeyError> {
        let claims = TokenClaims {
            tid: tenant_id.to_owned(),
            jti: token_id.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.map(|t| t.timestamp()),
            aud: SCIM_AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Verifies the signature, audience and expiry of a presented token.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims.clear();
        v.set_audience(&[SCIM_AUDIENCE]);
        v.leeway = 30;
        jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// The audience of activation links, so a link never opens the SCIM API and a
/// Secret Token never activates anyone.
pub const ACTIVATION_AUDIENCE: &str = "activation";

/// Claims of the token in an activation link
/// (`{public-url}/activate?token=...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationClaims {
    /// The user's id.
    pub sub: String,
    /// The tenant's id.
    pub tid: String,
    /// The invitation's id (a row of `invitations`).
    pub jti: String,
    /// When the invitation was released (seconds since the epoch).
    pub iat: i64,
    /// When the link expires (seconds since the epoch).
    pub exp: i64,
    /// Always [`ACTIVATION_AUDIENCE`].
    pub aud: String,
}

/// Why an activation token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActivationTokenError {
    /// Signed by this server for activation, but past its expiry.
    #[error("the activation link has expired")]
    Expired,
    /// Not a token of this server's activation links.
    #[error("the activation link is not valid")]
    Invalid,
}

impl TokenKeys {
    /// Signs the token of an activation link. The same inputs give the same
    /// token (HS256 is deterministic), so a retried email carries the same
    /// link; the database keeps only its hash.
    pub fn mint_activation(
        &self,
        tenant_id: &str,
        user_id: &str,
        invitation_id: &str,
        released_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let claims = ActivationClaims {
            sub: user_id.to_owned(),
            tid: tenant_id.to_owned(),
            jti: invitation_id.to_owned(),
            iat: released_at.timestamp(),
            exp: expires_at.timestamp(),
            aud: ACTIVATION_AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Verifies the signature, audience and expiry (no leeway) of an
    /// activation token.
    pub fn verify_activation(&self, token: &str) -> Result<ActivationClaims, ActivationTokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        v.set_audience(&[ACTIVATION_AUDIENCE]);
        v.leeway = 0;
        jsonwebtoken::decode::<ActivationClaims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ActivationTokenError::Expired,
                _ => ActivationTokenError::Invalid,
            })
    }
}

/// The bearer value of the `Authorization` header, if it has the `Bearer` scheme
/// (any letter case).
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Whether a Secret Token whose SHA-256 is `presented_hash` opens the tenant
/// of `live`: it is the live token (constant-time comparison) and the tenant
/// does not accept OAuth access tokens only.
pub(crate) fn secret_token_opens(
    live: &store_diesel::tenants::LiveToken,
    presented_hash: &str,
) -> bool {
    !live.oauth_only && hashes_equal(&live.token_hash, presented_hash)
}

/// Compares two hashes in constant time.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Request extension set by [`authenticate`] on success: the slug of the tenant
/// the request was authenticated for. Middleware (logs, metrics) reads it
/// instead of the URL, whose tenant segment is whatever the client sent.
#[derive(Debug, Clone)]
pub struct AuthenticatedTenant(pub String);

/// Request extension set when a SCIM request is refused with 401: the URL's
/// tenant when it exists (so logs and metrics can name which tenant's
/// directory is failing; existing tenants are a closed set) and the reason,
/// for the operator only. The client always gets the same 401.
#[derive(Debug, Clone)]
pub struct RefusedAuthentication {
    /// The tenant of the URL, when such a tenant exists.
    pub tenant: Option<String>,
    /// Why the request was refused.
    pub reason: &'static str,
}

/// Authenticates a SCIM request for the tenant `slug` of its URL; see the module
/// docs. Runs its one indexed lookup (tenant and live token in one join) off
/// the async workers. On success the request carries an [`AuthenticatedTenant`]
/// extension. (The SCIM routes do the same check inside their own transaction;
/// this is for routes an embedder adds beside them.)
pub async fn authenticate(
    req: &HttpRequest,
    state: &crate::ScimState,
    slug: &str,
) -> Result<store_diesel::tenants::Tenant, crate::ApiError> {
    use crate::ApiError;
    use store_diesel::{StoreError, tenants, tokens};

    let token = bearer(req).ok_or(ApiError::Unauthorized)?;
    let claims = state.keys.verify(token).ok_or(ApiError::Unauthorized)?;
    let presented = tokens::hash_token(token);
    let slug = slug.to_owned();
    let store = state.store.clone();
    let found = actix_web::web::block(move || -> Result<Option<_>, StoreError> {
        let mut conn = store.conn()?;
        tenants::with_live_token(&mut conn, &slug, &claims.tid, &claims.jti)
    })
    .await??;
    let tenant = match found {
        Some(live) if !live.oauth_only && hashes_equal(&live.token_hash, &presented) => live.tenant,
        _ => return Err(ApiError::Unauthorized),
    };
    req.extensions_mut()
        .insert(AuthenticatedTenant(tenant.slug.clone()));
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_expire_only_when_a_lifetime_is_configured() {
        let forever = TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let t = forever.issue("t", "1", Utc::now()).unwrap();
        assert_eq!(forever.verify(&t).unwrap().exp, None);
        let daily = forever.clone().with_ttl(Some(chrono::TimeDelta::days(1)));
        let fresh = daily.issue("t", "2", Utc::now()).unwrap();
        let exp = daily.verify(&fresh).unwrap().exp.unwrap();
        assert!((exp - (Utc::now() + chrono::TimeDelta::days(1)).timestamp()).abs() < 5);
        let old = daily
            .issue("t", "3", Utc::now() - chrono::TimeDelta::days(2))
            .unwrap();
        assert!(daily.verify(&old).is_none(), "expired after its day");
        assert!(
            forever.verify(&old).is_none(),
            "expiry is in the token, not the keys"
        );
    }

    #[test]
    fn minted_tokens_verify_and_tampered_ones_do_not() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let t = keys.mint("tenant-1", "tok-1", Utc::now(), None).unwrap();
        let claims = keys.verify(&t).unwrap();
        assert_eq!(claims.tid, "tenant-1");
        assert_eq!(claims.jti, "tok-1");
        assert_eq!(claims.exp, None);
        let other = TokenKeys::new(b"another key, another server.....").unwrap();
        assert!(other.verify(&t).is_none());
        let mut tampered = t.clone();
        tampered.push('x');
        assert!(keys.verify(&tampered).is_none());
        let expired = keys
            .mint(
                "tenant-1",
                "tok-2",
                Utc::now() - chrono::Duration::days(2),
                Some(Utc::now() - chrono::Duration::days(1)),
            )
            .unwrap();
        assert!(keys.verify(&expired).is_none());
        assert!(TokenKeys::new(b"").is_err());
    }

    #[test]
    fn activation_tokens_are_deterministic_and_never_scim_tokens() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let now = Utc::now();
        let exp = now + chrono::Duration::days(7);
        let link = keys.mint_activation("t", "u", "i", now, exp).unwrap();
        assert_eq!(link, keys.mint_activation("t", "u", "i", now, exp).unwrap());
        let claims = keys.verify_activation(&link).unwrap();
        assert_eq!(
            (
                claims.tid.as_str(),
                claims.sub.as_str(),
                claims.jti.as_str()
            ),
            ("t", "u", "i")
        );
        // Audiences keep the two kinds apart.
        assert!(keys.verify(&link).is_none());
        let scim = keys.mint("t", "tok", now, None).unwrap();
        assert_eq!(
            keys.verify_activation(&scim),
            Err(ActivationTokenError::Invalid)
        );
        let old = keys
            .mint_activation(
                "t",
                "u",
                "i",
                now - chrono::Duration::days(8),
                now - chrono::Duration::days(1),
            )
            .unwrap();
        assert_eq!(
            keys.verify_activation(&old),
            Err(ActivationTokenError::Expired)
        );
        let other = TokenKeys::new(b"another key, another server.....").unwrap();
        assert_eq!(
            other.verify_activation(&link),
            Err(ActivationTokenError::Invalid)
        );
    }
}

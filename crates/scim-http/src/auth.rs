//! Secret Tokens: HS256 JWTs naming a tenant and a token id, signed with the
//! server key, of which the database keeps only a SHA-256 hash.
//!
//! A request is authenticated when, in this order: the bearer value is a JWT with
//! a valid signature (and expiry, if one was set); its tenant is the tenant of the
//! URL; and its hash equals, in constant time, the hash of that tenant's **current**
//! token. Regenerating a token revokes the previous one in the database, so every
//! replica rejects it on its next request. Every failure is the same 401.
//!
//! **Key rotation.** Tokens name the key that signed them (JWT header `kid`,
//! [`key_id`]). [`TokenKeys`] holds the current key, which signs everything
//! new, and any previous keys ([`TokenKeys::with_previous`]), each accepted
//! for verification until the end of its grace period and refused after it.
//! A token without `kid` (issued before key ids existed) is tried with the
//! current key, then the previous ones. Sealed secrets open with any of the
//! keys, grace or not (see [`crate::sealed`]); OAuth access tokens and
//! activation links verify with the previous keys during the grace period;
//! list cursors are signed and checked with the current key only (a walk in
//! progress during a rotation gets `invalidCursor` and starts again).

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::jwt::{self, Hs256Key, Jwt};

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

impl jwt::Claims for TokenClaims {
    fn audience(&self) -> &str {
        &self.aud
    }
    fn expires_at(&self) -> Option<i64> {
        self.exp
    }
}

/// Secret Tokens: 30 seconds of clock skew on `exp`.
const SECRET_TOKEN_VALIDATION: jwt::Validation<'static> = jwt::Validation {
    audience: SCIM_AUDIENCE,
    leeway: 30,
};

/// Signing and verification keys derived from the server key (and from
/// previous server keys during a rotation).
#[derive(Clone)]
pub struct TokenKeys {
    kid: String,
    secret: std::sync::Arc<[u8]>,
    hs256: Hs256Key,
    access: crate::oauth::AccessTokenKeys,
    ttl: Option<chrono::TimeDelta>,
    sealer: std::sync::Arc<crate::sealed::Sealer>,
    cursor_key: ring::hmac::Key,
    previous: Vec<PreviousKey>,
}

/// A previous server key: verifies until `until` (`None`: no end).
#[derive(Clone)]
struct PreviousKey {
    kid: String,
    secret: std::sync::Arc<[u8]>,
    hs256: Hs256Key,
    until: Option<DateTime<Utc>>,
}

/// The label of [`key_id`]'s HMAC.
const KEY_ID_LABEL: &[u8] = b"scim-server signing key fingerprint v1";

/// The fingerprint of a server key: HMAC-SHA256 keyed with it over a fixed
/// label, as hex. Reveals nothing usable about the key.
pub fn key_fingerprint(secret: &[u8]) -> String {
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        KEY_ID_LABEL,
    );
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The key id of a server key, as tokens name it in their `kid` header: the
/// first 16 hex digits of its [`key_fingerprint`]. Every replica derives the
/// same id from the same key.
pub fn key_id(secret: &[u8]) -> String {
    let mut fp = key_fingerprint(secret);
    fp.truncate(16);
    fp
}

/// One key [`TokenKeys`] knows, as [`TokenKeys::keys`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id.
    pub kid: String,
    /// Whether it signs new tokens.
    pub current: bool,
    /// For a previous key: when its tokens stop being accepted.
    pub verify_until: Option<DateTime<Utc>>,
}

/// Which key verified a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedBy {
    /// The current key.
    Current,
    /// A previous key, within its grace period.
    Previous,
}

/// Why a Secret Token was refused by [`TokenKeys::check`] (for the
/// operator's logs; clients see one 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Signed by a previous key whose grace period is over.
    RetiredKey,
    /// Not signed by any key of this server, malformed, or expired.
    Invalid,
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
        let hs256 = Hs256Key::new(secret).map_err(|e| KeyError(e.to_string()))?;
        Ok(TokenKeys {
            kid: key_id(secret),
            secret: secret.into(),
            previous: Vec::new(),
            access: crate::oauth::AccessTokenKeys::of_server_key(&hs256)
                .map_err(|e| KeyError(e.to_string()))?,
            hs256,
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

    /// Adds a previous server key: tokens it signed keep verifying until
    /// `verify_until` (`None`: until it is removed), and secrets it sealed keep
    /// opening. New tokens are still signed with the current key.
    ///
    /// # Errors
    /// When `secret` is empty or is the current key.
    pub fn with_previous(
        mut self,
        secret: &[u8],
        verify_until: Option<DateTime<Utc>>,
    ) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError("a previous key is empty".to_owned()));
        }
        let kid = key_id(secret);
        if kid == self.kid {
            return Err(KeyError(
                "a previous key is the same as the current key".to_owned(),
            ));
        }
        if self.previous.iter().any(|p| p.kid == kid) {
            return Ok(self);
        }
        let hs256 = Hs256Key::new(secret).map_err(|e| KeyError(e.to_string()))?;
        self.access
            .add_previous(&hs256, verify_until)
            .map_err(|e| KeyError(e.to_string()))?;
        self.previous.push(PreviousKey {
            kid,
            secret: secret.into(),
            hs256,
            until: verify_until,
        });
        let previous: Vec<&[u8]> = self.previous.iter().map(|p| &*p.secret).collect();
        self.sealer = std::sync::Arc::new(
            crate::sealed::Sealer::with_previous(&self.secret, &previous)
                .map_err(|e| KeyError(e.to_string()))?,
        );
        Ok(self)
    }

    /// The current key's id (the `kid` of every token signed now).
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// Every key: the current one first, then the previous ones.
    pub fn keys(&self) -> Vec<KeyInfo> {
        std::iter::once(KeyInfo {
            kid: self.kid.clone(),
            current: true,
            verify_until: None,
        })
        .chain(self.previous.iter().map(|p| KeyInfo {
            kid: p.kid.clone(),
            current: false,
            verify_until: p.until,
        }))
        .collect()
    }

    /// The keys of OAuth access tokens, derived from these keys when they
    /// were built (previous keys verify access tokens during their grace
    /// period).
    pub fn access_token_keys(&self) -> &crate::oauth::AccessTokenKeys {
        &self.access
    }

    /// The keys to try for a token whose header names `kid`, at `now`: the
    /// named key (refused when its grace is over), or for a token without
    /// `kid` the current key then the previous ones still in grace. No
    /// allocation: this runs on every SCIM request.
    fn candidates(
        &self,
        kid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<impl Iterator<Item = (&Hs256Key, VerifiedBy)>, TokenRefusal> {
        let in_grace = move |p: &&PreviousKey| p.until.is_none_or(|until| now <= until);
        let (current, previous): (bool, &[PreviousKey]) = match kid {
            Some(kid) if kid == self.kid => (true, &[]),
            Some(kid) => match self.previous.iter().find(|p| p.kid == kid) {
                Some(p) if in_grace(&p) => (false, std::slice::from_ref(p)),
                Some(_) => return Err(TokenRefusal::RetiredKey),
                None => return Err(TokenRefusal::Invalid),
            },
            None => (true, &self.previous),
        };
        Ok(current
            .then_some((&self.hs256, VerifiedBy::Current))
            .into_iter()
            .chain(
                previous
                    .iter()
                    .filter(in_grace)
                    .map(|p| (&p.hs256, VerifiedBy::Previous)),
            ))
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
        jwt::encode(&self.hs256, Some(&self.kid), &claims).map_err(|e| KeyError(e.to_string()))
    }

    /// Signs `claims` with the current key and no `kid` (as tokens were
    /// signed before key ids existed).
    #[cfg(test)]
    pub(crate) fn sign_without_kid<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        jwt::encode(&self.hs256, None, claims).map_err(|e| KeyError(e.to_string()))
    }

    /// Verifies the signature, audience and expiry of a presented token.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        self.check(token, Utc::now()).ok().map(|(claims, _)| claims)
    }

    /// [`TokenKeys::verify`] at `now` (for the grace periods), saying which
    /// key verified the token or why it was refused.
    ///
    /// # Errors
    /// [`TokenRefusal`].
    pub fn check(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(TokenClaims, VerifiedBy), TokenRefusal> {
        let jwt = Jwt::parse(token).map_err(|_| TokenRefusal::Invalid)?;
        let (_, by) = self
            .candidates(jwt.kid(), now)?
            .find(|(key, _)| jwt.signed_by(key))
            .ok_or(TokenRefusal::Invalid)?;
        let claims = jwt
            .claims(&SECRET_TOKEN_VALIDATION, now.timestamp())
            .map_err(|_| TokenRefusal::Invalid)?;
        Ok((claims, by))
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

impl jwt::Claims for ActivationClaims {
    fn audience(&self) -> &str {
        &self.aud
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.exp)
    }
}

/// Activation links: no leeway.
const ACTIVATION_VALIDATION: jwt::Validation<'static> = jwt::Validation {
    audience: ACTIVATION_AUDIENCE,
    leeway: 0,
};

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
        jwt::encode(&self.hs256, None, &claims).map_err(|e| KeyError(e.to_string()))
    }

    /// Verifies the signature, audience and expiry (no leeway) of an
    /// activation token.
    pub fn verify_activation(&self, token: &str) -> Result<ActivationClaims, ActivationTokenError> {
        let now = Utc::now();
        let jwt = Jwt::parse(token).map_err(|_| ActivationTokenError::Invalid)?;
        // Links carry no `kid` (they stay the same when re-minted): the
        // current key, then the previous ones in their grace period.
        let mut keys = self
            .candidates(None, now)
            .map_err(|_| ActivationTokenError::Invalid)?;
        if !keys.any(|(key, _)| jwt.signed_by(key)) {
            return Err(ActivationTokenError::Invalid);
        }
        jwt.claims(&ACTIVATION_VALIDATION, now.timestamp())
            .map_err(|e| match e {
                jwt::JwtError::Expired => ActivationTokenError::Expired,
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
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

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

    const OLD: &[u8] = b"the old server key, 32 bytes long";
    const NEW: &[u8] = b"the new server key, 32 bytes long";

    fn kid_of(token: &str) -> Option<String> {
        jsonwebtoken::decode_header(token).unwrap().kid
    }

    #[test]
    fn tokens_name_their_key_and_previous_keys_verify_until_their_grace_ends() {
        let now = Utc::now();
        let old = TokenKeys::new(OLD).unwrap();
        let old_token = old.mint("t", "1", now, None).unwrap();
        assert_eq!(kid_of(&old_token).as_deref(), Some(key_id(OLD).as_str()));
        assert_eq!(key_id(OLD).len(), 16);
        assert_ne!(key_id(OLD), key_id(NEW));

        let until = now + chrono::TimeDelta::days(30);
        let rotated = TokenKeys::new(NEW)
            .unwrap()
            .with_previous(OLD, Some(until))
            .unwrap();
        let new_token = rotated.mint("t", "2", now, None).unwrap();
        assert_eq!(kid_of(&new_token).as_deref(), Some(rotated.key_id()));
        assert_eq!(rotated.key_id(), key_id(NEW));
        assert_eq!(
            rotated.check(&new_token, now).map(|(c, by)| (c.jti, by)),
            Ok(("2".to_owned(), VerifiedBy::Current))
        );
        assert_eq!(
            rotated.check(&old_token, now).map(|(c, by)| (c.jti, by)),
            Ok(("1".to_owned(), VerifiedBy::Previous))
        );
        assert!(
            rotated.verify(&old_token).is_some(),
            "within the grace period"
        );
        let after = until + chrono::TimeDelta::seconds(1);
        assert_eq!(
            rotated.check(&old_token, after).map(|_| ()),
            Err(TokenRefusal::RetiredKey)
        );
        assert!(rotated.check(&new_token, after).is_ok());
        // Without the previous key, the old token is simply invalid.
        let new_only = TokenKeys::new(NEW).unwrap();
        assert_eq!(
            new_only.check(&old_token, now).map(|_| ()),
            Err(TokenRefusal::Invalid)
        );
        // The old server (no rotation) refuses new tokens.
        assert!(old.verify(&new_token).is_none());
        assert_eq!(
            rotated.keys(),
            vec![
                KeyInfo {
                    kid: key_id(NEW),
                    current: true,
                    verify_until: None
                },
                KeyInfo {
                    kid: key_id(OLD),
                    current: false,
                    verify_until: Some(until)
                },
            ]
        );
        assert!(
            TokenKeys::new(NEW)
                .unwrap()
                .with_previous(NEW, None)
                .is_err()
        );
    }

    #[test]
    fn tokens_without_kid_verify_with_the_key_that_signed_them() {
        let now = Utc::now();
        let claims = TokenClaims {
            tid: "t".to_owned(),
            jti: "legacy".to_owned(),
            iat: now.timestamp(),
            exp: None,
            aud: SCIM_AUDIENCE.to_owned(),
        };
        let legacy = TokenKeys::new(OLD)
            .unwrap()
            .sign_without_kid(&claims)
            .unwrap();
        assert_eq!(kid_of(&legacy), None);
        assert_eq!(
            TokenKeys::new(OLD).unwrap().verify(&legacy),
            Some(claims.clone())
        );
        let until = now + chrono::TimeDelta::hours(1);
        let rotated = TokenKeys::new(NEW)
            .unwrap()
            .with_previous(OLD, Some(until))
            .unwrap();
        assert_eq!(
            rotated.check(&legacy, now).map(|(_, by)| by),
            Ok(VerifiedBy::Previous)
        );
        assert!(
            rotated
                .check(&legacy, until + chrono::TimeDelta::seconds(1))
                .is_err()
        );
        // A kid that names no key of this server is refused.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("0000000000000000".to_owned());
        let unknown =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(NEW).unwrap())
                .unwrap();
        assert_eq!(
            rotated.check(&unknown, now).map(|_| ()),
            Err(TokenRefusal::Invalid)
        );
    }

    /// Tokens signed by the `jsonwebtoken` crate (which signed every token
    /// before the HS256 module) verify, and the same inputs give the same
    /// token, so database hashes and links stay valid.
    #[test]
    fn tokens_signed_by_jsonwebtoken_verify_and_are_reproduced() {
        let now = Utc::now();
        let keys = TokenKeys::new(OLD).unwrap();
        let enc = EncodingKey::from_secret(OLD).unwrap();
        let claims = TokenClaims {
            tid: "t".to_owned(),
            jti: "j".to_owned(),
            iat: now.timestamp(),
            exp: None,
            aud: SCIM_AUDIENCE.to_owned(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.key_id().to_owned());
        let theirs = jsonwebtoken::encode(&header, &claims, &enc).unwrap();
        assert_eq!(keys.mint("t", "j", now, None).unwrap(), theirs);
        assert_eq!(
            keys.check(&theirs, now),
            Ok((claims.clone(), VerifiedBy::Current))
        );
        let exp = now + chrono::TimeDelta::days(7);
        let link = ActivationClaims {
            sub: "u".to_owned(),
            tid: "t".to_owned(),
            jti: "i".to_owned(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            aud: ACTIVATION_AUDIENCE.to_owned(),
        };
        let theirs = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &link, &enc).unwrap();
        assert_eq!(
            keys.mint_activation("t", "u", "i", now, exp).unwrap(),
            theirs
        );
        assert_eq!(keys.verify_activation(&theirs), Ok(link));
        // A fixed Secret Token of the earlier implementation (kid-less, as
        // before key ids), for the key "0123...": still verifies.
        let fixed = TokenKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let legacy = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &TokenClaims {
                tid: "tenant".to_owned(),
                jti: "tok".to_owned(),
                iat: 1_700_000_000,
                exp: None,
                aud: SCIM_AUDIENCE.to_owned(),
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
        )
        .unwrap();
        assert_eq!(fixed.verify(&legacy).map(|c| c.jti), Some("tok".to_owned()));
    }

    #[test]
    fn activation_links_and_sealed_secrets_survive_a_rotation() {
        let now = Utc::now();
        let old = TokenKeys::new(OLD).unwrap();
        let link = old
            .mint_activation("t", "u", "i", now, now + chrono::TimeDelta::days(7))
            .unwrap();
        let sealed = old.sealer().seal("webhook-secret", b"whsec").unwrap();
        let rotated = TokenKeys::new(NEW)
            .unwrap()
            .with_previous(OLD, Some(now + chrono::TimeDelta::days(1)))
            .unwrap();
        assert!(rotated.verify_activation(&link).is_ok());
        assert_eq!(
            rotated.sealer().open("webhook-secret", &sealed).unwrap(),
            b"whsec"
        );
        // Past the grace period links are refused, but sealed secrets still
        // open: the previous key stays listed for them.
        let retired = TokenKeys::new(NEW)
            .unwrap()
            .with_previous(OLD, Some(now - chrono::TimeDelta::seconds(1)))
            .unwrap();
        assert!(retired.verify_activation(&link).is_err());
        assert_eq!(
            retired.sealer().open("webhook-secret", &sealed).unwrap(),
            b"whsec"
        );
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

//! HS256 JSON Web Tokens (RFC 7519 in the compact JWS form of RFC 7515):
//! what Secret Tokens, activation links and OAuth access tokens are.
//!
//! Written here rather than taken from `jsonwebtoken`: that crate's only
//! pure-Rust backend brings RSA and elliptic-curve crates along, and HS256 is
//! one HMAC over two base64url segments (`hmac` + `sha2`, already in the tree).
//!
//! Tokens are byte for byte what `jsonwebtoken` produces for the same header
//! and claims (header `{"typ":"JWT","alg":"HS256"}`, with `"kid"` after `alg`
//! when the token names its key; claims as serde_json serialises them), so
//! tokens issued before this module verify, and the same inputs still give
//! the same token.
//!
//! Verification: the header must say `"alg":"HS256"` (`none` and every other
//! algorithm are refused, as is a `crit` header or `"b64":false`); the
//! signature is compared in constant time; the claims are then deserialised
//! into their type (so a claim the type requires must be present with its
//! type) and checked with [`Validation`]: the audience, and the expiry when
//! there is one, with a leeway in seconds. `nbf` and `iss` are not checked
//! (the tokens of this server carry no `nbf`; `iss` of access tokens is the
//! server's own URL).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HS256 signature.
const SIGNATURE_LEN: usize = 32;

/// Longest header accepted (ours are under 60 bytes); decoded on the stack.
const MAX_HEADER_LEN: usize = 512;

/// Why a token was refused or could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url segments separated by dots.
    #[error("not a compact JWT: {0}")]
    Malformed(&'static str),
    /// A segment is not base64url without padding.
    #[error("a JWT segment is not base64url")]
    Base64(#[source] base64::DecodeError),
    /// The header or the claims are not the expected JSON.
    #[error("the JWT {part} is not valid JSON for it")]
    Json {
        /// `"header"` or `"claims"`.
        part: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The header names another algorithm than HS256 (including `none`).
    #[error("the JWT algorithm {0:?} is not HS256")]
    Algorithm(String),
    /// The header uses an extension this module does not implement
    /// (`crit`, `"b64": false`).
    #[error("the JWT header uses an unsupported extension")]
    UnsupportedHeader,
    /// The signature does not match any of the keys tried.
    #[error("the JWT signature is not valid")]
    Signature,
    /// The audience is not the expected one.
    #[error("the JWT audience is not the expected one")]
    Audience,
    /// The expiry is past (beyond the leeway).
    #[error("the JWT has expired")]
    Expired,
    /// The secret cannot key HMAC-SHA256.
    #[error("the secret cannot key HMAC-SHA256")]
    Key,
}

/// An HS256 key, keyed once: signing and verifying only clone the prepared
/// HMAC state (no per-token key setup, no allocation).
#[derive(Clone)]
pub(crate) struct Hs256Key {
    mac: HmacSha256,
}

impl std::fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hs256Key(***)")
    }
}

impl Hs256Key {
    /// A key from a secret (HMAC hashes long keys and pads short ones;
    /// callers refuse empty secrets).
    ///
    /// # Errors
    /// [`JwtError::Key`], which HMAC does not raise for any length.
    pub(crate) fn new(secret: &[u8]) -> Result<Self, JwtError> {
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|_| JwtError::Key)?;
        Ok(Hs256Key { mac })
    }

    fn tag(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` is this key's HS256 signature of `message`
    /// (constant-time comparison).
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.verify_slice(signature).is_ok()
    }
}

/// The header as it is written: the field order of `jsonwebtoken::Header`.
#[derive(Serialize)]
struct HeaderOut<'a> {
    typ: &'static str,
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// Signs `claims` with `key`, naming `kid` in the header when given.
///
/// # Errors
/// [`JwtError::Json`] when the claims do not serialise.
pub(crate) fn encode<T: Serialize>(
    key: &Hs256Key,
    kid: Option<&str>,
    claims: &T,
) -> Result<String, JwtError> {
    let header = serde_json::to_vec(&HeaderOut {
        typ: "JWT",
        alg: "HS256",
        kid,
    })
    .map_err(|source| JwtError::Json {
        part: "header",
        source,
    })?;
    let claims = serde_json::to_vec(claims).map_err(|source| JwtError::Json {
        part: "claims",
        source,
    })?;
    let mut token =
        String::with_capacity((header.len() + claims.len() + SIGNATURE_LEN) * 4 / 3 + 8);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    let signature = key.tag(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The header members read when verifying; others are ignored.
#[derive(Deserialize)]
struct HeaderIn<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    b64: Option<bool>,
}

/// A token split into its parts, its header read and checked, its signature
/// not yet verified.
#[derive(Debug)]
pub(crate) struct Jwt<'t> {
    /// `header.payload`, the signed bytes.
    signing_input: &'t str,
    payload: &'t str,
    signature: [u8; SIGNATURE_LEN],
    kid: Option<Box<str>>,
}

impl<'t> Jwt<'t> {
    /// Splits `token` and reads its header.
    ///
    /// # Errors
    /// [`JwtError::Malformed`], [`JwtError::Base64`], [`JwtError::Json`],
    /// [`JwtError::Algorithm`], [`JwtError::UnsupportedHeader`].
    pub(crate) fn parse(token: &'t str) -> Result<Self, JwtError> {
        let (signing_input, signature_b64) = token
            .rsplit_once('.')
            .ok_or(JwtError::Malformed("no signature"))?;
        let (header_b64, payload) = signing_input
            .split_once('.')
            .ok_or(JwtError::Malformed("no payload"))?;
        if payload.contains('.') {
            return Err(JwtError::Malformed("more than three segments"));
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        // Base64 of 32 bytes is 43 characters; anything else is not an HS256
        // signature (checked first: decode_slice wants room for what it reads).
        if signature_b64.len() != 43 {
            return Err(JwtError::Malformed("the signature is not 32 bytes"));
        }
        let n = URL_SAFE_NO_PAD
            .decode_slice(signature_b64, &mut signature)
            .map_err(|e| match e {
                base64::DecodeSliceError::DecodeError(e) => JwtError::Base64(e),
                base64::DecodeSliceError::OutputSliceTooSmall => {
                    JwtError::Malformed("the signature is not 32 bytes")
                }
            })?;
        if n != SIGNATURE_LEN {
            return Err(JwtError::Malformed("the signature is not 32 bytes"));
        }
        if header_b64.len() > MAX_HEADER_LEN * 4 / 3 {
            return Err(JwtError::Malformed("the header is too long"));
        }
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = URL_SAFE_NO_PAD
            .decode_slice(header_b64, &mut buf)
            .map_err(|e| match e {
                base64::DecodeSliceError::DecodeError(e) => JwtError::Base64(e),
                base64::DecodeSliceError::OutputSliceTooSmall => {
                    JwtError::Malformed("the header is too long")
                }
            })?;
        let header_json = buf.get(..n).unwrap_or_default();
        let header: HeaderIn<'_> =
            serde_json::from_slice(header_json).map_err(|source| JwtError::Json {
                part: "header",
                source,
            })?;
        if header.alg != "HS256" {
            return Err(JwtError::Algorithm(header.alg.into_owned()));
        }
        if header.crit.is_some() || header.b64 == Some(false) {
            return Err(JwtError::UnsupportedHeader);
        }
        Ok(Jwt {
            signing_input,
            payload,
            signature,
            kid: header.kid.map(|k| k.into()),
        })
    }

    /// The `kid` of the header.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `key` signed this token (constant time).
    pub(crate) fn signed_by(&self, key: &Hs256Key) -> bool {
        key.verifies(self.signing_input.as_bytes(), &self.signature)
    }

    /// The claims, deserialised and checked against `validation` at `now`
    /// (seconds since the epoch). Call only after [`Jwt::signed_by`].
    ///
    /// # Errors
    /// [`JwtError::Base64`], [`JwtError::Json`], [`JwtError::Audience`],
    /// [`JwtError::Expired`].
    pub(crate) fn claims<T: Claims>(
        &self,
        validation: &Validation<'_>,
        now: i64,
    ) -> Result<T, JwtError> {
        let json = URL_SAFE_NO_PAD
            .decode(self.payload)
            .map_err(JwtError::Base64)?;
        let claims: T = serde_json::from_slice(&json).map_err(|source| JwtError::Json {
            part: "claims",
            source,
        })?;
        // The order of `jsonwebtoken`'s validation: expiry, then audience.
        if let Some(exp) = claims.expires_at()
            && exp < now.saturating_sub(validation.leeway)
        {
            return Err(JwtError::Expired);
        }
        if claims.audience() != validation.audience {
            return Err(JwtError::Audience);
        }
        Ok(claims)
    }
}

/// What a claims type tells the validation.
pub(crate) trait Claims: DeserializeOwned {
    /// `aud`.
    fn audience(&self) -> &str;
    /// `exp`, when the token has one.
    fn expires_at(&self) -> Option<i64>;
}

/// The checks on a token's claims.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validation<'a> {
    /// The one accepted `aud`.
    pub(crate) audience: &'a str,
    /// Seconds an expired token is still accepted (clock skew).
    pub(crate) leeway: i64,
}

/// Verifies `token` with the first of `keys` that signed it and returns its
/// claims and that key's tag; [`JwtError::Signature`] when none did.
///
/// # Errors
/// Every [`JwtError`].
pub(crate) fn decode<'k, T: Claims, K: 'k>(
    token: &str,
    keys: impl IntoIterator<Item = (&'k Hs256Key, K)>,
    validation: &Validation<'_>,
    now: i64,
) -> Result<(T, K), JwtError> {
    let jwt = Jwt::parse(token)?;
    let (_, tag) = keys
        .into_iter()
        .find(|(key, _)| jwt.signed_by(key))
        .ok_or(JwtError::Signature)?;
    Ok((jwt.claims(validation, now)?, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Test {
        sub: String,
        aud: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exp: Option<i64>,
    }

    impl Claims for Test {
        fn audience(&self) -> &str {
            &self.aud
        }
        fn expires_at(&self) -> Option<i64> {
            self.exp
        }
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;
    const V: Validation<'static> = Validation {
        audience: "scim",
        leeway: 30,
    };

    fn claims(exp: Option<i64>) -> Test {
        Test {
            sub: "u".to_owned(),
            aud: "scim".to_owned(),
            exp,
        }
    }

    fn one(key: &Hs256Key) -> [(&Hs256Key, ()); 1] {
        [(key, ())]
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    /// A token with this header and payload JSON, signed with `SECRET`.
    fn forge(header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = Hs256Key::new(SECRET).unwrap().tag(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn round_trip_with_and_without_kid() {
        let key = Hs256Key::new(SECRET).unwrap();
        for kid in [None, Some("0123456789abcdef")] {
            let token = encode(&key, kid, &claims(Some(NOW + 60))).unwrap();
            let jwt = Jwt::parse(&token).unwrap();
            assert_eq!(jwt.kid(), kid);
            let (back, ()) = decode::<Test, _>(&token, one(&key), &V, NOW).unwrap();
            assert_eq!(back, claims(Some(NOW + 60)));
        }
    }

    #[test]
    fn same_bytes_as_jsonwebtoken_both_ways() {
        use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
        let key = Hs256Key::new(SECRET).unwrap();
        let enc = EncodingKey::from_secret(SECRET).unwrap();
        for kid in [None, Some("0123456789abcdef")] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid.map(str::to_owned);
            let c = claims(None);
            let theirs = jsonwebtoken::encode(&header, &c, &enc).unwrap();
            let ours = encode(&key, kid, &c).unwrap();
            assert_eq!(ours, theirs, "byte-identical tokens");
            assert_eq!(decode::<Test, _>(&theirs, one(&key), &V, NOW).unwrap().0, c);
            let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
            v.required_spec_claims.clear();
            v.set_audience(&["scim"]);
            let d =
                jsonwebtoken::decode::<Test>(&ours, &DecodingKey::from_secret(SECRET).unwrap(), &v)
                    .unwrap();
            assert_eq!(d.claims, c);
            assert_eq!(d.header.kid.as_deref(), kid);
        }
    }

    #[test]
    fn a_tampered_signature_or_payload_or_another_key_is_refused() {
        let key = Hs256Key::new(SECRET).unwrap();
        let token = encode(&key, None, &claims(None)).unwrap();
        let other = Hs256Key::new(b"another key, another server.....").unwrap();
        assert!(matches!(
            decode::<Test, _>(&token, one(&other), &V, NOW),
            Err(JwtError::Signature)
        ));
        // Flip one signature character (keeping it valid base64url).
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 2;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(matches!(
            decode::<Test, _>(&tampered, one(&key), &V, NOW),
            Err(JwtError::Signature)
        ));
        // Another payload under the original signature.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let swapped = format!("{head}.{}.{sig}", b64(r#"{"sub":"admin","aud":"scim"}"#));
        assert!(matches!(
            decode::<Test, _>(&swapped, one(&key), &V, NOW),
            Err(JwtError::Signature)
        ));
        // The first key that verifies wins.
        let keys = [(&other, 1), (&key, 2)];
        assert_eq!(decode::<Test, _>(&token, keys, &V, NOW).unwrap().1, 2);
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let key = Hs256Key::new(SECRET).unwrap();
        let payload = r#"{"sub":"u","aud":"scim"}"#;
        for alg in ["none", "HS384", "RS256", "hs256", "ES256"] {
            let token = forge(&format!(r#"{{"alg":"{alg}"}}"#), payload);
            assert!(
                matches!(
                    decode::<Test, _>(&token, one(&key), &V, NOW),
                    Err(JwtError::Algorithm(a)) if a == alg
                ),
                "{alg}"
            );
        }
        // `none` with an empty signature is malformed before anything else.
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(payload));
        assert!(matches!(
            decode::<Test, _>(&unsigned, one(&key), &V, NOW),
            Err(JwtError::Malformed(_))
        ));
        for header in [
            r#"{"typ":"JWT"}"#,
            r#"{"alg":256}"#,
            r#"{"alg":"HS256","kid":7}"#,
        ] {
            assert!(matches!(
                decode::<Test, _>(&forge(header, payload), one(&key), &V, NOW),
                Err(JwtError::Json { part: "header", .. })
            ));
        }
        for header in [
            r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
            r#"{"alg":"HS256","b64":false}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
        ] {
            assert!(matches!(
                decode::<Test, _>(&forge(header, payload), one(&key), &V, NOW),
                Err(JwtError::UnsupportedHeader)
            ));
        }
        // A bare {"alg":"HS256"} header and unknown members are accepted.
        for header in [r#"{"alg":"HS256"}"#, r#"{"alg":"HS256","x":[1]}"#] {
            assert!(decode::<Test, _>(&forge(header, payload), one(&key), &V, NOW).is_ok());
        }
    }

    #[test]
    fn expiry_and_audience_are_checked() {
        let key = Hs256Key::new(SECRET).unwrap();
        let at = |exp| encode(&key, None, &claims(exp)).unwrap();
        assert!(decode::<Test, _>(&at(None), one(&key), &V, NOW).is_ok());
        assert!(decode::<Test, _>(&at(Some(NOW)), one(&key), &V, NOW).is_ok());
        assert!(decode::<Test, _>(&at(Some(NOW - 30)), one(&key), &V, NOW).is_ok());
        assert!(matches!(
            decode::<Test, _>(&at(Some(NOW - 31)), one(&key), &V, NOW),
            Err(JwtError::Expired)
        ));
        let strict = Validation { leeway: 0, ..V };
        assert!(matches!(
            decode::<Test, _>(&at(Some(NOW - 1)), one(&key), &strict, NOW),
            Err(JwtError::Expired)
        ));
        let elsewhere = Validation {
            audience: "activation",
            ..V
        };
        assert!(matches!(
            decode::<Test, _>(&at(None), one(&key), &elsewhere, NOW),
            Err(JwtError::Audience)
        ));
        // A missing or mistyped required claim.
        for payload in [
            r#"{"sub":"u"}"#,
            r#"{"aud":"scim"}"#,
            r#"{"sub":"u","aud":["scim"]}"#,
            r#"{"sub":"u","aud":"scim","exp":"soon"}"#,
            r#"{"sub":"u","aud":"scim","exp":1.5}"#,
            "[]",
        ] {
            assert!(
                matches!(
                    decode::<Test, _>(&forge(r#"{"alg":"HS256"}"#, payload), one(&key), &V, NOW),
                    Err(JwtError::Json { part: "claims", .. })
                ),
                "{payload}"
            );
        }
    }

    #[test]
    fn malformed_tokens_get_an_error_not_a_panic() {
        let key = Hs256Key::new(SECRET).unwrap();
        let good = encode(&key, None, &claims(None)).unwrap();
        let (h, rest) = good.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let long_header = b64(&format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(600)));
        let cases = [
            String::new(),
            ".".to_owned(),
            "..".to_owned(),
            "...".to_owned(),
            "abc".to_owned(),
            format!("{h}.{p}"),
            format!("{h}.{p}.{s}.{s}"),
            format!("{h}.{p}.{s}x"),
            format!("{h}.{p}.{}", &s[..42]),
            format!("{h}.{p}.{}*", &s[..42]),
            format!("{h}*.{p}.{s}"),
            format!("{}.{p}.{s}", b64("not json")),
            format!("{long_header}.{p}.{s}"),
            format!("é.{p}.{s}"),
            format!("{h}.{p}==.{s}"),
        ];
        for token in &cases {
            assert!(
                decode::<Test, _>(token, one(&key), &V, NOW).is_err(),
                "{token:?}"
            );
        }
        // A payload that is not base64url, correctly signed, is refused after
        // the signature check.
        let input = format!("{h}.*!");
        let sig = URL_SAFE_NO_PAD.encode(key.tag(input.as_bytes()));
        assert!(matches!(
            decode::<Test, _>(&format!("{input}.{sig}"), one(&key), &V, NOW),
            Err(JwtError::Base64(_))
        ));
        // Errors keep their cause.
        let err =
            decode::<Test, _>(&format!("{}.{p}.{s}", b64("{")), one(&key), &V, NOW).unwrap_err();
        assert!(std::error::Error::source(&err).is_some());
    }
}

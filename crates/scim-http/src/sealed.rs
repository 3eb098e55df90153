//! Secrets the server must be able to read back (a webhook's signing secret, a
//! tenant administrator's TOTP seed), stored encrypted with a key derived from
//! the server key.
//!
//! Tokens and passwords are stored as hashes; these cannot be, because the
//! server needs the plain value again (HMAC over each delivery, the TOTP code of
//! the current 30 seconds). A [`Sealer`] encrypts them with ChaCha20-Poly1305
//! under a key derived (HKDF-SHA256) from the server's secret, a random nonce per
//! value, and the value's *purpose* as associated data, so a sealed webhook
//! secret cannot be replayed as a TOTP seed. A database dump without the server
//! key reveals none of them. A new server key seals with the new key; values
//! sealed with a previous key (listed as such, [`Sealer::with_previous`])
//! still open, whatever its grace period for tokens. Dropping a previous key
//! makes what it sealed unreadable (webhook secrets and TOTP seeds must then
//! be rotated or re-enrolled).
//!
//! ```
//! use scim_http::sealed::Sealer;
//!
//! let sealer = Sealer::new(b"the server key, 32 bytes or more").unwrap();
//! let stored = sealer.seal("webhook-secret", b"whsec_abc").unwrap();
//! assert!(stored.starts_with("v1."));
//! assert_eq!(sealer.open("webhook-secret", &stored).unwrap(), b"whsec_abc");
//! assert!(sealer.open("totp-seed", &stored).is_err());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};

/// What the stored form starts with; a later format gets a new prefix.
const PREFIX: &str = "v1.";
/// HKDF salt and info: fixed, so the same server key always derives the same key.
const SALT: &[u8] = b"scim-server sealed secrets";
const INFO: &[u8] = b"v1 chacha20-poly1305";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The server key is empty.
    #[error("the server key is empty")]
    EmptyKey,
    /// The system's random source failed.
    #[error("no randomness available for a nonce")]
    Random,
    /// The stored value is not in a format this version knows.
    #[error("the sealed value is malformed")]
    Malformed,
    /// The value was sealed with another server key or for another purpose, or
    /// was altered.
    #[error("the sealed value does not open with this server key (was the key changed?)")]
    WrongKey,
}

/// Encrypts and decrypts stored secrets with a key derived from the server key.
pub struct Sealer {
    key: LessSafeKey,
    previous: Vec<LessSafeKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// A sealer for the server key `secret` (the same bytes that sign tokens).
    pub fn new(secret: &[u8]) -> Result<Self, SealError> {
        Ok(Sealer {
            key: derive(secret)?,
            previous: Vec::new(),
            rng: SystemRandom::new(),
        })
    }

    /// A sealer that seals with `secret` and opens with it or any of
    /// `previous` (server keys replaced in a rotation).
    pub fn with_previous(secret: &[u8], previous: &[&[u8]]) -> Result<Self, SealError> {
        Ok(Sealer {
            key: derive(secret)?,
            previous: previous
                .iter()
                .map(|p| derive(p))
                .collect::<Result<_, _>>()?,
            rng: SystemRandom::new(),
        })
    }

    /// Encrypts `plaintext` for `purpose` (a short fixed label such as
    /// `"webhook-secret"`); the result is ASCII, safe to store in a text column.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + data.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a value sealed for `purpose` with the same server key.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] =
            <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SealError::Malformed)?;
        for key in std::iter::once(&self.key).chain(&self.previous) {
            let mut data = ciphertext.to_vec();
            if let Ok(plain) = key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut data,
            ) {
                return Ok(plain.to_vec());
            }
        }
        Err(SealError::WrongKey)
    }
}

/// The sealing key of a server key.
fn derive(secret: &[u8]) -> Result<LessSafeKey, SealError> {
    if secret.is_empty() {
        return Err(SealError::EmptyKey);
    }
    let prk = Salt::new(HKDF_SHA256, SALT).extract(secret);
    let okm = prk
        .expand(&[INFO], &CHACHA20_POLY1305)
        .map_err(|_| SealError::EmptyKey)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(key: &[u8]) -> Sealer {
        match Sealer::new(key) {
            Ok(s) => s,
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn round_trip_and_fresh_nonce_each_time() -> Result<(), SealError> {
        let s = sealer(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1");
        let a = s.seal("p", b"secret")?;
        let b = s.seal("p", b"secret")?;
        assert_ne!(a, b, "a nonce is never reused");
        assert_eq!(s.open("p", &a)?, b"secret");
        assert_eq!(s.open("p", &b)?, b"secret");
        assert!(!a.contains("secret"));
        Ok(())
    }

    #[test]
    fn another_key_purpose_or_tampering_does_not_open() -> Result<(), SealError> {
        let s = sealer(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1");
        let other = sealer(b"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2");
        let sealed = s.seal("webhook-secret", b"whsec")?;
        assert!(matches!(
            other.open("webhook-secret", &sealed),
            Err(SealError::WrongKey)
        ));
        assert!(matches!(
            s.open("totp-seed", &sealed),
            Err(SealError::WrongKey)
        ));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8_lossy(&tampered).into_owned();
        assert!(s.open("webhook-secret", &tampered).is_err());
        assert!(matches!(s.open("p", "plain"), Err(SealError::Malformed)));
        assert!(matches!(s.open("p", "v1.AAAA"), Err(SealError::Malformed)));
        assert!(matches!(Sealer::new(b""), Err(SealError::EmptyKey)));
        Ok(())
    }

    #[test]
    fn values_sealed_with_a_previous_key_still_open() -> Result<(), SealError> {
        let old = sealer(b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1");
        let sealed_old = old.seal("webhook-secret", b"whsec")?;
        let rotated = Sealer::with_previous(
            b"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2",
            &[b"k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1"],
        )?;
        assert_eq!(rotated.open("webhook-secret", &sealed_old)?, b"whsec");
        let sealed_new = rotated.seal("webhook-secret", b"new")?;
        assert!(
            old.open("webhook-secret", &sealed_new).is_err(),
            "sealed with the new key"
        );
        let without = sealer(b"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2");
        assert!(matches!(
            without.open("webhook-secret", &sealed_old),
            Err(SealError::WrongKey)
        ));
        Ok(())
    }
}

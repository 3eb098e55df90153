//! Tenant administrators' passwords: Argon2id with the `argon2` crate's
//! default parameters (RFC 9106's memory-constrained choice), stored as PHC
//! strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), so parameters can
//! be raised later without invalidating stored hashes.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use ring::rand::{SecureRandom, SystemRandom};

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;
/// Longest password accepted (bytes): hashing is deliberately slow, a huge
/// input would make it slower still.
pub const MAX_LEN: usize = 1024;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long; the message says which.
    #[error("{0}")]
    Rejected(String),
    /// No randomness for a salt, or the hasher failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Refuses a password that is too short or too long.
///
/// # Errors
/// [`PasswordError::Rejected`].
pub fn check(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::Rejected(format!(
            "The password must be at least {MIN_LEN} characters long."
        )));
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::Rejected(format!(
            "The password must be at most {MAX_LEN} bytes long."
        )));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh 16-byte salt.
///
/// # Errors
/// [`PasswordError`] for a password [`check`] refuses, or when hashing fails.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check(password)?;
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PasswordError::Hashing("no randomness for a salt".to_owned()))?;
    let phc = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string (a malformed one matches
/// nothing).
pub fn verify(password: &str, phc: &str) -> bool {
    password.len() <= MAX_LEN
        && Argon2::default()
            .verify_password(password.as_bytes(), phc)
            .is_ok()
}

/// A PHC string no password matches, verified against when the account does
/// not exist, so an unknown email costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6Dc0dJ7mu0ksU0vZ9H5sQm1p2lOY7g3vvaexCCu3pKk"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_verify_and_refuse() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("correct horse battery", "not a phc string"));
        assert!(!verify("anything at all", dummy_hash()));
        // A well-formed hash, so checking against it costs a full Argon2id run.
        assert!(argon2::PasswordHash::new(dummy_hash()).is_ok());
        assert_ne!(hash("correct horse battery").unwrap(), h, "salted");
        assert!(matches!(hash("short"), Err(PasswordError::Rejected(_))));
        assert!(matches!(
            hash(&"x".repeat(MAX_LEN + 1)),
            Err(PasswordError::Rejected(_))
        ));
    }
}

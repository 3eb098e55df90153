//! Time-based one-time passwords (RFC 6238) for tenant administrators' second
//! factor: HMAC-SHA-1, 30-second steps, 6 digits, one step of clock skew
//! either way — what every authenticator app accepts from an `otpauth://` URI.
//!
//! About thirty lines over `ring`'s HMAC (already the project's crypto
//! library) rather than another crate: the algorithm is small, fixed by the
//! RFC, and checked here against the RFC's own test vectors.
//!
//! ```
//! use scim_http::totp;
//!
//! let seed = b"12345678901234567890";
//! assert_eq!(totp::code_at(seed, 59), "287082");
//! assert!(totp::verify(seed, "287082", 59 + 30).is_some());
//! assert!(totp::verify(seed, "287082", 59 + 90).is_none());
//! ```

use ring::hmac;

/// Seconds per step.
pub const STEP: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new seed (160 bits, the RFC's recommendation for SHA-1).
pub const SEED_LEN: usize = 20;

/// The HOTP value (RFC 4226) of `seed` at `counter`, with `digits` digits.
fn hotp(seed: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    let word = mac
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_be_bytes)
        & 0x7fff_ffff;
    let modulus = 10u32.saturating_pow(digits);
    format!("{:0width$}", word % modulus, width = digits as usize)
}

/// The 6-digit code of `seed` at Unix time `unix_secs`.
pub fn code_at(seed: &[u8], unix_secs: u64) -> String {
    hotp(seed, unix_secs / STEP, DIGITS)
}

/// The step (`unix_secs / 30`) whose code `presented` is, trying the current
/// step and one either side; `None` if it is none of them. Callers remember
/// the last accepted step and refuse it and earlier ones, so a code works once.
pub fn verify(seed: &[u8], presented: &str, unix_secs: u64) -> Option<u64> {
    let presented = presented.trim();
    if presented.len() != DIGITS as usize || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_secs / STEP;
    [now.saturating_sub(1), now, now.saturating_add(1)]
        .into_iter()
        .find(|&step| crate::auth::hashes_equal(&hotp(seed, step, DIGITS), presented))
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding: how authenticator apps take a secret.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of a base32 secret (case, spaces and padding ignored); `None`
/// for a character outside the alphabet.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=' | b'-')) {
        let c = c.to_ascii_uppercase();
        let v = ALPHABET.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads (as text or QR code):
/// issuer and account are shown in the app.
pub fn otpauth_uri(issuer: &str, account: &str, seed: &[u8]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        base32(seed),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits; the 6-digit codes are
    /// their last six).
    #[test]
    fn rfc6238_vectors() {
        let seed = b"12345678901234567890";
        for (t, want) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(seed, t / STEP, 8), want, "t={t}");
            assert_eq!(code_at(seed, t), want[2..], "t={t}");
        }
    }

    #[test]
    fn verify_window_and_garbage() {
        let seed = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = code_at(seed, t);
        assert_eq!(verify(seed, &code, t), Some(t / STEP));
        assert_eq!(verify(seed, &code, t - 30), Some(t / STEP));
        assert_eq!(verify(seed, &code, t + 30), Some(t / STEP));
        assert_eq!(verify(seed, &code, t + 60), None);
        assert_eq!(verify(seed, &format!(" {code} "), t), Some(t / STEP));
        for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"] {
            assert_eq!(verify(seed, bad, t), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(from_base32("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(from_base32("mzxw 6ytb oi==").unwrap(), b"foobar");
        assert!(from_base32("M1").is_none());
        let seed: Vec<u8> = (0u8..20).collect();
        assert_eq!(from_base32(&base32(&seed)).unwrap(), seed);
        let uri = otpauth_uri("SCIM console", "ann@example.com", &seed);
        assert!(uri.starts_with("otpauth://totp/SCIM%20console:ann@example.com?secret="));
        assert!(uri.contains(&base32(&seed)));
    }
}

//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, six digits,
//! 30-second steps, the parameters every authenticator app understands. Pure: the
//! caller passes the time and the last step it accepted.

use aws_lc_rs::hmac;

/// Seconds per time step (RFC 6238 §5.2 recommends 30).
pub const STEP: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now, for clocks that drift and people who type slowly.
const SKEW: i64 = 1;
/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 block recommendation of RFC 4226 §4.
pub const SECRET_LEN: usize = 20;

/// The HOTP value of `secret` at `counter`, with `digits` digits (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let h = mac.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let binary =
        u32::from_be_bytes([h[offset], h[offset + 1], h[offset + 2], h[offset + 3]]) & 0x7fff_ffff;
    binary % 10u32.pow(digits)
}

/// The time step `now` falls in.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP)
}

/// The code of `secret` at `step`, as the app shows it (zero-padded).
pub fn code_at(secret: &[u8], step: i64) -> String {
    let value = hotp(secret, step.max(0) as u64, DIGITS);
    format!("{value:0width$}", width = DIGITS as usize)
}

/// The step a typed code belongs to, if it is the code of a step within the skew of
/// `now` and later than `last_step` (a code is accepted once: RFC 6238 §5.2). Spaces
/// the person typed are ignored.
pub fn verify(secret: &[u8], typed: &str, now: i64, last_step: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    // Every candidate is compared (in constant time), so the time taken does not say
    // which step matched.
    let mut found = None;
    for step in current - SKEW..=current + SKEW {
        let matches = crate::crypto::ct_eq(code_at(secret, step).as_bytes(), typed.as_bytes());
        if matches && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, the form authenticator apps take secrets in.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (any case, spaces and padding ignored); `None` on other characters.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let upper = c.to_ascii_uppercase() as u8;
        let value = ALPHABET.iter().position(|&a| a == upper)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app scans (the Key Uri Format of Google
/// Authenticator, which every app follows): label `issuer:account`, and the parameters.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // The label is a path: spaces as %20, not '+'.
    let label = format!("{}:{}", enc(issuer), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        base32(secret),
        enc(issuer).replace('+', "%20"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (eight digits, secret "12345678901234567890").
    #[test]
    fn rfc6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, time / 30, 8), expected, "T = {time}");
        }
        assert_eq!(code_at(secret, 59 / 30), "287082");
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let secret = [7u8; SECRET_LEN];
        let now = 1_800_000_000;
        let code = code_at(&secret, step_of(now));
        let step = verify(&secret, &code, now, 0).expect("the current code");
        assert_eq!(step, step_of(now));
        // The same step again is a replay.
        assert_eq!(verify(&secret, &code, now, step), None);
        // One step either side is accepted, two are not.
        assert!(verify(&secret, &code, now + STEP, 0).is_some());
        assert!(verify(&secret, &code, now - STEP, 0).is_some());
        assert_eq!(verify(&secret, &code, now + 2 * STEP, 0), None);
        // Spaces are forgiven; other shapes are not codes.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(&secret, &spaced, now, 0).is_some());
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(verify(&secret, bad, now, 0), None, "{bad}");
        }
        // A later code after an earlier one is fine.
        let next = code_at(&secret, step_of(now) + 1);
        assert_eq!(verify(&secret, &next, now, step), Some(step + 1));
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let secret: Vec<u8> = (0..SECRET_LEN as u8).collect();
        assert_eq!(base32_decode(&base32(&secret)).unwrap(), secret);
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("Example Co", "kim@example.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Example%20Co:kim%40example.com?secret=MZXW6YTBOI&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }
}

//! Checks of `clientDataJSON` (§7.1 steps 5–10, §7.2 steps 10–15): the browser's
//! own statement of which ceremony ran, for which challenge, on which page.
//!
//! Why this matters: the authenticator signs only a hash of this JSON, and it is the
//! browser, not the authenticator, that fills in the origin. Checking the origin
//! exactly is what makes a passkey unusable on a phishing site.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer};

use super::{RelyingParty, WebauthnError};

/// `type` of a registration.
pub(super) const CREATE: &str = "webauthn.create";
/// `type` of an assertion.
pub(super) const GET: &str = "webauthn.get";

/// §5.4 asks for challenges of at least 16 random bytes; a shorter expected
/// challenge is a server bug that would make replay easy, so it never matches.
const MIN_CHALLENGE_LEN: usize = 16;

/// The members we read; others (`tokenBinding`, and the keys browsers add to keep
/// parsers lenient) are ignored as §5.8.1 requires. serde refuses duplicate members,
/// so `"origin"` cannot be given twice to be read two ways.
#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
    #[serde(rename = "topOrigin", default, deserialize_with = "present")]
    top_origin: bool,
}

/// True whenever the member exists, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Verifies the client data for a ceremony of `expected_type`.
///
/// Embedded (cross-origin iframe) use is refused: gatehouse never frames its login
/// pages, so a `crossOrigin` or `topOrigin` means someone else's page drove it.
pub(super) fn verify(
    rp: &RelyingParty,
    expected_type: &str,
    expected_challenge: &[u8],
    client_data_json: &[u8],
) -> Result<(), WebauthnError> {
    let data: ClientData = serde_json::from_slice(client_data_json)
        .map_err(|_| WebauthnError::Malformed("the client data is not the expected JSON"))?;
    if data.kind != expected_type {
        return Err(WebauthnError::WrongType);
    }
    check_challenge(expected_challenge, &data.challenge)?;
    if data.origin != rp.origin {
        return Err(WebauthnError::OriginMismatch);
    }
    if data.cross_origin == Some(true) || data.top_origin {
        return Err(WebauthnError::CrossOrigin);
    }
    Ok(())
}

/// The challenge is base64url without padding; it is compared in constant time
/// because it is the secret that binds the response to this one ceremony.
fn check_challenge(expected: &[u8], received: &str) -> Result<(), WebauthnError> {
    if expected.len() < MIN_CHALLENGE_LEN {
        return Err(WebauthnError::ChallengeMismatch);
    }
    let received = URL_SAFE_NO_PAD
        .decode(received)
        .map_err(|_| WebauthnError::ChallengeMismatch)?;
    verify_slices_are_equal(expected, &received).map_err(|_| WebauthnError::ChallengeMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: [u8; 32] = [7; 32];

    fn rp() -> RelyingParty {
        RelyingParty {
            id: "login.example.com".into(),
            origin: "https://login.example.com".into(),
        }
    }

    fn json(kind: &str, origin: &str, extra: &str) -> Vec<u8> {
        let challenge = URL_SAFE_NO_PAD.encode(CHALLENGE);
        format!(r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{origin}"{extra}}}"#)
            .into_bytes()
    }

    fn check(data: &[u8]) -> Result<(), WebauthnError> {
        verify(&rp(), GET, &CHALLENGE, data)
    }

    #[test]
    fn accepts_good_data_with_unknown_members() {
        let origin = "https://login.example.com";
        assert_eq!(check(&json(GET, origin, "")), Ok(()));
        assert_eq!(
            check(&json(GET, origin, r#","crossOrigin":false,"x":[1]"#)),
            Ok(())
        );
    }

    #[test]
    fn refuses_type_origin_and_embedding() {
        let origin = "https://login.example.com";
        assert_eq!(
            check(&json(CREATE, origin, "")),
            Err(WebauthnError::WrongType)
        );
        for other in [
            "https://evil.example",
            "http://login.example.com",
            "https://login.example.com:443",
        ] {
            assert_eq!(
                check(&json(GET, other, "")),
                Err(WebauthnError::OriginMismatch)
            );
        }
        assert_eq!(
            check(&json(GET, origin, r#","crossOrigin":true"#)),
            Err(WebauthnError::CrossOrigin)
        );
        assert_eq!(
            check(&json(GET, origin, r#","topOrigin":null"#)),
            Err(WebauthnError::CrossOrigin)
        );
        assert_eq!(
            check(&json(
                GET,
                origin,
                r#","topOrigin":"https://login.example.com""#
            )),
            Err(WebauthnError::CrossOrigin)
        );
    }

    #[test]
    fn refuses_malformed_json() {
        let origin = "https://login.example.com";
        let twice = json(GET, origin, r#","origin":"https://evil.example""#);
        assert!(matches!(check(&twice), Err(WebauthnError::Malformed(_))));
        assert!(matches!(
            check(b"not json"),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            check(br#"{"type":"webauthn.get"}"#),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            check(&[0xff, 0xfe]),
            Err(WebauthnError::Malformed(_))
        ));
        let bad_flag = json(GET, origin, r#","crossOrigin":"yes""#);
        assert!(matches!(check(&bad_flag), Err(WebauthnError::Malformed(_))));
    }

    #[test]
    fn challenge_must_match_exactly() {
        let encoded = URL_SAFE_NO_PAD.encode(CHALLENGE);
        assert_eq!(check_challenge(&CHALLENGE, &encoded), Ok(()));
        let mut other = CHALLENGE;
        other[31] ^= 1;
        assert_eq!(
            check_challenge(&other, &encoded),
            Err(WebauthnError::ChallengeMismatch)
        );
        assert_eq!(
            check_challenge(&CHALLENGE[..31], &encoded),
            Err(WebauthnError::ChallengeMismatch)
        );
        assert_eq!(
            check_challenge(&CHALLENGE, &format!("{encoded}=")),
            Err(WebauthnError::ChallengeMismatch)
        );
        assert_eq!(
            check_challenge(&CHALLENGE, "!!"),
            Err(WebauthnError::ChallengeMismatch)
        );
        // An empty (or short) expected challenge never matches, not even itself.
        assert_eq!(
            check_challenge(&[], ""),
            Err(WebauthnError::ChallengeMismatch)
        );
        assert_eq!(
            check_challenge(&[1; 15], &URL_SAFE_NO_PAD.encode([1; 15])),
            Err(WebauthnError::ChallengeMismatch)
        );
    }
}

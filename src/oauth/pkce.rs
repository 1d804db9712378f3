//! PKCE (RFC 7636), S256 only.

use super::error::OAuthError;
use crate::crypto::{b64url, ct_eq, sha256};
use crate::secret_type;

secret_type!(
    /// The `code_verifier` a client proves possession with.
    CodeVerifier
);

fn is_unreserved(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeVerifier {
    pub fn parse(raw: &str) -> Result<CodeVerifier, OAuthError> {
        if !(43..=128).contains(&raw.len()) || !is_unreserved(raw) {
            return Err(OAuthError::invalid_grant(
                "code_verifier must be 43 to 128 unreserved characters",
            ));
        }
        Ok(CodeVerifier::new(raw.to_string()))
    }

    /// Whether this verifier hashes to `challenge` (constant time).
    pub fn matches(&self, challenge: &CodeChallenge) -> bool {
        ct_eq(
            b64url(&sha256(self.secret().as_bytes())).as_bytes(),
            challenge.0.as_bytes(),
        )
    }
}

/// An S256 `code_challenge`: base64url of a SHA-256 digest (43 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses the challenge and its method; the method defaults to `plain`, which is refused.
    pub fn parse(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<CodeChallenge, OAuthError> {
        let challenge = challenge.ok_or_else(|| {
            OAuthError::invalid_request("code_challenge is required (PKCE with S256)")
        })?;
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256",
                ))
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "unsupported code_challenge_method; use S256",
                ))
            }
        }
        if challenge.len() != 43 || !is_unreserved(challenge) {
            return Err(OAuthError::invalid_request(
                "code_challenge is not an S256 challenge",
            ));
        }
        Ok(CodeChallenge(challenge.to_string()))
    }

    /// A stored challenge; `None` if it is not one (a corrupt row).
    pub fn from_stored(s: String) -> Option<CodeChallenge> {
        (s.len() == 43 && is_unreserved(&s)).then_some(CodeChallenge(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_a_challenge_computed_by_openssl() {
        let v = CodeVerifier::parse("dBjftJeZ4CVP-mJ92K9Z6CbQWhFBtt4SdTt6RmACgLc").unwrap();
        let c = CodeChallenge::parse(
            Some("1OGMwwNYoh1Hd67Us412spPkO8O1kvA6qg26ZxqqIQs"),
            Some("S256"),
        )
        .unwrap();
        assert!(v.matches(&c));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!other.matches(&c));
    }

    #[test]
    fn plain_and_missing_are_refused() {
        let c = "1OGMwwNYoh1Hd67Us412spPkO8O1kvA6qg26ZxqqIQs";
        assert!(CodeChallenge::parse(Some(c), None).is_err());
        assert!(CodeChallenge::parse(Some(c), Some("plain")).is_err());
        assert!(CodeChallenge::parse(None, Some("S256")).is_err());
        assert!(CodeVerifier::parse("short").is_err());
    }
}

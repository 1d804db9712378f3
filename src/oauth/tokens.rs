//! Minting and checking gatehouse's own JWTs: RFC 9068 access tokens and OpenID Connect
//! ID tokens.

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use super::resource::Audience;
use crate::crypto::b64url;
use crate::domain::Scopes;
use crate::keys::{Alg, KeySet, SigningKey};

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9068 claims. `sub` is the user's opaque id, or the client id for client tokens:
/// client ids never take the form of a user id (a UUID), so the two cannot collide.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    /// Left out when empty: RFC 6749 scope is one or more tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The DPoP key the token is bound to (RFC 9449 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<super::dpop::Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1): set on tokens from a token exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// Who may act for the subject (RFC 8693 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_act: Option<serde_json::Value>,
    /// Claims the `claims` request parameter asked UserInfo to return (OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_claims: Vec<String>,
}

impl AccessClaims {
    /// Whether the token was issued to a user (rather than to a client for itself).
    pub fn is_user_token(&self) -> bool {
        self.sid.is_some() || self.auth_time.is_some()
    }

    pub fn scopes(&self) -> Scopes {
        Scopes::parse(&self.scope).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub azp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub sid: String,
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// User claims the request asked for by name; `sub` among them is the same `sub`.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A token identifier: 128 random bits, base64url.
pub fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator failed");
    b64url(&bytes)
}

pub fn sign_access_token(key: &SigningKey, claims: &AccessClaims) -> String {
    key.sign_jwt(ACCESS_TOKEN_TYP, claims)
}

/// `at_hash`: the left half of the access token's hash, with the hash of the ID token's
/// algorithm (SHA-512 for Ed25519).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let algorithm = match alg {
        Alg::EdDSA => &digest::SHA512,
        Alg::RS256 | Alg::ES256 => &digest::SHA256,
    };
    let d = digest::digest(algorithm, access_token.as_bytes());
    let bytes = d.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

pub fn sign_id_token(key: &SigningKey, claims: &IdClaims) -> String {
    key.sign_jwt("JWT", claims)
}

/// Verifies a JWT signed by one of the published keys and returns its claims.
/// `check_exp` is false for ID token hints, which may have expired.
fn verify_jwt<T: for<'de> Deserialize<'de>>(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    typ: Option<&str>,
    check_exp: bool,
    now: i64,
) -> Option<T> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if let Some(typ) = typ {
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return None;
        }
    }
    let (key, alg) = keys.decoding_key(header.kid.as_deref()?)?;
    if alg.jwt_algorithm() != header.alg {
        return None;
    }
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &v).ok()?;
    if check_exp && data.claims.get("exp")?.as_i64()? <= now {
        return None;
    }
    serde_json::from_value(data.claims).ok()
}

/// A signature-valid, unexpired access token of this issuer (revocation is checked by
/// the caller against storage).
pub fn verify_access_token(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<AccessClaims, OAuthError> {
    verify_jwt(keys, token, issuer, Some(ACCESS_TOKEN_TYP), true, now)
        .ok_or_else(|| OAuthError::invalid_token("the access token is not valid"))
}

/// An ID token this issuer signed with a published key, expired or not.
pub fn verify_id_token_hint(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    now: i64,
) -> Option<IdClaims> {
    verify_jwt(keys, token, issuer, None, false, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_round_trip_and_typ() {
        let (key, der) = SigningKey::generate(Alg::ES256).unwrap();
        let again = SigningKey::from_pkcs8(None, Alg::ES256, &der).unwrap();
        let keys = KeySet::new(vec![again], vec![key.public_jwk()]);
        let claims = AccessClaims {
            iss: "https://id.example".into(),
            sub: "c1".into(),
            aud: Audience::one("https://api.example"),
            client_id: "c1".into(),
            scope: "read".into(),
            jti: new_jti(),
            iat: 100,
            exp: 200,
            auth_time: None,
            sid: None,
            cnf: None,
            act: None,
            may_act: None,
            userinfo_claims: Vec::new(),
        };
        let t = sign_access_token(&key, &claims);
        assert!(verify_access_token(&keys, &t, "https://id.example", 150).is_ok());
        assert!(
            verify_access_token(&keys, &t, "https://id.example", 200).is_err(),
            "expired"
        );
        assert!(verify_access_token(&keys, &t, "https://other.example", 150).is_err());
        // An ID token is not an access token.
        let id = key.sign_jwt("JWT", &claims);
        assert!(verify_access_token(&keys, &id, "https://id.example", 150).is_err());
    }

    #[test]
    fn at_hash_is_half_the_digest() {
        assert_eq!(
            crate::crypto::b64url_decode(&at_hash(Alg::RS256, "x"))
                .unwrap()
                .len(),
            16
        );
        assert_eq!(
            crate::crypto::b64url_decode(&at_hash(Alg::EdDSA, "x"))
                .unwrap()
                .len(),
            32
        );
    }
}

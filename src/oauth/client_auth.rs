//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523) and `none`.
//! Each client has exactly one registered method; only that one is accepted.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::error::OAuthError;
use super::params::Params;
use crate::crypto::verify_secret;
use crate::domain::client::{AuthMethod, Client, ClientSecret};
use crate::secret_type;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest lifetime accepted for a client assertion.
pub const MAX_ASSERTION_LIFETIME: i64 = 300;

secret_type!(
    /// A client assertion: a bearer credential until it is used.
    ClientAssertion
);

/// What the client presented, before anything is checked against storage.
#[derive(Debug)]
pub enum Presented {
    Basic {
        client_id: String,
        secret: ClientSecret,
    },
    Post {
        client_id: String,
        secret: ClientSecret,
    },
    Assertion {
        client_id: String,
        assertion: ClientAssertion,
    },
    None {
        client_id: String,
    },
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::Assertion { client_id, .. }
            | Presented::None { client_id } => client_id,
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Presented::Basic { .. } => AuthMethod::ClientSecretBasic,
            Presented::Post { .. } => AuthMethod::ClientSecretPost,
            Presented::Assertion { .. } => AuthMethod::PrivateKeyJwt,
            Presented::None { .. } => AuthMethod::None,
        }
    }

    pub fn is_basic(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }
}

fn form_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    let plus = s.replace('+', " ");
    percent_decode(&plus)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads the client's credentials from the `Authorization` header and the form.
pub fn presented(authorization: Option<&str>, form: &Params) -> Result<Presented, OAuthError> {
    if let Some(header) = authorization {
        return from_basic(header, form);
    }
    let body_secret = form.get("client_secret");
    if let Some(assertion) = form.get("client_assertion") {
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        return from_assertion(assertion, form);
    }
    let Some(client_id) = form.get("client_id") else {
        return Err(OAuthError::invalid_client(
            "client authentication is required",
        ));
    };
    Ok(match body_secret {
        Some(secret) => Presented::Post {
            client_id: client_id.to_string(),
            secret: ClientSecret::new(secret.to_string()),
        },
        None => Presented::None {
            client_id: client_id.to_string(),
        },
    })
}

/// HTTP Basic credentials (RFC 6749 §2.3.1), the only scheme a token endpoint takes.
fn from_basic(header: &str, form: &Params) -> Result<Presented, OAuthError> {
    let basic_fail = |d: &str| OAuthError::invalid_client(d).with_basic_challenge(true);
    let malformed = || basic_fail("malformed Basic credentials");
    let Some(encoded) = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, v)| v.trim())
    else {
        return Err(basic_fail(
            "unsupported Authorization scheme at this endpoint",
        ));
    };
    let decoded = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let client_id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if form.get("client_secret").is_some() || form.get("client_assertion").is_some() {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    if form
        .get("client_id")
        .is_some_and(|body_id| body_id != client_id)
    {
        return Err(OAuthError::invalid_request(
            "client_id differs from the authenticated client",
        ));
    }
    Ok(Presented::Basic {
        client_id,
        secret: ClientSecret::new(secret),
    })
}

/// A JWT client assertion (RFC 7523 §2.2); its `sub` names the client.
fn from_assertion(assertion: &str, form: &Params) -> Result<Presented, OAuthError> {
    if form.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
        return Err(OAuthError::invalid_client(
            "unsupported client_assertion_type",
        ));
    }
    let sub = unverified_subject(assertion)
        .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?;
    if form.get("client_id").is_some_and(|body_id| body_id != sub) {
        return Err(OAuthError::invalid_client(
            "client_id differs from the assertion's subject",
        ));
    }
    Ok(Presented::Assertion {
        client_id: sub,
        assertion: ClientAssertion::new(assertion.to_string()),
    })
}

/// The `sub` of an assertion, read without verification (to find the client's keys).
fn unverified_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = crate::crypto::b64url_decode(payload)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(v.get("sub")?.as_str()?.to_string())
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// A verified assertion's identifier, to be recorded so it cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionUse {
    pub jti: String,
    pub expires_at: i64,
}

/// Checks the presented credentials against the registered client. `audiences` are the
/// values an assertion's `aud` may name (the endpoint's URL and the issuer).
pub fn verify(
    presented: &Presented,
    client: &Client,
    audiences: &[String],
    now: i64,
) -> Result<Option<AssertionUse>, OAuthError> {
    let fail = |d: &str| OAuthError::invalid_client(d).with_basic_challenge(presented.is_basic());
    if presented.method() != client.auth_method {
        return Err(fail(
            "this client must authenticate with its registered method",
        ));
    }
    match presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => {
            let ok = client
                .secret_hash
                .as_deref()
                .is_some_and(|h| verify_secret(secret.secret(), h));
            if ok {
                Ok(None)
            } else {
                Err(fail("client authentication failed"))
            }
        }
        Presented::None { .. } => Ok(None),
        Presented::Assertion { assertion, .. } => {
            verify_assertion(assertion.secret(), client, audiences, now).map(Some)
        }
    }
}

fn verify_assertion(
    jwt: &str,
    client: &Client,
    audiences: &[String],
    now: i64,
) -> Result<AssertionUse, OAuthError> {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
    let fail = |d: &str| OAuthError::invalid_client(d);
    let header = decode_header(jwt).map_err(|_| fail("malformed client assertion"))?;
    // The algorithms advertised as token_endpoint_auth_signing_alg_values_supported.
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(fail("unsupported assertion algorithm"));
    }
    let jwks: JwkSet = client
        .jwks
        .clone()
        .and_then(|j| serde_json::from_value(j).ok())
        .ok_or_else(|| fail("the client has no registered keys"))?;
    let candidates: Vec<_> = jwks
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 30;
    validation.validate_exp = false; // checked below against the supplied clock
    let claims = candidates
        .iter()
        .find_map(|key| decode::<AssertionClaims>(jwt, key, &validation).ok())
        .ok_or_else(|| fail("the client assertion's signature or audience is not valid"))?
        .claims;
    // One audience, as a string: an array naming this server among others would let an
    // assertion made for another server be replayed here (draft-ietf-oauth-rfc7523bis).
    if !claims
        .aud
        .as_str()
        .is_some_and(|a| audiences.iter().any(|x| x == a))
    {
        return Err(fail(
            "the assertion's aud must be this server's issuer or endpoint, as a single string",
        ));
    }
    if claims.iss != client.client_id || claims.sub != client.client_id {
        return Err(fail("the assertion's iss and sub must be the client_id"));
    }
    if claims.exp + 30 < now {
        return Err(fail("the client assertion has expired"));
    }
    let issued = claims.iat.unwrap_or(now);
    if claims.exp - issued.min(now) > MAX_ASSERTION_LIFETIME {
        return Err(fail("the client assertion's lifetime is too long"));
    }
    if claims.jti.is_empty() {
        return Err(fail("the client assertion needs a jti"));
    }
    Ok(AssertionUse {
        jti: claims.jti,
        expires_at: claims.exp + 30,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::of(pairs)
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20id:p%3Ass+word"));
        let p = presented(Some(&header), &form(&[])).unwrap();
        match p {
            Presented::Basic { client_id, secret } => {
                assert_eq!(client_id, "my id");
                assert_eq!(secret.secret(), "p:ss word");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_or_mixed_credentials_are_refused() {
        let e = presented(Some("Basic !!!"), &form(&[])).unwrap_err();
        assert!(e.basic_challenge);
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let e = presented(Some(&header), &form(&[("client_secret", "x")])).unwrap_err();
        assert_eq!(e.code, super::super::error::ErrorCode::InvalidRequest);
        let e = presented(None, &form(&[])).unwrap_err();
        assert_eq!(e.code, super::super::error::ErrorCode::InvalidClient);
        assert!(matches!(
            presented(None, &form(&[("client_id", "c")])).unwrap(),
            Presented::None { .. }
        ));
    }
}

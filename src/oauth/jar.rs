//! Signed request objects (RFC 9101, OpenID Connect Core §6.1): an authorization
//! request whose parameters come in a JWT signed with the client's registered keys.
//! Only the object's parameters count (RFC 9101 §6.3); unsigned objects only for a
//! client that registered `request_object_signing_alg: none`.

use serde_json::Value;

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::domain::Client;

/// The algorithms accepted for request objects.
pub const ALGS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];
/// The longest lifetime (`exp - iat`, or `exp - now`) a request object may claim.
const MAX_LIFETIME: i64 = 3600;

fn invalid(m: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, m)
}

/// The claims of a request object of `client`, checked: signed by one of its keys, from
/// it (`iss`, `client_id`), for this server (`aud`), and within its lifetime.
pub fn claims(
    jwt: &str,
    client: &Client,
    issuer: &str,
    now: i64,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
    if let Some(claims) = unsigned(jwt, client)? {
        check(&claims, client, issuer, now)?;
        return Ok(claims);
    }
    let header =
        decode_header(jwt).map_err(|_| invalid("the request object is not a signed JWT"))?;
    let alg = format!("{:?}", header.alg);
    if client
        .request_object_alg
        .as_deref()
        .is_some_and(|a| a != alg)
    {
        return Err(invalid(
            "the request object is not signed with the client's request_object_signing_alg",
        ));
    }
    let alg = crate::keys::client_algorithm(&alg).ok_or_else(|| {
        invalid(format!(
            "request objects must be signed with one of {}",
            ALGS.join(", ")
        ))
    })?;
    let keys: JwkSet = client
        .jwks
        .clone()
        .and_then(|j| serde_json::from_value(j).ok())
        .ok_or_else(|| {
            invalid("the client has no registered keys to check a request object with")
        })?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .find_map(|key| decode::<serde_json::Map<String, Value>>(jwt, &key, &validation).ok())
        .ok_or_else(|| invalid("the request object's signature is not one of the client's keys"))?
        .claims;
    check(&claims, client, issuer, now)?;
    Ok(claims)
}

/// The claims of an unsigned (`alg: none`) object, for a client that registered `none`;
/// `None` for a signed object. Unsigned objects of other clients are refused.
fn unsigned(
    jwt: &str,
    client: &Client,
) -> Result<Option<serde_json::Map<String, Value>>, OAuthError> {
    let mut parts = jwt.split('.');
    let (Some(head), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let header: Value = crate::crypto::b64url_decode(head)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    if header["alg"] != "none" {
        return Ok(None);
    }
    if client.request_object_alg.as_deref() != Some("none") || !signature.is_empty() {
        return Err(invalid(
            "unsigned request objects are refused for this client",
        ));
    }
    crate::crypto::b64url_decode(body)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .map(Some)
        .ok_or_else(|| invalid("the request object is not JSON"))
}

fn check(
    c: &serde_json::Map<String, Value>,
    client: &Client,
    issuer: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let text = |k: &str| c.get(k).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str()) {
        return Err(invalid("the request object's iss must be the client_id"));
    }
    if c.get("client_id").is_some() && text("client_id") != Some(client.client_id.as_str()) {
        return Err(invalid(
            "the request object's client_id is not the request's",
        ));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x == issuer),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid(
            "the request object's aud must be this server's issuer",
        ));
    }
    let number = |k: &str| c.get(k).and_then(Value::as_i64);
    let exp = number("exp").ok_or_else(|| invalid("the request object needs exp"))?;
    if exp + 30 < now {
        return Err(invalid("the request object has expired"));
    }
    if exp - number("iat").unwrap_or(now).min(now) > MAX_LIFETIME {
        return Err(invalid("the request object's lifetime is too long"));
    }
    if number("nbf").is_some_and(|nbf| nbf > now + 30) {
        return Err(invalid("the request object is not valid yet"));
    }
    if c.contains_key("request") || c.contains_key("request_uri") {
        return Err(invalid(
            "a request object must not contain request or request_uri",
        ));
    }
    Ok(())
}

/// The authorization request the object describes: its parameters (strings as they are,
/// other JSON values serialized, `resource` arrays repeated) and the client id.
pub fn to_params(
    claims: &serde_json::Map<String, Value>,
    client_id: &str,
) -> Result<Params, OAuthError> {
    let mut pairs = vec![("client_id".to_string(), client_id.to_string())];
    for (k, v) in claims {
        if matches!(
            k.as_str(),
            "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "client_id"
        ) {
            continue;
        }
        match (k.as_str(), v) {
            (_, Value::String(s)) => pairs.push((k.clone(), s.clone())),
            ("resource", Value::Array(list)) => {
                for r in list {
                    pairs.push((k.clone(), r.as_str().unwrap_or_default().to_string()));
                }
            }
            (_, Value::Null) => {}
            (_, other) => pairs.push((k.clone(), other.to_string())),
        }
    }
    Params::from_pairs(pairs).map_err(|e| invalid(e.description.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Alg, SigningKey};
    use serde_json::json;

    const ISS: &str = "https://id.example";

    fn client(key: &SigningKey) -> Client {
        let mut c = crate::oauth::redirect::test_support::client();
        c.jwks = Some(json!({"keys": [key.public_jwk()]}));
        c
    }

    fn object(over: Value) -> Value {
        let mut o = json!({"iss": "app", "aud": ISS, "exp": 1100, "iat": 1000,
            "response_type": "code", "scope": "openid", "max_age": 60,
            "resource": ["https://a.example", "https://b.example"]});
        for (k, v) in over.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    }

    #[test]
    fn a_signed_object_gives_its_parameters() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let jwt = key.sign_jwt("oauth-authz-req+jwt", &object(json!({})));
        let c = claims(&jwt, &client(&key), ISS, 1000).unwrap();
        let p = to_params(&c, "app").unwrap();
        assert_eq!(p.get("scope"), Some("openid"));
        assert_eq!(p.get("max_age"), Some("60"));
        assert_eq!(p.get("client_id"), Some("app"));
        assert_eq!(p.resources().len(), 2);
        assert!(p.get("iss").is_none());
    }

    #[test]
    fn objects_that_are_refused() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
        let c = client(&key);
        let code = |jwt: &str| claims(jwt, &c, ISS, 1000).unwrap_err().code;
        assert_eq!(
            code(&other.sign_jwt("JWT", &object(json!({})))),
            ErrorCode::InvalidRequestObject
        );
        for over in [
            json!({"iss": "someone"}),
            json!({"aud": "https://other.example"}),
            json!({"exp": 100}),
            json!({"exp": 99999}),
            json!({"nbf": 5000}),
            json!({"client_id": "someone"}),
            json!({"request_uri": "x"}),
        ] {
            let jwt = key.sign_jwt("JWT", &object(over.clone()));
            assert_eq!(code(&jwt), ErrorCode::InvalidRequestObject, "{over}");
        }
        let unsigned = format!(
            "{}.{}.",
            crate::crypto::b64url(br#"{"alg":"none"}"#),
            crate::crypto::b64url(object(json!({})).to_string().as_bytes())
        );
        assert_eq!(code(&unsigned), ErrorCode::InvalidRequestObject);
        let mut none = c.clone();
        none.request_object_alg = Some("none".into());
        let r = claims(&unsigned, &none, ISS, 1000);
        assert!(r.is_ok(), "a client that registered none: {r:?}");
        let mut rs = c.clone();
        rs.request_object_alg = Some("RS256".into());
        let jwt = key.sign_jwt("JWT", &object(json!({})));
        assert_eq!(
            claims(&jwt, &rs, ISS, 1000).unwrap_err().code,
            ErrorCode::InvalidRequestObject
        );
    }
}

//! Pushed authorization requests (RFC 9126): what a client may push, the one-time
//! `request_uri` it gets back, and the seal that marks an authorization request as one
//! that came from a push (so the login and consent round trips, which carry the request
//! along, keep counting as pushed).

use super::error::OAuthError;
use super::params::Params;
use crate::crypto::{b64url, ct_eq, random_token, Sealer};

/// The prefix of every `request_uri` gatehouse hands out.
pub const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Seconds a pushed request may wait for its authorization request.
pub const LIFETIME: i64 = 60;
/// The parameter that carries the seal of a pushed request through the login pages.
pub const SEAL: &str = "pushed";

/// A fresh one-time `request_uri`.
pub fn new_request_uri() -> String {
    format!("{URN_PREFIX}{}", random_token(32))
}

/// Refuses what cannot be pushed: a `request_uri` (RFC 9126 §2.1) or the seal itself.
/// A request object has been replaced by its parameters before.
pub fn check_pushable(params: &Params) -> Result<(), OAuthError> {
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "a pushed request must not contain request_uri",
        ));
    }
    if params.get(SEAL).is_some() {
        return Err(OAuthError::invalid_request(format!("'{SEAL}' is reserved")));
    }
    Ok(())
}

/// The parameters to store: the authorization request, without the client's credentials.
pub fn to_store(params: &Params) -> String {
    let mut p = params.clone();
    for credential in ["client_secret", "client_assertion", "client_assertion_type"] {
        p = p.take(credential).0;
    }
    p.to_query()
}

fn seal_of(sealer: &Sealer, params: &Params) -> String {
    b64url(&sealer.mac(&[b"pushed-request", params.to_query().as_bytes()]))
}

/// The pushed parameters, sealed.
pub fn sealed(sealer: &Sealer, params: Params) -> Params {
    let seal = seal_of(sealer, &params);
    params.with(SEAL, &seal)
}

/// Whether the request carries a valid seal (`None`: it carries none at all).
pub fn seal_valid(sealer: &Sealer, params: &Params) -> Option<bool> {
    let (rest, seal) = params.take(SEAL);
    seal.map(|s| ct_eq(s.as_bytes(), seal_of(sealer, &rest).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seal_covers_every_parameter() {
        let sealer = Sealer::from_secret("a test secret that is long enough");
        let p = Params::parse_query("client_id=a&scope=openid&resource=https://r.example").unwrap();
        let s = sealed(&sealer, p.clone());
        assert_eq!(seal_valid(&sealer, &s), Some(true));
        assert_eq!(seal_valid(&sealer, &p), None);
        let tampered = s.with("scope", "openid email");
        assert_eq!(seal_valid(&sealer, &tampered), Some(false));
        let round_trip = Params::parse_query(&s.to_query()).unwrap();
        assert_eq!(seal_valid(&sealer, &round_trip), Some(true));
    }

    #[test]
    fn what_may_be_pushed() {
        assert!(check_pushable(&Params::of(&[("client_id", "a")])).is_ok());
        assert!(check_pushable(&Params::of(&[("request_uri", "x")])).is_err());
        assert!(check_pushable(&Params::of(&[("pushed", "x")])).is_err());
        let stored = to_store(&Params::of(&[("client_id", "a"), ("client_secret", "s")]));
        assert_eq!(stored, "client_id=a");
        assert!(new_request_uri().starts_with(URN_PREFIX));
    }
}

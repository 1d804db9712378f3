//! Step one of an authorization request: the client and the redirect URI. Until both are
//! verified nothing may be sent back by redirect (RFC 9700 §4.1: no open redirector).

use super::params::Params;
use crate::domain::Client;

/// Why a request cannot be answered by redirect: shown to the person as a page, because
/// sending it to an unverified URI would make gatehouse an open redirector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// Repeated or malformed parameters, before the redirect URI is known.
    Malformed(String),
    MissingClientId,
    UnknownClient,
    /// The client has several redirect URIs, so the request must name one.
    MissingRedirectUri,
    UnregisteredRedirectUri,
}

impl PageError {
    pub fn message(&self) -> String {
        match self {
            PageError::Malformed(d) => format!("The sign-in request is not valid: {d}."),
            PageError::MissingClientId => "The sign-in request does not say which application sent it.".into(),
            PageError::UnknownClient => "The application that sent you here is not registered with this server.".into(),
            PageError::MissingRedirectUri => {
                "The sign-in request does not say where to return to, and the application has several addresses.".into()
            }
            PageError::UnregisteredRedirectUri => {
                "The sign-in request asks to return to an address that is not registered for this application.".into()
            }
        }
    }
}

/// Where authorization responses (success or error) for this request may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub redirect_uri: String,
    /// Whether the request named it (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    /// Answers go back as an auto-submitted form (OAuth 2.0 Form Post Response Mode).
    pub form_post: bool,
}

/// Step one, part one: the `client_id` to look up.
pub fn client_id(params: &Params) -> Result<&str, PageError> {
    params.get("client_id").ok_or(PageError::MissingClientId)
}

/// The prefix and port-less remainder of a loopback URI (`http://127.0.0.1:PORT/…` or
/// `http://[::1]:PORT/…`), compared as strings so nothing else is normalised away.
fn loopback_parts(uri: &str) -> Option<(&'static str, &str)> {
    for host in ["http://127.0.0.1", "http://[::1]"] {
        if let Some(rest) = uri.strip_prefix(host) {
            let rest = match rest.strip_prefix(':') {
                Some(r) => {
                    let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                    // A port is 1 to 65535; anything else is no URL at all.
                    let port: u32 = r[..digits].parse().ok()?;
                    if digits > 5 || !(1..=65535).contains(&port) {
                        return None;
                    }
                    &r[digits..]
                }
                None => rest,
            };
            if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
                return Some((host, rest));
            }
        }
    }
    None
}

/// Whether `requested` matches `registered`: exactly, or (RFC 8252 §7.3) as a loopback URI
/// that differs only in its port.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(requested)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Step one, part two: the client (looked up by the caller) and the redirect URI.
pub fn target(params: &Params, client: Option<&Client>) -> Result<Target, PageError> {
    let client = client.ok_or(PageError::UnknownClient)?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) => {
            if !client
                .redirect_uris
                .iter()
                .any(|r| redirect_uri_matches(r, uri))
            {
                return Err(PageError::UnregisteredRedirectUri);
            }
            uri.to_string()
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            [] => return Err(PageError::UnregisteredRedirectUri),
            _ => return Err(PageError::MissingRedirectUri),
        },
    };
    Ok(Target {
        redirect_uri,
        redirect_uri_given: params.get("redirect_uri").is_some(),
        state: params.get("state").map(str::to_string),
        form_post: params.get("response_mode") == Some("form_post"),
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::client::AuthMethod;
    use crate::domain::{Client, Scopes};
    use crate::oauth::params::Params;

    pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// A valid authorization request of [`client`]; `extra` adds or replaces parameters.
    pub fn params(extra: &[(&str, &str)]) -> Params {
        let mut pairs: Vec<(String, String)> = vec![
            ("client_id".into(), "app".into()),
            ("redirect_uri".into(), "https://app.example/cb".into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid profile".into()),
            ("code_challenge".into(), CHALLENGE.into()),
            ("code_challenge_method".into(), "S256".into()),
            ("state".into(), "s1".into()),
        ];
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k.to_string(), v.to_string()));
        }
        Params::from_pairs(pairs).unwrap()
    }

    /// A web client with one https and one loopback redirect URI.
    pub fn client() -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: None,
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "http://127.0.0.1/native".into(),
            ],
            post_logout_redirect_uris: vec![],
            grant_types: vec![
                crate::oauth::grants::authorization_code::ID,
                crate::oauth::grants::refresh_token::ID,
            ],
            scopes: Scopes::parse("openid profile email offline_access gatehouse:admin").unwrap(),
            skip_consent: false,
            jwks: None,
            jwks_uri: None,
            id_token_alg: None,
            access_token_alg: None,
            audience: None,
            client_uri: None,
            logo_uri: None,
            contacts: vec![],
            provenance: Default::default(),
            dpop_bound: false,
            require_par: false,
            fapi2: false,
            request_object_alg: None,
            request_uris: vec![],
            userinfo_alg: None,
            openid: Default::default(),
            used_at: None,
            registration_token_hash: None,
            created_at: 0,
            updated_at: 0,
            ceiling: None,
            tokens_valid_after: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::client;
    use super::*;

    use super::test_support::params;

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        assert!(redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb/"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example:443/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb?x=1"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1/native",
            "http://127.0.0.1:53121/native"
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:8000/native",
            "http://127.0.0.1:9/native"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:1/cb",
            "http://[::1]:65535/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/native",
            "http://127.0.0.1:53121/other"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/native",
            "http://[::1]:53121/native"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/native",
            "http://127.0.0.1.evil.example/native"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/native",
            "http://127.0.0.1:80@evil.example/native"
        ));
        assert!(!redirect_uri_matches(
            "http://localhost/native",
            "http://localhost:5/native"
        ));
        for port in ["0", "65536", "99999", "00000"] {
            assert!(
                !redirect_uri_matches(
                    "http://127.0.0.1/cb",
                    &format!("http://127.0.0.1:{port}/cb")
                ),
                "port {port}"
            );
        }
        assert!(redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:65535/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://127.0.0.1/native",
            "https://127.0.0.1:5/native"
        ));
    }

    #[test]
    fn step_one_refuses_unknown_clients_and_unregistered_uris() {
        let c = client();
        assert_eq!(
            client_id(&Params::default()),
            Err(PageError::MissingClientId)
        );
        assert_eq!(target(&params(&[]), None), Err(PageError::UnknownClient));
        let t = target(
            &params(&[("redirect_uri", "https://evil.example/cb")]),
            Some(&c),
        );
        assert_eq!(t, Err(PageError::UnregisteredRedirectUri));
        let t = target(
            &params(&[("redirect_uri", "http://127.0.0.1:4711/native")]),
            Some(&c),
        )
        .unwrap();
        assert_eq!(t.redirect_uri, "http://127.0.0.1:4711/native");
        assert_eq!(t.state.as_deref(), Some("s1"));
        // Omitting the redirect URI needs a single registered one.
        let p = Params::parse_query("client_id=app").unwrap();
        assert_eq!(target(&p, Some(&c)), Err(PageError::MissingRedirectUri));
        let mut single = client();
        single.redirect_uris.truncate(1);
        assert_eq!(
            target(&p, Some(&single)).unwrap().redirect_uri,
            "https://app.example/cb"
        );
    }
}

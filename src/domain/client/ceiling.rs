//! The ceiling of a client that manages itself (RFC 7592): what an administrator
//! approved, which its own updates may narrow and never widen.

use serde::{Deserialize, Serialize};

use super::{is_loopback_host, meta_err, AuthMethod, MetadataError, NewClient};

/// What an administrator approved for a client that manages itself (RFC 7592): its
/// updates may narrow these, never widen them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ceiling {
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    /// Authenticates with a secret or a key (true), or not at all (false).
    pub confidential: bool,
    /// The origins redirect URIs may be on (`https://host:port`, `http://127.0.0.1`,
    /// `com.example.app:`).
    pub redirect_origins: Vec<String>,
}

/// The origin a redirect URI is on; loopback URIs without their port (RFC 8252 §7.3).
fn redirect_origin(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            let host = u.host_str().unwrap_or("");
            match u.port().filter(|_| !is_loopback_host(host)) {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => uri.to_string(),
    }
}

impl Ceiling {
    /// The ceiling of metadata as an administrator approves it.
    pub fn of(c: &NewClient) -> Ceiling {
        let mut origins: Vec<String> = c
            .redirect_uris
            .iter()
            .chain(&c.post_logout_redirect_uris)
            .map(|u| redirect_origin(u.as_str()))
            .collect();
        origins.sort();
        origins.dedup();
        Ceiling {
            scopes: c.scopes.iter().map(str::to_string).collect(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            confidential: c.auth_method != AuthMethod::None,
            redirect_origins: origins,
        }
    }

    /// Refuses metadata beyond the ceiling, naming the field.
    pub fn admits(&self, c: &NewClient) -> Result<(), MetadataError> {
        if let Some(s) = c
            .scopes
            .iter()
            .find(|s| !self.scopes.iter().any(|a| a == s))
        {
            return Err(meta_err(
                "scope",
                format!("'{s}' is beyond what was approved"),
            ));
        }
        if let Some(g) = c
            .grant_types
            .iter()
            .find(|g| !self.grant_types.iter().any(|a| a == g.as_str()))
        {
            return Err(meta_err(
                "grant_types",
                format!("'{g}' is beyond what was approved"),
            ));
        }
        if (c.auth_method != AuthMethod::None) != self.confidential {
            return Err(meta_err(
                "token_endpoint_auth_method",
                "a client cannot change between confidential and public",
            ));
        }
        for u in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
            if !self.redirect_origins.contains(&redirect_origin(u.as_str())) {
                return Err(meta_err(
                    "redirect_uris",
                    format!("'{}' is not on an approved origin", u.as_str()),
                ));
            }
        }
        Ok(())
    }
}

//! The token endpoint's grants, one module each, composed in [`REGISTRY`]. The registry
//! is the one list of grant types: it dispatches token requests and feeds discovery's
//! `grant_types_supported`, client metadata validation and its error text, the admin
//! form's checkboxes and the CLI's `--grant-type` help. Adding a grant is one module
//! implementing [`Grant`] plus one line in [`REGISTRY`].

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
mod issue;
pub mod refresh_token;
#[cfg(test)]
pub(crate) mod testing;
pub mod token_exchange;
mod user_grant;

pub use issue::{Issuer, TokenResponse};

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::store::Store;
use super::store::StoreResult;
use crate::domain::{Client, Scopes};

/// Every grant gatehouse supports, in the order forms and documents list them.
pub static REGISTRY: &[&dyn Grant] = &[
    &authorization_code::AuthorizationCode,
    &refresh_token::RefreshTokenGrant,
    &client_credentials::ClientCredentials,
    &device_code::DeviceCode,
    &token_exchange::TokenExchange,
];

/// A grant type identifier (RFC 6749 §4, or an extension URI), as registered.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantType(&'static str);

impl GrantType {
    pub const fn new(id: &'static str) -> GrantType {
        GrantType(id)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The registered grant of this name.
    pub fn parse(s: &str) -> Option<GrantType> {
        find(s).map(|g| g.profile().id)
    }

    pub fn profile(self) -> &'static GrantProfile {
        find(self.0)
            .map(|g| g.profile())
            .expect("a GrantType names a registered grant")
    }
}

impl std::fmt::Debug for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for GrantType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// What the rest of gatehouse knows about a grant, besides how to answer it.
#[derive(Debug)]
pub struct GrantProfile {
    pub id: GrantType,
    /// For the admin form: what the grant is for, in a few words.
    pub label: &'static str,
    /// Only confidential clients may use it.
    pub confidential_only: bool,
    /// A client with this grant needs at least one redirect URI.
    pub needs_redirect_uri: bool,
    /// False for a grant that only continues what another grant started (refresh).
    pub standalone: bool,
}

/// One grant type: its profile, and how a token request of that type is read.
pub trait Grant: Sync {
    fn profile(&self) -> &'static GrantProfile;
    /// Reads the request's parameters once, into the grant's own typed request.
    fn parse(&self, params: &Params) -> Result<Box<dyn GrantRequest>, OAuthError>;
}

/// A parsed token request, ready to be answered for an authenticated client.
pub trait GrantRequest: Send {
    /// The answer when it needs no storage (client credentials); `None` otherwise. Such
    /// requests are answered on the request's own thread and through a database outage.
    fn answer_without_store(&self, _issuer: &Issuer, _client: &Client) -> Option<Outcome> {
        None
    }
    /// The answer, with storage. Store failures are errors; protocol refusals are an
    /// [`Outcome`] whose `result` is an error (their writes, such as a revocation, stay).
    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Outcome>;
}

/// A security event a grant detected, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    CodeReplay {
        client_id: String,
        family_id: String,
    },
    RefreshReuse {
        client_id: String,
        family_id: String,
    },
}

/// What a grant answered, and what it saw on the way.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<TokenResponse, OAuthError>,
    pub events: Vec<SecurityEvent>,
}

impl Outcome {
    pub fn of(result: Result<TokenResponse, OAuthError>) -> Outcome {
        Outcome {
            result,
            events: Vec::new(),
        }
    }
}

fn find(id: &str) -> Option<&'static dyn Grant> {
    REGISTRY
        .iter()
        .copied()
        .find(|g| g.profile().id.as_str() == id)
}

/// Every registered grant type, in registry order.
pub fn all() -> impl Iterator<Item = GrantType> {
    REGISTRY.iter().map(|g| g.profile().id)
}

/// The registered names, for messages: `a, b, c`.
pub fn names() -> String {
    all().map(GrantType::as_str).collect::<Vec<_>>().join(", ")
}

/// Reads a token request: its `grant_type` picks the grant, which parses the rest.
pub fn parse_request(params: &Params) -> Result<(GrantType, Box<dyn GrantRequest>), OAuthError> {
    let name = params.require("grant_type")?;
    let grant = find(name).ok_or_else(|| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type '{name}' is not supported"),
        )
    })?;
    Ok((grant.profile().id, grant.parse(params)?))
}

/// The optional `scope` parameter; a malformed one is `invalid_scope`.
fn parse_scope(p: &Params) -> Result<Option<Scopes>, OAuthError> {
    p.get("scope")
        .map(|s| Scopes::parse(s).ok_or_else(|| OAuthError::invalid_scope("malformed scope")))
        .transpose()
}

/// A grant's answer inside a transaction that commits either way.
type Answer = Result<TokenResponse, OAuthError>;

/// The outcome of `run` for `client`, refused at once when the client is not registered
/// for `grant`; `run` records what it sees in the events it is given.
fn answer_for(
    client: &Client,
    grant: GrantType,
    run: impl FnOnce(&mut Vec<SecurityEvent>) -> StoreResult<Answer>,
) -> StoreResult<Outcome> {
    let mut events = Vec::new();
    let result = match require_client_grant(client, grant) {
        Ok(()) => run(&mut events)?,
        Err(e) => Err(e),
    };
    Ok(Outcome { result, events })
}

/// Refuses a client not registered for `grant` (RFC 6749 §5.2 `unauthorized_client`).
pub fn require_client_grant(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
    let profile = grant.profile();
    if !client.allows_grant(grant) || (profile.confidential_only && client.is_public()) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use {grant}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_names_each_grant_once() {
        let ids: Vec<_> = all().map(GrantType::as_str).collect();
        assert_eq!(
            ids,
            [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ]
        );
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(
            GrantType::parse("client_credentials"),
            Some(client_credentials::ID)
        );
        assert!(names().contains("refresh_token"));
    }

    #[test]
    fn unknown_grant_types_are_unsupported() {
        let p = Params::parse_query("grant_type=password").unwrap();
        let e = parse_request(&p).err().unwrap();
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        let e = parse_request(&Params::default()).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }
}

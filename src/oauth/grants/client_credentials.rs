//! Client credentials (RFC 6749 §4.4): a confidential client asks for a token for itself.
//! Answered from the client record and the signing keys alone, with no database write.

use super::{
    require_client_grant, Grant, GrantProfile, GrantRequest, GrantType, Issuer, Outcome,
    TokenResponse,
};
use crate::domain::{Client, Scopes};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::store::Store;
use crate::oauth::store::StoreResult;

pub const ID: GrantType = GrantType::new("client_credentials");

static PROFILE: GrantProfile = GrantProfile {
    id: ID,
    label: "Client credentials (machine to machine)",
    confidential_only: true,
    needs_redirect_uri: false,
    standalone: true,
};

pub struct ClientCredentials;

impl Grant for ClientCredentials {
    fn profile(&self) -> &'static GrantProfile {
        &PROFILE
    }

    fn parse(&self, p: &Params) -> Result<Box<dyn GrantRequest>, OAuthError> {
        Ok(Box::new(Request {
            scope: super::parse_scope(p)?,
            resources: p.resources().to_vec(),
        }))
    }
}

#[derive(Debug)]
pub struct Request {
    pub scope: Option<Scopes>,
    pub resources: Vec<String>,
}

impl Request {
    fn issue(&self, issuer: &Issuer, client: &Client) -> Result<TokenResponse, OAuthError> {
        require_client_grant(client, ID)?;
        let scope = match &self.scope {
            Some(s) => {
                if let Some(bad) = s.outside(&client.scopes).next() {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope '{bad}' is not allowed for this client"
                    )));
                }
                s.clone()
            }
            None => client.scopes.clone(),
        };
        let aud = issuer.audience(client, &self.resources, &[])?;
        let access = issuer.access_token(client, aud, &scope, None)?;
        Ok(issuer.response(access, None, None))
    }
}

impl GrantRequest for Request {
    fn answer_without_store(&self, issuer: &Issuer, client: &Client) -> Option<Outcome> {
        Some(Outcome::of(self.issue(issuer, client)))
    }

    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        _store: &mut dyn Store,
    ) -> StoreResult<Outcome> {
        Ok(Outcome::of(self.issue(issuer, client)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{machine_client, Fixture};
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn ask(f: &Fixture, client: &Client, query: &str) -> Result<TokenResponse, OAuthError> {
        let p = Params::parse_query(&format!("grant_type=client_credentials&{query}")).unwrap();
        let req = ClientCredentials.parse(&p).unwrap();
        req.answer_without_store(&f.issuer(), client)
            .unwrap()
            .result
    }

    #[test]
    fn issues_the_clients_scopes_or_fewer() {
        let f = Fixture::new();
        let c = machine_client("read write");
        let all = ask(&f, &c, "").unwrap();
        assert_eq!(all.scope.as_deref(), Some("read write"));
        assert_eq!(f.access_claims(&all.access_token).sub, c.client_id);
        let one = ask(&f, &c, "scope=read").unwrap();
        assert_eq!(one.scope.as_deref(), Some("read"));
        assert!(one.refresh_token.is_none() && one.id_token.is_none());
        let e = ask(&f, &c, "scope=admin").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn an_empty_scope_is_left_out_of_the_response_and_the_token() {
        let f = Fixture::new();
        let c = machine_client("");
        let r = ask(&f, &c, "").unwrap();
        assert_eq!(r.scope, None);
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("scope").is_none(), "{json}");
        let payload = f.access_payload(&r.access_token);
        assert!(payload.get("scope").is_none(), "{payload}");
    }

    #[test]
    fn public_clients_and_unregistered_grants_are_refused() {
        let f = Fixture::new();
        let mut c = machine_client("read");
        c.auth_method = crate::domain::AuthMethod::None;
        assert_eq!(
            ask(&f, &c, "").unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
        let mut c = machine_client("read");
        c.grant_types = vec![super::super::authorization_code::ID];
        assert_eq!(
            ask(&f, &c, "").unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn resources_must_be_the_clients_audiences() {
        let f = Fixture::new();
        let mut c = machine_client("read");
        c.audience = Some("https://api.example".into());
        let r = ask(&f, &c, "resource=https://api.example").unwrap();
        assert!(f
            .access_claims(&r.access_token)
            .aud
            .is_only("https://api.example"));
        let e = ask(&f, &c, "resource=https://other.example").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }
}

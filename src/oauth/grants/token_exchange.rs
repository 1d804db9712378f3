//! Token exchange (RFC 8693), for delegation: a confidential client allowed this grant
//! trades an access token issued here (the subject token) for one with another
//! registered audience and equal or narrower scope. The new token names the client in
//! `act`; a subject token's `may_act`, when present, must name the client. Each
//! exchange is in the audit log, linking the two tokens.

use super::{answer_for, Answer, Grant, GrantProfile, GrantRequest, GrantType, Issuer, Outcome};
use crate::domain::{Client, Scopes};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::store::{AuditEvent, Store, StoreResult};
use crate::oauth::tokens::{verify_access_token, AccessClaims};
use crate::secret_type;

pub const ID: GrantType = GrantType::new("urn:ietf:params:oauth:grant-type:token-exchange");
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

static PROFILE: GrantProfile = GrantProfile {
    id: ID,
    label: "Token exchange (a service acting for the token's subject)",
    confidential_only: true,
    needs_redirect_uri: false,
    standalone: true,
};

secret_type!(
    /// The subject token as presented.
    SubjectToken
);

pub struct TokenExchange;

impl Grant for TokenExchange {
    fn profile(&self) -> &'static GrantProfile {
        &PROFILE
    }

    fn parse(&self, p: &Params) -> Result<Box<dyn GrantRequest>, OAuthError> {
        if p.require("subject_token_type")? != ACCESS_TOKEN_TYPE {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
        if p.get("requested_token_type")
            .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
        {
            return Err(OAuthError::invalid_request(format!(
                "only {ACCESS_TOKEN_TYPE} can be requested"
            )));
        }
        if p.get("actor_token").is_some() {
            return Err(OAuthError::invalid_request(
                "actor tokens are not supported: the authenticated client is the actor",
            ));
        }
        // `audience` names the target as `resource` does (RFC 8693 §2.1).
        let mut targets: Vec<String> = p.resources().to_vec();
        targets.extend(p.get("audience").map(str::to_string));
        if targets.is_empty() {
            return Err(OAuthError::invalid_request(
                "name the target with resource or audience",
            ));
        }
        Ok(Box::new(Request {
            subject_token: SubjectToken::new(p.require("subject_token")?.to_string()),
            scope: super::parse_scope(p)?,
            targets,
        }))
    }
}

pub struct Request {
    pub subject_token: SubjectToken,
    pub scope: Option<Scopes>,
    pub targets: Vec<String>,
}

impl GrantRequest for Request {
    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Outcome> {
        answer_for(client, ID, |_| self.exchange(issuer, client, store))
    }
}

/// The subject token's `may_act`, if any, must name `client` (RFC 8693 §4.4).
fn may_act_allows(subject: &AccessClaims, client: &Client) -> bool {
    subject
        .may_act
        .as_ref()
        .is_none_or(|m| m.get("sub").and_then(|s| s.as_str()) == Some(client.client_id.as_str()))
}

impl Request {
    fn exchange(
        &self,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Answer> {
        let settings = issuer.settings;
        let invalid =
            || OAuthError::invalid_grant("the subject token is not an active token of this server");
        let Ok(subject) = verify_access_token(
            issuer.keys,
            self.subject_token.secret(),
            &settings.issuer,
            issuer.now,
        ) else {
            return Ok(Err(invalid()));
        };
        if crate::oauth::store::is_revoked(store, &subject)? {
            return Ok(Err(invalid()));
        }
        if !may_act_allows(&subject, client) {
            return Ok(Err(OAuthError::invalid_grant(
                "the subject token's may_act does not name this client",
            )));
        }
        let granted = subject.scopes();
        let scope = match &self.scope {
            Some(s) if !s.is_subset(&granted) => {
                return Ok(Err(OAuthError::invalid_scope(
                    "the requested scope exceeds the subject token's",
                )))
            }
            Some(s) => s.clone(),
            None => granted,
        };
        if self
            .targets
            .iter()
            .any(|t| t.trim_end_matches('/') == settings.issuer)
        {
            // A token for gatehouse itself would carry the subject's rights to its own
            // endpoints (userinfo, administration) to the exchanging client.
            return Ok(Err(OAuthError::new(
                crate::oauth::error::ErrorCode::InvalidTarget,
                "gatehouse itself cannot be the target of an exchange",
            )));
        }
        let aud = match issuer.audience(client, &self.targets, &[]) {
            Ok(aud) => aud,
            Err(e) => return Ok(Err(e)),
        };
        let user = crate::oauth::subject::token_user(store, issuer.sealer, &subject)?;
        let minted = match issuer.exchanged_token(client, aud, &scope, &subject, user.as_deref()) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let event = AuditEvent::new(
            format!("client:{}", client.client_id),
            "token.exchange",
            issuer.now,
        )
        .target(subject.sub.clone())
        .detail(serde_json::json!({
            "subject_jti": subject.jti,
            "subject_client_id": subject.client_id,
            "issued_jti": minted.claims.jti,
            "aud": minted.claims.aud,
        }));
        store.record(&event)?;
        // Revoking the subject token (or its family) revokes this one too.
        store.record_exchange(&minted.claims.jti, &subject.jti, minted.claims.exp)?;
        let mut response = issuer.response(minted, None, None);
        response.issued_token_type = Some(ACCESS_TOKEN_TYPE.into());
        Ok(Ok(response))
    }
}

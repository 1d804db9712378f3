//! Minting what the grants hand out: access tokens (RFC 9068), ID tokens, refresh tokens.

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::crypto::{random_token, secret_hash, Sealer};
use crate::domain::{Client, ResourceSet, Scopes, User};
use crate::keys::{Alg, KeySet};
use crate::oauth::claims::ClaimsRequest;
use crate::oauth::dpop::Confirmation;
use crate::oauth::error::OAuthError;
use crate::oauth::resource::Audience;
use crate::oauth::store::{Amr, RefreshRecord};
use crate::oauth::subject::subject_for;
use crate::oauth::tokens::{at_hash, new_jti, sign_access_token, sign_id_token};
use crate::oauth::tokens::{AccessClaims, IdClaims};

/// The token endpoint's answer (RFC 6749 §5.1). `scope` is left out when empty: RFC 6749
/// scope is one or more tokens.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The type of the token issued by a token exchange (RFC 8693 §2.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// What the grants need besides storage: settings, keys, the sealer, and the clock.
pub struct Issuer<'a> {
    pub settings: &'a Settings,
    pub keys: &'a KeySet,
    pub sealer: &'a Sealer,
    /// The registered protected resources, as this request sees them.
    pub resources: &'a ResourceSet,
    /// The thumbprint of the DPoP key the request proved (RFC 9449): access tokens are
    /// bound to it.
    pub dpop_jkt: Option<&'a str>,
    pub now: i64,
}

/// The person a token is about, and the login it came from.
pub(super) struct Subject<'a> {
    pub user_id: &'a str,
    pub auth_time: i64,
    pub sid: Option<&'a str>,
    pub amr: &'a [Amr],
    /// The claims and `acr` the request asked for.
    pub claims: Option<&'a ClaimsRequest>,
    /// The user, when the ID token is to carry claims about them.
    pub user: Option<&'a User>,
}

/// The family a refresh token belongs to: its id, its absolute expiry once it has one,
/// and the resources it was granted.
pub(super) struct Family<'a> {
    pub id: &'a str,
    pub expires_at: Option<i64>,
    pub resources: &'a [String],
    /// The DPoP key the family is bound to.
    pub dpop_jkt: Option<&'a str>,
}

/// A minted access token and its claims.
pub(super) struct Minted {
    pub token: String,
    pub claims: AccessClaims,
}

impl Issuer<'_> {
    fn access_alg(&self, client: &Client) -> Alg {
        client
            .access_token_alg
            .unwrap_or(self.settings.access_token_alg)
    }

    /// The audience of a token for `requested` resources within `granted` ones (RFC 8707;
    /// see `oauth::resource::audience`).
    pub fn audience(
        &self,
        client: &Client,
        requested: &[String],
        granted: &[String],
    ) -> Result<Audience, OAuthError> {
        crate::oauth::resource::audience(
            requested,
            granted,
            client,
            &self.settings.issuer,
            self.resources,
        )
    }

    /// The scopes `client` may be granted for `resources`: its own, and the scopes of the
    /// registered resources among them (which the user consented to).
    pub fn grantable(&self, client: &Client, resources: &[String]) -> Scopes {
        client.scopes.union(&self.resources.scopes_of(resources))
    }

    /// Mints the token a token exchange gives `client` for `subject`'s token: about the
    /// same subject and login, for `aud`, with `client` named as the actor (on top of
    /// any actor the subject token already had).
    pub(super) fn exchanged_token(
        &self,
        client: &Client,
        aud: Audience,
        scope: &Scopes,
        subject: &AccessClaims,
        user_id: Option<&str>,
    ) -> Result<Minted, OAuthError> {
        let mut act = serde_json::json!({ "sub": client.client_id });
        if let Some(prior) = &subject.act {
            act["act"] = prior.clone();
        }
        // A user is named as the exchanging client knows them (pairwise or not).
        let sub = user_id.map_or_else(
            || subject.sub.clone(),
            |u| subject_for(self.sealer, client, u),
        );
        let claims = AccessClaims {
            sub,
            auth_time: subject.auth_time,
            sid: subject.sid.clone(),
            act: Some(act),
            ..self.claims(client, aud, scope, None)
        };
        self.mint(client, claims)
    }

    /// Mints an access token for `subject`, or for the client itself when `None`.
    pub(super) fn access_token(
        &self,
        client: &Client,
        aud: Audience,
        scope: &Scopes,
        subject: Option<&Subject>,
    ) -> Result<Minted, OAuthError> {
        self.mint(client, self.claims(client, aud, scope, subject))
    }

    fn claims(
        &self,
        client: &Client,
        aud: Audience,
        scope: &Scopes,
        subject: Option<&Subject>,
    ) -> AccessClaims {
        AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.map_or_else(
                || client.client_id.clone(),
                |s| subject_for(self.sealer, client, s.user_id),
            ),
            aud,
            client_id: client.client_id.clone(),
            scope: scope.to_string(),
            jti: new_jti(),
            iat: self.now,
            exp: self.now + self.settings.lifetimes.access_token,
            auth_time: subject.map(|s| s.auth_time),
            sid: subject.and_then(|s| s.sid.map(str::to_string)),
            cnf: self.dpop_jkt.map(|jkt| Confirmation {
                jkt: jkt.to_string(),
            }),
            act: None,
            may_act: None,
            userinfo_claims: subject
                .and_then(|s| s.claims)
                .map(|c| c.userinfo_claims().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }

    fn mint(&self, client: &Client, claims: AccessClaims) -> Result<Minted, OAuthError> {
        let key = self
            .keys
            .signer(self.access_alg(client))
            .ok_or_else(OAuthError::server_error)?;
        Ok(Minted {
            token: sign_access_token(&key, &claims),
            claims,
        })
    }

    pub(super) fn id_token(
        &self,
        client: &Client,
        subject: &Subject,
        nonce: Option<String>,
        access_token: &str,
    ) -> Result<String, OAuthError> {
        let alg = client.id_token_alg.unwrap_or(Alg::RS256);
        let key = self.keys.signer(alg).ok_or_else(OAuthError::server_error)?;
        // Claims asked for by name go into the ID token (OIDC Core §5.5).
        let sub = subject_for(self.sealer, client, subject.user_id);
        let mut extra = match (subject.user, subject.claims) {
            (Some(user), Some(c)) => crate::oauth::claims::claims_for(
                user,
                &sub,
                &Scopes::default(),
                c.id_token_claims(),
            ),
            _ => Default::default(),
        };
        extra.remove("sub");
        let claims = IdClaims {
            iss: self.settings.issuer.clone(),
            sub,
            aud: client.client_id.clone(),
            exp: self.now + self.settings.lifetimes.id_token,
            iat: self.now,
            auth_time: subject.auth_time,
            nonce,
            azp: client.client_id.clone(),
            at_hash: Some(at_hash(alg, access_token)),
            sid: subject.sid.unwrap_or_default().to_string(),
            amr: subject.amr.iter().map(|a| a.as_str().to_string()).collect(),
            acr: Some(crate::oauth::claims::acr(subject.claims, subject.amr).to_string()),
            extra,
        };
        Ok(sign_id_token(&key, &claims))
    }

    /// A new refresh token of `family` for `subject` and `scopes`; a rotated token keeps
    /// its family's absolute expiry.
    pub(super) fn refresh_token(
        &self,
        client: &Client,
        family: &Family,
        subject: &Subject,
        scopes: &Scopes,
        access: &AccessClaims,
    ) -> (String, RefreshRecord) {
        let (family_id, absolute_expiry, resources) =
            (family.id, family.expires_at, family.resources);
        let token = random_token(32);
        let l = &self.settings.lifetimes;
        let expires_at = absolute_expiry.unwrap_or(self.now + l.refresh_token);
        let record = RefreshRecord {
            token_hash: secret_hash(&token),
            family_id: family_id.to_string(),
            client_id: client.client_id.clone(),
            user_id: subject.user_id.to_string(),
            scopes: scopes.clone(),
            resources: resources.to_vec(),
            amr: subject.amr.to_vec(),
            sid: subject.sid.map(str::to_string),
            auth_time: subject.auth_time,
            created_at: self.now,
            expires_at,
            idle_expires_at: (self.now + l.refresh_token_idle).min(expires_at),
            used_at: None,
            replaced_by: None,
            grace_response: None,
            access_jti: Some(access.jti.clone()),
            access_expires_at: Some(access.exp),
            revoked: false,
            dpop_jkt: family.dpop_jkt.map(str::to_string),
            claims: subject.claims.cloned(),
        };
        (token, record)
    }

    /// A Bearer response carrying `access`, with `scope` left out when empty.
    pub(super) fn response(
        &self,
        access: Minted,
        id_token: Option<String>,
        refresh_token: Option<String>,
    ) -> TokenResponse {
        let scope = access.claims.scope.clone();
        TokenResponse {
            access_token: access.token,
            token_type: if self.dpop_jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }
            .into(),
            expires_in: self.settings.lifetimes.access_token,
            scope: (!scope.is_empty()).then_some(scope),
            id_token,
            refresh_token,
            issued_token_type: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_token() {
        let r = TokenResponse {
            access_token: "at-secret".into(),
            token_type: "Bearer".into(),
            expires_in: 60,
            scope: Some("read".into()),
            id_token: Some("id-secret".into()),
            refresh_token: Some("rt-secret".into()),
            issued_token_type: None,
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("read"));
    }
}

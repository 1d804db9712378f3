//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6): typed requests in, a token
//! response or an RFC error out. Storage is reached only through the store traits.

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::{CodeChallenge, CodeVerifier};
use super::tokens::{at_hash, new_jti, sign_access_token, sign_id_token, AccessClaims, IdClaims};
use crate::config::Settings;
use crate::crypto::{random_token, secret_hash, Sealer};
use crate::db::grants::{Consumed, GrantStore, RefreshRecord};
use crate::db::users::UserStore;
use crate::db::StoreError;
use crate::domain::client::GrantType;
use crate::domain::{Client, Scopes};
use crate::keys::{Alg, KeySet};
use crate::secret_type;

secret_type!(
    /// An authorization code as the client presents it.
    AuthCode
);
secret_type!(
    /// An opaque refresh token; only its hash is stored.
    RefreshToken
);

/// A token request, by grant type, with only that grant's fields.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: AuthCode,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    ClientCredentials {
        scope: Option<Scopes>,
        resource: Option<String>,
    },
    RefreshToken {
        refresh_token: RefreshToken,
        scope: Option<Scopes>,
    },
}

fn parse_scope(p: &Params) -> Result<Option<Scopes>, OAuthError> {
    p.get("scope")
        .map(|s| Scopes::parse(s).ok_or_else(|| OAuthError::invalid_scope("malformed scope")))
        .transpose()
}

impl TokenRequest {
    pub fn parse(p: &Params) -> Result<TokenRequest, OAuthError> {
        let grant = p.require("grant_type")?;
        match grant {
            "authorization_code" => Ok(TokenRequest::AuthorizationCode {
                code: AuthCode::new(p.require("code")?.to_string()),
                redirect_uri: p.get("redirect_uri").map(str::to_string),
                code_verifier: p.get("code_verifier").map(str::to_string),
            }),
            "client_credentials" => Ok(TokenRequest::ClientCredentials {
                scope: parse_scope(p)?,
                resource: p.get("resource").map(str::to_string),
            }),
            "refresh_token" => Ok(TokenRequest::RefreshToken {
                refresh_token: RefreshToken::new(p.require("refresh_token")?.to_string()),
                scope: parse_scope(p)?,
            }),
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type '{other}' is not supported"),
            )),
        }
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// What the grants need besides storage: settings, keys, the sealer, and the clock.
pub struct Issuer<'a> {
    pub settings: &'a Settings,
    pub keys: &'a KeySet,
    pub sealer: &'a Sealer,
    pub now: i64,
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

/// The user-facing facts a token is about.
struct Subject<'a> {
    user_id: &'a str,
    auth_time: i64,
    sid: Option<&'a str>,
}

/// What a refresh token grants: a subject and the scopes of the original authorization.
struct Grant<'a> {
    subject: &'a Subject<'a>,
    scopes: &'a Scopes,
}

impl Issuer<'_> {
    fn access_alg(&self, client: &Client) -> Alg {
        client
            .access_token_alg
            .unwrap_or(self.settings.access_token_alg)
    }

    /// The audience of a token: the requested resource if the client may use it, else the
    /// client's first configured audience, else the issuer.
    pub fn audience(&self, client: &Client, resource: Option<&str>) -> Result<String, OAuthError> {
        let allowed: Vec<&str> = client
            .audience
            .as_deref()
            .map(|a| a.split_whitespace().collect())
            .unwrap_or_default();
        match resource {
            Some(r) => {
                let ok = url::Url::parse(r).is_ok() && !r.contains('#');
                if ok && (allowed.contains(&r) || r == self.settings.issuer) {
                    Ok(r.to_string())
                } else {
                    Err(OAuthError::new(
                        ErrorCode::InvalidTarget,
                        "this client may not request that resource",
                    ))
                }
            }
            None => Ok(allowed
                .first()
                .map(|s| s.to_string())
                .unwrap_or_else(|| self.settings.issuer.clone())),
        }
    }

    /// Mints an access token; returns it with its claims.
    fn access_token(
        &self,
        client: &Client,
        aud: String,
        scope: &Scopes,
        subject: Option<&Subject>,
    ) -> Result<(String, AccessClaims), OAuthError> {
        let key = self
            .keys
            .signer(self.access_alg(client))
            .ok_or_else(OAuthError::server_error)?;
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.map_or_else(|| client.client_id.clone(), |s| s.user_id.to_string()),
            aud,
            client_id: client.client_id.clone(),
            scope: scope.to_string(),
            jti: new_jti(),
            iat: self.now,
            exp: self.now + self.settings.lifetimes.access_token,
            auth_time: subject.map(|s| s.auth_time),
            sid: subject.and_then(|s| s.sid.map(str::to_string)),
        };
        Ok((sign_access_token(&key, &claims), claims))
    }

    fn id_token(
        &self,
        client: &Client,
        subject: &Subject,
        nonce: Option<String>,
        amr: Vec<String>,
        access_token: &str,
    ) -> Result<String, OAuthError> {
        let alg = client.id_token_alg.unwrap_or(Alg::RS256);
        let key = self.keys.signer(alg).ok_or_else(OAuthError::server_error)?;
        let claims = IdClaims {
            iss: self.settings.issuer.clone(),
            sub: subject.user_id.to_string(),
            aud: client.client_id.clone(),
            exp: self.now + self.settings.lifetimes.id_token,
            iat: self.now,
            auth_time: subject.auth_time,
            nonce,
            azp: client.client_id.clone(),
            at_hash: Some(at_hash(alg, access_token)),
            sid: subject.sid.unwrap_or_default().to_string(),
            amr,
        };
        Ok(sign_id_token(&key, &claims))
    }

    /// Client credentials (RFC 6749 §4.4): stateless, no database write.
    pub fn client_credentials(
        &self,
        client: &Client,
        scope: Option<Scopes>,
        resource: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use client_credentials",
            ));
        }
        let scope = match scope {
            Some(s) => {
                if let Some(bad) = s.outside(&client.scopes).next() {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope '{bad}' is not allowed for this client"
                    )));
                }
                s
            }
            None => client.scopes.clone(),
        };
        let aud = self.audience(client, resource)?;
        let (access_token, claims) = self.access_token(client, aud, &scope, None)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.settings.lifetimes.access_token,
            scope: claims.scope,
            id_token: None,
            refresh_token: None,
        })
    }

    /// A new refresh token of `family_id` carrying the grant's facts; a rotated token
    /// keeps its family's absolute expiry.
    fn new_refresh(
        &self,
        client: &Client,
        family_id: &str,
        grant: &Grant,
        access: &AccessClaims,
        absolute_expiry: Option<i64>,
    ) -> (RefreshToken, RefreshRecord) {
        let token = RefreshToken::new(random_token(32));
        let l = &self.settings.lifetimes;
        let expires_at = absolute_expiry.unwrap_or(self.now + l.refresh_token);
        let record = RefreshRecord {
            token_hash: secret_hash(token.secret()),
            family_id: family_id.to_string(),
            client_id: client.client_id.clone(),
            user_id: grant.subject.user_id.to_string(),
            scopes: grant.scopes.to_string(),
            sid: grant.subject.sid.map(str::to_string),
            auth_time: grant.subject.auth_time,
            created_at: self.now,
            expires_at,
            idle_expires_at: (self.now + l.refresh_token_idle).min(expires_at),
            used_at: None,
            replaced_by: None,
            grace_response: None,
            access_jti: Some(access.jti.clone()),
            access_expires_at: Some(access.exp),
            revoked: false,
        };
        (token, record)
    }

    /// Authorization code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6).
    pub fn authorization_code<S: GrantStore + UserStore>(
        &self,
        store: &mut S,
        client: &Client,
        code: &AuthCode,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        events: &mut Vec<SecurityEvent>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use authorization_code",
            ));
        }
        let hash = secret_hash(code.secret());
        let replay = |store: &mut S,
                      record: &crate::db::grants::CodeRecord,
                      events: &mut Vec<SecurityEvent>|
         -> Result<OAuthError, StoreError> {
            // RFC 6749 §4.1.2: a second use revokes what the first one got.
            store.revoke_family(&record.family_id, self.now)?;
            events.push(SecurityEvent::CodeReplay {
                client_id: record.client_id.clone(),
                family_id: record.family_id.clone(),
            });
            Ok(OAuthError::invalid_grant(
                "the authorization code was already used",
            ))
        };
        let Some(record) = store.find_code(&hash)? else {
            return Err(OAuthError::invalid_grant("unknown authorization code"));
        };
        if record.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if record.consumed_at.is_some() {
            return Err(replay(store, &record, events)?);
        }
        if record.expires_at <= self.now {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        // RFC 6749 §4.1.3: required when the authorization request carried it. A client
        // with a single registered URI may have left it out there, and so here.
        let redirect_ok = match redirect_uri {
            Some(u) => u == record.redirect_uri,
            None => client.redirect_uris == [record.redirect_uri.as_str()],
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        let verifier = CodeVerifier::parse(
            code_verifier.ok_or_else(|| OAuthError::invalid_grant("code_verifier is required"))?,
        )?;
        if !verifier.matches(&CodeChallenge::stored(record.code_challenge.clone())) {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let record = match store.consume_code(&hash, self.now)? {
            Consumed::Won(r) => r,
            Consumed::AlreadyUsed(r) => return Err(replay(store, &r, events)?),
            Consumed::Unknown => {
                return Err(OAuthError::invalid_grant("unknown authorization code"))
            }
        };
        let user = store
            .find_user(&record.user_id)?
            .filter(|u| !u.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))?;
        let scopes = Scopes::parse(&record.scopes).unwrap_or_default();
        let subject = Subject {
            user_id: &user.id,
            auth_time: record.auth_time,
            sid: Some(&record.sid),
        };
        let aud = self.audience(client, None)?;
        let (access_token, access) = self.access_token(client, aud, &scopes, Some(&subject))?;
        store.record_code_access_token(&hash, &access.jti, access.exp)?;
        let id_token = if scopes.contains("openid") {
            let amr = serde_json::from_str(&record.amr).unwrap_or_else(|_| vec!["pwd".to_string()]);
            Some(self.id_token(client, &subject, record.nonce.clone(), amr, &access_token)?)
        } else {
            None
        };
        let refresh_token = if scopes.contains("offline_access")
            && client.allows_grant(GrantType::RefreshToken)
        {
            let grant = Grant {
                subject: &subject,
                scopes: &scopes,
            };
            let (token, rec) = self.new_refresh(client, &record.family_id, &grant, &access, None);
            store.insert_refresh(&rec)?;
            Some(token.secret().to_string())
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.settings.lifetimes.access_token,
            scope: scopes.to_string(),
            id_token,
            refresh_token,
        })
    }

    /// Refresh with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14).
    pub fn refresh<S: GrantStore + UserStore>(
        &self,
        store: &mut S,
        client: &Client,
        token: &RefreshToken,
        scope: Option<Scopes>,
        events: &mut Vec<SecurityEvent>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use refresh_token",
            ));
        }
        let hash = secret_hash(token.secret());
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let Some(record) = store.find_refresh(&hash)? else {
            return Err(invalid());
        };
        if record.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if record.revoked || record.expires_at <= self.now {
            return Err(invalid());
        }
        if let Some(used_at) = record.used_at {
            return self.reuse(store, &record, used_at, scope.as_ref(), events);
        }
        if record.idle_expires_at <= self.now {
            return Err(invalid());
        }
        let user = store
            .find_user(&record.user_id)?
            .filter(|u| !u.disabled)
            .ok_or_else(invalid)?;
        let granted = Scopes::parse(&record.scopes).unwrap_or_default();
        let scope = match scope {
            Some(s) if !s.is_subset(&granted) => {
                return Err(OAuthError::invalid_scope(
                    "the requested scope exceeds the original grant",
                ))
            }
            Some(s) => s,
            None => granted.clone(),
        };
        let subject = Subject {
            user_id: &user.id,
            auth_time: record.auth_time,
            sid: record.sid.as_deref(),
        };
        let aud = self.audience(client, None)?;
        let (access_token, access) = self.access_token(client, aud, &scope, Some(&subject))?;
        let grant = Grant {
            subject: &subject,
            scopes: &granted,
        };
        let (new_token, new_record) = self.new_refresh(
            client,
            &record.family_id,
            &grant,
            &access,
            Some(record.expires_at),
        );
        let id_token = if scope.contains("openid") {
            Some(self.id_token(client, &subject, None, vec!["pwd".into()], &access_token)?)
        } else {
            None
        };
        let response = TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.settings.lifetimes.access_token,
            scope: scope.to_string(),
            id_token,
            refresh_token: Some(new_token.secret().to_string()),
        };
        // With a grace window, keep the response (sealed) so a retry gets the same pair.
        let sealed = (self.settings.lifetimes.refresh_grace > 0).then(|| {
            let json = serde_json::to_vec(&response).expect("response serializes");
            self.sealer.seal(&json, hash.as_bytes())
        });
        if store.rotate_refresh(&hash, &new_record, sealed, self.now)? {
            return Ok(response);
        }
        // Someone else rotated it first.
        match store.find_refresh(&hash)? {
            Some(r) if r.used_at.is_some() => {
                let used_at = r.used_at.unwrap_or(self.now);
                self.reuse(store, &r, used_at, None, events)
            }
            _ => Err(invalid()),
        }
    }

    /// A rotated-out token came back: within the grace window the same response is
    /// returned; otherwise the whole family is revoked.
    fn reuse<S: GrantStore>(
        &self,
        store: &mut S,
        record: &RefreshRecord,
        used_at: i64,
        scope: Option<&Scopes>,
        events: &mut Vec<SecurityEvent>,
    ) -> Result<TokenResponse, OAuthError> {
        let grace = self.settings.lifetimes.refresh_grace;
        // Only the immediately previous token: its successor must still be unused.
        let successor_unused = match &record.replaced_by {
            Some(next) => store
                .find_refresh(next)?
                .is_some_and(|n| n.used_at.is_none() && !n.revoked),
            None => false,
        };
        if grace > 0 && self.now - used_at <= grace && scope.is_none() && successor_unused {
            if let Some(sealed) = &record.grace_response {
                if let Some(response) = self
                    .sealer
                    .open(sealed, record.token_hash.as_bytes())
                    .and_then(|j| serde_json::from_slice::<TokenResponse>(&j).ok())
                {
                    return Ok(response);
                }
            }
        }
        store.revoke_family(&record.family_id, self.now)?;
        events.push(SecurityEvent::RefreshReuse {
            client_id: record.client_id.clone(),
            family_id: record.family_id.clone(),
        });
        Err(OAuthError::invalid_grant(
            "the refresh token was already used; its grant has been revoked",
        ))
    }
}

//! Refresh with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14). Every use
//! replaces the token; a replaced token that comes back revokes its whole family, except
//! once within the grace window (`GATEHOUSE_REFRESH_GRACE`), which returns the same pair.

use super::issue::{Family, Subject};
use super::{
    answer_for, Answer, Grant, GrantProfile, GrantRequest, GrantType, Issuer, Outcome,
    SecurityEvent, TokenResponse,
};
use crate::crypto::{secret_hash, Purpose};
use crate::domain::{Client, Scopes};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{RefreshRecord, Rotation, Store};
use crate::secret_type;

pub const ID: GrantType = GrantType::new("refresh_token");

static PROFILE: GrantProfile = GrantProfile {
    id: ID,
    label: "Refresh token",
    confidential_only: false,
    needs_redirect_uri: false,
    standalone: false,
};

secret_type!(
    /// An opaque refresh token; only its hash is stored.
    RefreshToken
);

pub struct RefreshTokenGrant;

impl Grant for RefreshTokenGrant {
    fn profile(&self) -> &'static GrantProfile {
        &PROFILE
    }

    fn parse(&self, p: &Params) -> Result<Box<dyn GrantRequest>, OAuthError> {
        Ok(Box::new(Request {
            resources: p.resources().to_vec(),
            refresh_token: RefreshToken::new(p.require("refresh_token")?.to_string()),
            scope: super::parse_scope(p)?,
        }))
    }
}

#[derive(Debug)]
pub struct Request {
    pub refresh_token: RefreshToken,
    /// Resources to narrow the family's grant to for this token (RFC 8707 §2.2).
    pub resources: Vec<String>,
    pub scope: Option<Scopes>,
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

impl GrantRequest for Request {
    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Outcome> {
        answer_for(client, ID, |events| {
            self.refresh(issuer, client, store, events)
        })
    }
}

impl Request {
    fn refresh(
        &self,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
        events: &mut Vec<SecurityEvent>,
    ) -> StoreResult<Answer> {
        let now = issuer.now;
        let hash = secret_hash(self.refresh_token.secret());
        let Some(record) = store.find_refresh(&hash)? else {
            return Ok(Err(invalid()));
        };
        if let Err(e) = holder_checks(issuer, client, &record) {
            return Ok(Err(e));
        }
        if record.revoked || record.expires_at <= now {
            return Ok(Err(invalid()));
        }
        if let Some(used_at) = record.used_at {
            return self.reuse(issuer, store, &record, used_at, events);
        }
        if record.idle_expires_at <= now {
            return Ok(Err(invalid()));
        }
        if store.find_user(&record.user_id)?.is_none_or(|u| u.disabled) {
            return Ok(Err(invalid()));
        }
        // Scopes the client has lost since the grant are not granted again.
        let granted = record
            .scopes
            .intersection(&issuer.grantable(client, &record.resources));
        let scope = match &self.scope {
            Some(s) if !s.is_subset(&granted) => {
                return Ok(Err(OAuthError::invalid_scope(
                    "the requested scope exceeds the original grant",
                )))
            }
            Some(s) => s.clone(),
            None => granted.clone(),
        };
        let wanted = Wanted {
            granted: &granted,
            scope: &scope,
            resources: &self.resources,
        };
        let (response, new_record) = match rotate(issuer, client, &record, wanted) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        // With a grace window, keep the response (sealed) so one retry gets the same pair.
        let sealed = (grace_window(issuer, client) > 0)
            .then(|| serde_json::to_vec(&response).ok())
            .flatten()
            .map(|json| {
                issuer
                    .sealer
                    .seal(Purpose::GraceResponse, &json, hash.as_bytes())
            });
        let rotation = Rotation {
            old_hash: &hash,
            new: &new_record,
            grace_response: sealed,
            now,
        };
        if store.rotate_refresh(&rotation)? {
            return Ok(Ok(response));
        }
        // Someone else rotated it first.
        match store.find_refresh(&hash)? {
            Some(r) => match r.used_at {
                Some(used_at) => self.reuse(issuer, store, &r, used_at, events),
                None => Ok(Err(invalid())),
            },
            None => Ok(Err(invalid())),
        }
    }

    /// A rotated-out token came back: within the grace window, and only once, the same
    /// response is returned; otherwise the whole family is revoked.
    fn reuse(
        &self,
        issuer: &Issuer,
        store: &mut dyn Store,
        record: &RefreshRecord,
        used_at: i64,
        events: &mut Vec<SecurityEvent>,
    ) -> StoreResult<Answer> {
        // A FAPI client has no sealed response to repeat, so its retry counts as reuse.
        let grace = issuer.settings.lifetimes.refresh_grace;
        let in_window = grace > 0 && issuer.now - used_at <= grace && self.scope.is_none();
        if in_window {
            if let Some(response) = self.grace_response(issuer, store, record)? {
                return Ok(Ok(response));
            }
        }
        store.revoke_family(&record.family_id, issuer.now)?;
        events.push(SecurityEvent::RefreshReuse {
            client_id: record.client_id.clone(),
            family_id: record.family_id.clone(),
        });
        Ok(Err(OAuthError::invalid_grant(
            "the refresh token was already used; its grant has been revoked",
        )))
    }

    /// The kept response of the rotation that used `record`, if its successor is still
    /// unused and this is the first retry.
    fn grace_response(
        &self,
        issuer: &Issuer,
        store: &mut dyn Store,
        record: &RefreshRecord,
    ) -> StoreResult<Option<TokenResponse>> {
        let Some(sealed) = &record.grace_response else {
            return Ok(None);
        };
        let successor_unused = match &record.replaced_by {
            Some(next) => store
                .find_refresh(next)?
                .is_some_and(|n| n.used_at.is_none() && !n.revoked),
            None => false,
        };
        if !successor_unused || !store.take_grace_replay(&record.token_hash)? {
            return Ok(None);
        }
        Ok(issuer
            .sealer
            .open(Purpose::GraceResponse, sealed, record.token_hash.as_bytes())
            .and_then(|j| serde_json::from_slice::<TokenResponse>(&j).ok()))
    }
}

/// What a refresh asks for: the scopes still granted, the scope and resources of this
/// access token.
struct Wanted<'a> {
    granted: &'a Scopes,
    scope: &'a Scopes,
    resources: &'a [String],
}

/// The response to a refresh and the record of the token that replaces `record`; the
/// family keeps its granted resources whatever this token narrowed them to.
fn rotate(
    issuer: &Issuer,
    client: &Client,
    record: &RefreshRecord,
    wanted: Wanted,
) -> Result<(TokenResponse, RefreshRecord), OAuthError> {
    let (granted, scope) = (wanted.granted, wanted.scope);
    let subject = Subject {
        user_id: &record.user_id,
        auth_time: record.auth_time,
        sid: record.sid.as_deref(),
        amr: &record.amr,
        claims: record.claims.as_ref(),
        user: None,
    };
    let aud = issuer.audience(client, wanted.resources, &record.resources)?;
    let access = issuer.access_token(client, aud, scope, Some(&subject))?;
    let family = Family {
        id: &record.family_id,
        expires_at: Some(record.expires_at),
        resources: &record.resources,
        dpop_jkt: record.dpop_jkt.as_deref(),
    };
    let (new_token, new_record) =
        issuer.refresh_token(client, &family, &subject, granted, &access.claims);
    let id_token = match scope.contains("openid") {
        true => Some(issuer.id_token(client, &subject, None, &access.token)?),
        false => None,
    };
    Ok((
        issuer.response(access, id_token, Some(new_token)),
        new_record,
    ))
}

/// Seconds a rotated-out token may be retried: none under the FAPI 2.0 profile.
fn grace_window(issuer: &Issuer, client: &Client) -> i64 {
    match client.fapi2 {
        true => 0,
        false => issuer.settings.lifetimes.refresh_grace,
    }
}

/// The token is this client's, and (for a DPoP-bound family) presented with a proof of
/// its key. Checked before reuse detection: without the key, a stolen token is useless
/// and must not be able to revoke the family either.
fn holder_checks(
    issuer: &Issuer,
    client: &Client,
    record: &RefreshRecord,
) -> Result<(), OAuthError> {
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if record
        .dpop_jkt
        .as_deref()
        .is_some_and(|bound| issuer.dpop_jkt != Some(bound))
    {
        return Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key: present a proof of that key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, VERIFIER};
    use super::*;
    use crate::oauth::error::ErrorCode;
    use crate::oauth::store::{Amr, RefreshFamilyStore, RevocationList};

    fn first_pair(f: &mut Fixture, amr: &[Amr]) -> TokenResponse {
        let code = f.code("openid profile offline_access", amr);
        f.exchange(&code, VERIFIER).result.unwrap()
    }

    #[test]
    fn rotation_replaces_the_token_and_keeps_the_logins_facts() {
        let mut f = Fixture::new();
        let first = first_pair(&mut f, &[Amr::Pwd, Amr::Otp]);
        let old = first.refresh_token.unwrap();
        let next = f.refresh(&old, None).result.unwrap();
        let new = next.refresh_token.clone().unwrap();
        assert_ne!(new, old);
        let id = f.id_payload(next.id_token.as_deref().unwrap());
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp"]));
        assert_eq!(id["auth_time"], f.auth_time);
        assert!(f.refresh(&new, None).result.is_ok(), "the new one works");
    }

    #[test]
    fn a_public_clients_dpop_bound_family_needs_its_key() {
        let mut f = Fixture::new();
        f.dpop_jkt = Some("key-a".into());
        let first = first_pair(&mut f, &[Amr::Pwd]);
        assert_eq!(first.token_type, "DPoP");
        let claims = f.access_payload(&first.access_token);
        assert_eq!(claims["cnf"]["jkt"], "key-a");
        let rt = first.refresh_token.unwrap();
        // Without the proof, or with another key: refused, and the family survives.
        for other in [None, Some("key-b".to_string())] {
            f.dpop_jkt = other;
            let out = f.refresh(&rt, None);
            assert_eq!(out.result.unwrap_err().code, ErrorCode::InvalidGrant);
            assert!(out.events.is_empty(), "no reuse detected");
        }
        f.dpop_jkt = Some("key-a".into());
        let next = f.refresh(&rt, None).result.unwrap();
        assert_eq!(next.token_type, "DPoP");
        f.dpop_jkt = None;
        let out = f.refresh(next.refresh_token.as_deref().unwrap(), None);
        assert!(out.result.is_err(), "the rotated token stays bound");
    }

    #[test]
    fn a_confidential_clients_refresh_token_is_not_bound() {
        let mut f = Fixture::new();
        f.client.auth_method = crate::domain::AuthMethod::ClientSecretBasic;
        f.dpop_jkt = Some("key-a".into());
        let rt = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        f.dpop_jkt = None;
        let next = f.refresh(&rt, None).result.unwrap();
        assert_eq!(next.token_type, "Bearer");
    }

    #[test]
    fn reuse_revokes_the_family() {
        let mut f = Fixture::new();
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        let next = f.refresh(&old, None).result.unwrap();
        let out = f.refresh(&old, None);
        assert_eq!(out.result.unwrap_err().code, ErrorCode::InvalidGrant);
        assert!(matches!(
            out.events.as_slice(),
            [SecurityEvent::RefreshReuse { .. }]
        ));
        let new = next.refresh_token.unwrap();
        assert!(f.refresh(&new, None).result.is_err(), "the family is gone");
        let jti = f.access_claims(&next.access_token).jti;
        assert!(f.store.is_jti_revoked(&jti).unwrap());
    }

    #[test]
    fn the_grace_window_allows_exactly_one_replay() {
        let mut f = Fixture::with_grace(30);
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        let next = f.refresh(&old, None).result.unwrap();
        f.now += 5;
        let again = f.refresh(&old, None).result.unwrap();
        assert_eq!(again, next, "the same pair");
        let third = f.refresh(&old, None);
        assert!(third.result.is_err(), "a second replay is reuse");
        assert_eq!(third.events.len(), 1);
    }

    #[test]
    fn the_grace_window_ends() {
        let mut f = Fixture::with_grace(30);
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        f.refresh(&old, None).result.unwrap();
        f.now += 31;
        assert!(f.refresh(&old, None).result.is_err());
    }

    #[test]
    fn scopes_may_narrow_never_widen_and_lost_scopes_go() {
        let mut f = Fixture::new();
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        let wide = Scopes::parse("openid admin").unwrap();
        let e = f.refresh(&old, Some(wide)).result.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        let narrow = Scopes::parse("openid").unwrap();
        let r = f.refresh(&old, Some(narrow)).result.unwrap();
        assert_eq!(r.scope.as_deref(), Some("openid"));
        f.client.scopes = Scopes::parse("openid offline_access").unwrap();
        let r = f.refresh(r.refresh_token.as_deref().unwrap(), None);
        assert_eq!(
            r.result.unwrap().scope.as_deref(),
            Some("offline_access openid")
        );
    }

    #[test]
    fn idle_and_absolute_expiry_and_other_clients() {
        let mut f = Fixture::new();
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        let mut other = f.client.clone();
        other.client_id = "other".into();
        let e = f.refresh_as(&other, &old).unwrap_err();
        assert!(e.to_string().contains("another client"));
        f.now += f.settings.lifetimes.refresh_token_idle;
        assert!(f.refresh(&old, None).result.is_err(), "idle");
        let hash = secret_hash(&old);
        assert!(f
            .store
            .find_refresh(&hash)
            .unwrap()
            .unwrap()
            .used_at
            .is_none());
    }

    #[test]
    fn a_refresh_keeps_the_granted_resources_and_may_narrow_them() {
        let mut f = Fixture::new();
        f.client.audience = Some("https://api.example https://files.example".into());
        f.resources = vec!["https://api.example".into()];
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        let client = f.client.clone();
        let q =
            |t: &str, r: &str| format!("grant_type=refresh_token&refresh_token={t}&resource={r}");
        let e = f
            .answer_refresh(&client, &q(&old, "https://files.example"))
            .result
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget, "never widened");
        let r = f.refresh(&old, None).result.unwrap();
        assert!(f
            .access_claims(&r.access_token)
            .aud
            .is_only("https://api.example"));
        let next = f.refresh_record(r.refresh_token.as_deref().unwrap());
        assert_eq!(next.resources, ["https://api.example"]);
    }

    #[test]
    fn a_disabled_user_cannot_refresh() {
        let mut f = Fixture::new();
        let old = first_pair(&mut f, &[Amr::Pwd]).refresh_token.unwrap();
        f.disable_user();
        assert!(f.refresh(&old, None).result.is_err());
    }
}

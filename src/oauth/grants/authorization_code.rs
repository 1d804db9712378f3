//! Authorization code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6). Consuming the code,
//! minting the tokens and storing the refresh token are one transaction, so a replay
//! (which waits for the code's row) always finds, and revokes, what the first use got.

use super::issue::Subject;
use super::user_grant::{self, UserGrant};
use super::{
    answer_for, Answer, Grant, GrantProfile, GrantRequest, GrantType, Issuer, Outcome,
    SecurityEvent,
};
use crate::crypto::secret_hash;
use crate::domain::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::pkce::CodeVerifier;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{atomically, CodeRecord, Consumed, Store};
use crate::secret_type;

pub const ID: GrantType = GrantType::new("authorization_code");

static PROFILE: GrantProfile = GrantProfile {
    id: ID,
    label: "Authorization code (people sign in)",
    confidential_only: false,
    needs_redirect_uri: true,
    standalone: true,
};

secret_type!(
    /// An authorization code as the client presents it.
    AuthCode
);

pub struct AuthorizationCode;

impl Grant for AuthorizationCode {
    fn profile(&self) -> &'static GrantProfile {
        &PROFILE
    }

    fn parse(&self, p: &Params) -> Result<Box<dyn GrantRequest>, OAuthError> {
        let code_verifier = p
            .get("code_verifier")
            .ok_or_else(|| OAuthError::invalid_grant("code_verifier is required"))?;
        Ok(Box::new(Request {
            resources: p.resources().to_vec(),
            code: AuthCode::new(p.require("code")?.to_string()),
            redirect_uri: p.get("redirect_uri").map(str::to_string),
            code_verifier: CodeVerifier::parse(code_verifier)?,
        }))
    }
}

#[derive(Debug)]
pub struct Request {
    pub code: AuthCode,
    /// Resources to narrow the code's grant to (RFC 8707 §2.2).
    pub resources: Vec<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: CodeVerifier,
}

impl GrantRequest for Request {
    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Outcome> {
        answer_for(client, ID, |events| {
            self.exchange(issuer, client, store, events)
        })
    }
}

impl Request {
    /// What can be refused before the code is touched.
    fn check(&self, record: &CodeRecord, client: &Client, now: i64) -> Result<(), OAuthError> {
        if record.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if record.expires_at <= now {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        // RFC 6749 §4.1.3: required when the authorization request carried it; a client
        // with a single registered URI may have left it out there, and then here.
        let redirect_ok = match &self.redirect_uri {
            Some(u) => *u == record.redirect_uri,
            None => !record.redirect_uri_given,
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !self.code_verifier.matches(&record.code_challenge) {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        Ok(())
    }

    fn exchange(
        &self,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
        events: &mut Vec<SecurityEvent>,
    ) -> StoreResult<Answer> {
        let hash = secret_hash(self.code.secret());
        let Some(record) = store.find_code(&hash)? else {
            return Ok(Err(OAuthError::invalid_grant("unknown authorization code")));
        };
        if record.client_id == client.client_id && record.consumed_at.is_some() {
            return atomically(store, |s| replay(s, &record, issuer.now, events));
        }
        if record
            .dpop_jkt
            .as_deref()
            .is_some_and(|bound| issuer.dpop_jkt != Some(bound))
        {
            return Ok(Err(OAuthError::invalid_grant(
                "the authorization code is bound to a DPoP key (dpop_jkt): present a proof of that key",
            )));
        }
        if let Err(e) = self.check(&record, client, issuer.now) {
            return Ok(Err(e));
        }
        atomically(store, |s| match s.consume_code(&hash, issuer.now)? {
            Consumed::Won(r) => mint(issuer, client, s, &r, &self.resources),
            Consumed::AlreadyUsed(r) => replay(s, &r, issuer.now, events),
            Consumed::Unknown => Ok(Err(OAuthError::invalid_grant("unknown authorization code"))),
        })
    }
}

/// RFC 6749 §4.1.2: a second use revokes what the first one got.
fn replay(
    store: &mut dyn Store,
    record: &CodeRecord,
    now: i64,
    events: &mut Vec<SecurityEvent>,
) -> StoreResult<Answer> {
    store.revoke_family(&record.family_id, now)?;
    events.push(SecurityEvent::CodeReplay {
        client_id: record.client_id.clone(),
        family_id: record.family_id.clone(),
    });
    Ok(Err(OAuthError::invalid_grant(
        "the authorization code was already used",
    )))
}

/// The tokens for a code this caller consumed.
fn mint(
    issuer: &Issuer,
    client: &Client,
    store: &mut dyn Store,
    record: &CodeRecord,
    resources: &[String],
) -> StoreResult<Answer> {
    let Some(user) = store.find_user(&record.user_id)?.filter(|u| !u.disabled) else {
        return Ok(Err(OAuthError::invalid_grant(
            "the user can no longer sign in",
        )));
    };
    let grant = UserGrant {
        subject: Subject {
            user_id: &user.id,
            auth_time: record.auth_time,
            sid: Some(&record.sid),
            amr: &record.amr,
            claims: record.claims.as_ref(),
            user: Some(&user),
        },
        scopes: &record.scopes,
        granted: &record.resources,
        requested: resources,
        nonce: record.nonce.clone(),
        family_id: &record.family_id,
    };
    Ok(match user_grant::issue(issuer, client, store, grant)? {
        Ok((response, jti, exp)) => {
            store.record_code_access_token(&record.code_hash, &jti, exp)?;
            Ok(response)
        }
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, VERIFIER};
    use super::*;
    use crate::oauth::error::ErrorCode;
    use crate::oauth::store::{Amr, RefreshFamilyStore, RevocationList};

    #[test]
    fn a_code_gives_tokens_once_and_carries_the_logins_amr() {
        let mut f = Fixture::new();
        let code = f.code("openid offline_access", &[Amr::Pwd, Amr::Otp]);
        let out = f.exchange(&code, VERIFIER);
        assert!(out.events.is_empty());
        let r = out.result.unwrap();
        assert_eq!(r.scope.as_deref(), Some("offline_access openid"));
        let id = f.id_payload(r.id_token.as_deref().unwrap());
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp"]));
        assert_eq!(id["nonce"], "n1");
        let refresh = f.refresh_record(r.refresh_token.as_deref().unwrap());
        assert_eq!(refresh.amr, [Amr::Pwd, Amr::Otp]);
        assert_eq!(refresh.auth_time, f.auth_time);
    }

    #[test]
    fn a_replayed_code_revokes_what_the_first_use_got() {
        let mut f = Fixture::new();
        let code = f.code("openid offline_access", &[Amr::Pwd]);
        let first = f.exchange(&code, VERIFIER).result.unwrap();
        let again = f.exchange(&code, VERIFIER);
        assert_eq!(again.result.unwrap_err().code, ErrorCode::InvalidGrant);
        assert!(matches!(
            again.events.as_slice(),
            [SecurityEvent::CodeReplay { .. }]
        ));
        let jti = f.access_claims(&first.access_token).jti;
        assert!(f.store.is_jti_revoked(&jti).unwrap());
        let hash = secret_hash(first.refresh_token.as_deref().unwrap());
        assert!(f.store.find_refresh(&hash).unwrap().unwrap().revoked);
    }

    #[test]
    fn a_code_is_bound_to_its_client_verifier_redirect_and_lifetime() {
        let mut f = Fixture::new();
        let code = f.code("openid", &[Amr::Pwd]);
        let wrong = "x".repeat(43);
        let e = f.exchange(&code, &wrong).result.unwrap_err();
        assert!(e.to_string().contains("code_verifier"), "{e}");
        let mut other = f.client.clone();
        other.client_id = "other".into();
        let e = f.exchange_as(&other, &code, VERIFIER, None).unwrap_err();
        assert!(e.to_string().contains("another client"), "{e}");
        let e = f
            .exchange_as(
                &f.client.clone(),
                &code,
                VERIFIER,
                Some("https://evil.example/cb"),
            )
            .unwrap_err();
        assert!(e.to_string().contains("redirect_uri"), "{e}");
        f.now += 61;
        let e = f.exchange(&code, VERIFIER).result.unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        // None of the refusals used the code up.
        f.now -= 61;
        assert!(f.exchange(&code, VERIFIER).result.is_ok());
    }

    #[test]
    fn a_redirect_uri_named_in_the_request_must_be_repeated() {
        let mut f = Fixture::new();
        let client = f.client.clone();
        let named = f.code("openid", &[Amr::Pwd]);
        let e = f.exchange_as(&client, &named, VERIFIER, None).unwrap_err();
        assert!(e.to_string().contains("redirect_uri"), "{e}");
        let unnamed = f.code_with("openid", &[Amr::Pwd], false);
        assert!(f.exchange_as(&client, &unnamed, VERIFIER, None).is_ok());
    }

    #[test]
    fn tokens_are_for_the_granted_resources_narrowed_never_widened() {
        let mut f = Fixture::new();
        f.client.audience = Some("https://api.example https://files.example".into());
        f.resources = vec!["https://api.example".into(), "https://files.example".into()];
        let both = f.code("openid offline_access", &[Amr::Pwd]);
        let r = f.exchange(&both, VERIFIER).result.unwrap();
        let aud = f.access_claims(&r.access_token).aud;
        assert!(aud.contains("https://api.example") && aud.contains("https://files.example"));
        let refresh = f.refresh_record(r.refresh_token.as_deref().unwrap());
        assert_eq!(
            refresh.resources, f.resources,
            "the family keeps what was granted"
        );

        let narrow = f.code("openid", &[Amr::Pwd]);
        let q = |code: &str, resource: &str| {
            format!(
                "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
                 &redirect_uri={}&resource={resource}",
                super::super::testing::REDIRECT
            )
        };
        let client = f.client.clone();
        let r = f
            .answer_query(&client, &q(&narrow, "https://files.example"))
            .result
            .unwrap();
        assert!(f
            .access_claims(&r.access_token)
            .aud
            .is_only("https://files.example"));

        f.resources = vec!["https://api.example".into()];
        let one = f.code("openid", &[Amr::Pwd]);
        let e = f
            .answer_query(&client, &q(&one, "https://files.example"))
            .result
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidTarget,
            "not granted, though allowed"
        );
    }

    #[test]
    fn scopes_the_client_lost_are_not_granted() {
        let mut f = Fixture::new();
        let code = f.code("openid profile offline_access", &[Amr::Pwd]);
        f.client.scopes = crate::domain::Scopes::parse("openid offline_access").unwrap();
        let r = f.exchange(&code, VERIFIER).result.unwrap();
        assert_eq!(r.scope.as_deref(), Some("offline_access openid"));
    }

    #[test]
    fn a_disabled_user_gets_nothing() {
        let mut f = Fixture::new();
        let code = f.code("openid", &[Amr::Pwd]);
        f.disable_user();
        let e = f.exchange(&code, VERIFIER).result.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidGrant);
    }

    #[test]
    fn the_verifier_is_required_and_well_formed() {
        let p = |q: &str| Params::parse_query(q).unwrap();
        let e = AuthorizationCode
            .parse(&p("grant_type=authorization_code&code=c"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("code_verifier"));
        let e = AuthorizationCode
            .parse(&p(
                "grant_type=authorization_code&code=c&code_verifier=short",
            ))
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidGrant);
    }
}

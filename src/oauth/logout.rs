//! OpenID Connect RP-Initiated Logout 1.0: which client asks, whether to ask the person
//! first, and where to send them afterwards. Pure: the caller verifies the hint's
//! signature and loads the client and the session.

use super::params::Params;
use super::redirect::redirect_uri_matches;
use super::tokens::IdClaims;
use crate::domain::Client;
use crate::oauth::store::SessionInfo;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl LogoutRequest {
    /// `logout_hint`, `ui_locales` and unknown parameters are ignored.
    pub fn parse(p: &Params) -> LogoutRequest {
        let get = |k: &str| p.get(k).map(str::to_string);
        LogoutRequest {
            id_token_hint: get("id_token_hint"),
            client_id: get("client_id"),
            post_logout_redirect_uri: get("post_logout_redirect_uri"),
            state: get("state"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutError {
    /// `client_id` names another client than the hint's audience.
    ClientMismatch,
}

/// The client the request is about: the verified hint's audience, or `client_id`.
pub fn client_id<'a>(
    req: &'a LogoutRequest,
    hint: Option<&'a IdClaims>,
) -> Result<Option<&'a str>, LogoutError> {
    match (hint.map(|h| h.aud.as_str()), req.client_id.as_deref()) {
        (Some(a), Some(b)) if a != b => Err(LogoutError::ClientMismatch),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// Where to send the person afterwards (with `state` added): the requested URI, only when
/// it is registered for `client`. `None` means the logged-out page, never a redirect.
pub fn redirect_uri<'a>(req: &'a LogoutRequest, client: Option<&Client>) -> Option<&'a str> {
    let uri = req.post_logout_redirect_uri.as_deref()?;
    let client = client?;
    client
        .post_logout_redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, uri))
        .then_some(uri)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutStep {
    /// Ask the person first: nothing proves the request comes from their own client.
    Confirm,
    /// End the session (if any) and go on.
    End,
}

/// A valid hint about the session's own user is proof enough; anything else needs the
/// person's confirmation, so a third party cannot log people out with a bare link.
pub fn decide(
    hint: Option<&IdClaims>,
    session: Option<&SessionInfo>,
    confirmed: bool,
) -> LogoutStep {
    match (session, hint) {
        _ if confirmed => LogoutStep::End,
        (None, _) => LogoutStep::End,
        (Some(s), Some(h)) if h.sub == s.user_id => LogoutStep::End,
        _ => LogoutStep::Confirm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scopes;

    fn claims(sub: &str, aud: &str) -> IdClaims {
        IdClaims {
            iss: "https://id.example".into(),
            sub: sub.into(),
            aud: aud.into(),
            exp: 0,
            iat: 0,
            auth_time: 0,
            nonce: None,
            azp: aud.into(),
            at_hash: None,
            sid: "sid".into(),
            amr: vec!["pwd".into()],
            acr: None,
            extra: Default::default(),
        }
    }

    fn client() -> Client {
        let mut c = crate::oauth::redirect::test_support::client();
        c.redirect_uris.truncate(1);
        c.post_logout_redirect_uris = vec!["https://app.example/bye?x=1".into()];
        c.grant_types = vec![crate::oauth::grants::authorization_code::ID];
        c.scopes = Scopes::parse("openid").unwrap();
        c
    }

    fn session() -> SessionInfo {
        SessionInfo {
            id_hash: "hash".into(),
            sid: "sid".into(),
            user_id: "u1".into(),
            username: "alice".into(),
            auth_time: 0,
            amr: vec![crate::oauth::store::Amr::Pwd],
            expires_at: 10,
        }
    }

    #[test]
    fn the_client_comes_from_the_hint_or_client_id_and_they_must_agree() {
        let h = claims("u1", "app");
        let mut r = LogoutRequest::default();
        assert_eq!(client_id(&r, None), Ok(None));
        assert_eq!(client_id(&r, Some(&h)), Ok(Some("app")));
        r.client_id = Some("app".into());
        assert_eq!(client_id(&r, Some(&h)), Ok(Some("app")));
        assert_eq!(client_id(&r, None), Ok(Some("app")));
        r.client_id = Some("other".into());
        assert_eq!(client_id(&r, Some(&h)), Err(LogoutError::ClientMismatch));
    }

    #[test]
    fn redirects_only_to_a_registered_uri() {
        let c = client();
        let mut r = LogoutRequest {
            post_logout_redirect_uri: Some("https://app.example/bye?x=1".into()),
            ..Default::default()
        };
        assert_eq!(
            redirect_uri(&r, Some(&c)),
            Some("https://app.example/bye?x=1")
        );
        assert_eq!(redirect_uri(&r, None), None, "no client, no redirect");
        r.post_logout_redirect_uri = Some("https://evil.example/".into());
        assert_eq!(redirect_uri(&r, Some(&c)), None);
        r.post_logout_redirect_uri = None;
        assert_eq!(redirect_uri(&r, Some(&c)), None);
    }

    #[test]
    fn confirmation_unless_the_hint_names_the_session_user() {
        let s = session();
        assert_eq!(
            decide(Some(&claims("u1", "app")), Some(&s), false),
            LogoutStep::End
        );
        assert_eq!(
            decide(Some(&claims("u2", "app")), Some(&s), false),
            LogoutStep::Confirm
        );
        assert_eq!(decide(None, Some(&s), false), LogoutStep::Confirm);
        assert_eq!(decide(None, Some(&s), true), LogoutStep::End);
        assert_eq!(decide(None, None, false), LogoutStep::End);
    }
}

//! The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2): parsing a request in
//! two steps (where an answer may be sent, then everything else) and deciding what the
//! person sees next. Pure: parameters, stored facts and the clock in, an outcome out.

use super::claims::ClaimsRequest;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::CodeChallenge;
use super::redirect::Target;
use crate::domain::scopes::ADMIN_SCOPE;
use crate::domain::{Client, ResourceSet, Scopes};
use crate::oauth::store::CodeRecord;
use crate::oauth::store::SessionInfo;

/// The `prompt` values (OIDC Core §3.1.2.1) gatehouse acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

pub const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

impl Prompt {
    pub fn parse(raw: Option<&str>) -> Result<Prompt, OAuthError> {
        let mut p = Prompt::default();
        for v in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                // OIDC Core lets a provider ignore values it does not know.
                _ => {}
            }
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}

/// A fully validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// As sent, or the single registered URI when the request omitted it.
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    /// The resources (RFC 8707) the tokens are for.
    pub resources: Vec<String>,
    pub state: Option<String>,
    pub scopes: Scopes,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// Individual claims and the authentication context asked for (`claims`,
    /// `acr_values`).
    pub claims: Option<ClaimsRequest>,
}

/// `response_type` must be `code`; request objects and other response modes are not
/// supported.
fn check_response_type_and_mode(params: &Params) -> Result<(), OAuthError> {
    match params.get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type '{other}' is not supported; use code"),
            ))
        }
        None => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "response_type=code is required",
            ))
        }
    }
    if params.get("request").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if let Some(mode) = params.get("response_mode") {
        if mode != "query" && mode != "form_post" {
            return Err(OAuthError::invalid_request(
                "only response_mode=query or form_post is supported",
            ));
        }
    }
    Ok(())
}

impl AuthorizeRequest {
    /// Step two: everything else. Errors here go back to `target` by redirect.
    /// `display`, `ui_locales`, `claims_locales` and unknown parameters are ignored, as
    /// OIDC Core allows.
    pub fn parse(
        params: &Params,
        client: &Client,
        target: &Target,
        issuer: &str,
        registered: &ResourceSet,
    ) -> Result<AuthorizeRequest, OAuthError> {
        check_response_type_and_mode(params)?;
        if !client.allows_grant(crate::oauth::grants::authorization_code::ID) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the authorization code flow",
            ));
        }
        let code_challenge = CodeChallenge::parse(
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )?;
        let scopes = Scopes::parse(params.get("scope").unwrap_or(""))
            .ok_or_else(|| OAuthError::invalid_scope("the scope parameter is malformed"))?;
        if scopes.contains(ADMIN_SCOPE) {
            return Err(OAuthError::invalid_scope(format!(
                "{ADMIN_SCOPE} cannot be granted here"
            )));
        }
        let resources =
            crate::oauth::resource::check(params.resources(), client, issuer, registered)?;
        // A registered resource's scopes are the user's to grant to whoever asks for it.
        // Scopes the client may not have are left out of the grant rather than failing
        // the request (OIDC Core §3.1.2.1); the token response names what was granted.
        let allowed = client.scopes.union(&registered.scopes_of(&resources));
        let scopes = scopes.intersection(&allowed);
        let prompt = Prompt::parse(params.get("prompt"))?;
        let max_age = params
            .get("max_age")
            .map(|v| {
                v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    OAuthError::invalid_request("max_age must be a non-negative integer")
                })
            })
            .transpose()?;
        Ok(AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: target.redirect_uri.clone(),
            redirect_uri_given: target.redirect_uri_given,
            resources,
            state: target.state.clone(),
            scopes,
            nonce: params.get("nonce").map(str::to_string),
            code_challenge,
            prompt,
            max_age,
            login_hint: params.get("login_hint").map(str::to_string),
            dpop_jkt: match params.get("dpop_jkt") {
                Some(j) if j.len() == 43 && crate::crypto::b64url_decode(j).is_some() => {
                    Some(j.to_string())
                }
                Some(_) => {
                    return Err(OAuthError::invalid_request(
                        "dpop_jkt must be a JWK SHA-256 thumbprint (base64url)",
                    ))
                }
                None => None,
            },
            id_token_hint: params.get("id_token_hint").map(str::to_string),
            claims: ClaimsRequest::parse(params.get("claims"), params.get("acr_values"))?.map(
                |mut c| {
                    c.restrict(&allowed);
                    c
                },
            ),
        })
    }
}

impl AuthorizeRequest {
    /// What the person consents to: the scopes, and those of claims asked for by name.
    pub fn consent_scopes(&self) -> Scopes {
        match &self.claims {
            Some(c) => self.scopes.union(&c.implied_scopes()),
            None => self.scopes.clone(),
        }
    }
}

/// What the `id_token_hint` said, once the caller checked its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint<'a> {
    Absent,
    /// A valid ID token of this issuer about this subject.
    Subject(&'a str),
    /// Present but not an ID token this issuer can verify: it names no one we know.
    Unverifiable,
}

/// The facts `decide` weighs besides the request and the client.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The browser's live session (a disabled user's session is no session).
    pub session: Option<&'a SessionInfo>,
    /// Scopes the user already consented to for this client.
    pub remembered_consent: Option<&'a Scopes>,
    /// The session was created by a login made for this very request.
    pub fresh_login: bool,
    /// The user just pressed "allow" on the consent page for this request.
    pub consent_given: bool,
    pub hint: Hint<'a>,
    /// What the session's user could and must prove beyond what the session did.
    pub mfa: MfaFacts,
    pub now: i64,
}

/// The second-factor facts of a signed-in user whose session is not multi-factor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MfaFacts {
    /// The operator, the client or the user's account requires a second factor.
    pub required: bool,
    /// The user has a second factor to prove.
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Show the login page.
    Login { login_hint: Option<String> },
    /// Ask the signed-in user for a second factor (or, when one is required and they
    /// have none, to set one up), then decide again.
    StepUp,
    /// Show the consent page for these scopes.
    Consent { scopes: Scopes },
    /// Issue a code for this session and redirect.
    IssueCode { session: SessionInfo },
    /// Redirect with this error.
    Error(OAuthError),
}

/// Decides what a validated request leads to.
pub fn decide(req: &AuthorizeRequest, client: &Client, s: Situation<'_>) -> AuthorizeOutcome {
    let hint_mismatch = |session: &SessionInfo| match s.hint {
        Hint::Absent => false,
        Hint::Subject(sub) => sub != session.user_id,
        Hint::Unverifiable => true,
    };
    let login_needed = match s.session {
        None => true,
        // A login made for this request satisfies prompt=login, max_age and the hint.
        Some(_) if s.fresh_login => false,
        Some(session) => {
            req.prompt.login
                || req.prompt.select_account
                // Seconds are truncated, so an equal count may already be past max_age;
                // it also makes max_age=0 always ask, as OIDC intends.
                || req.max_age.is_some_and(|max| s.now - session.auth_time >= max)
                || hint_mismatch(session)
        }
    };
    let session = match s.session {
        Some(session) if !login_needed => session,
        _ => {
            if req.prompt.none {
                return AuthorizeOutcome::Error(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "the user must sign in",
                ));
            }
            return AuthorizeOutcome::Login {
                login_hint: req.login_hint.clone(),
            };
        }
    };
    // A second factor is asked when one is required, or when the request prefers the
    // multi-factor level (or demands it) and the user has one (OIDC Core §3.1.2.1).
    let unmet = (req.claims.as_ref()).is_some_and(|c| c.acr_unmet(&session.amr));
    let wanted = unmet || (req.claims.as_ref()).is_some_and(|c| c.wants_mfa());
    if !crate::oauth::claims::is_multi_factor(&session.amr)
        && (s.mfa.required || (wanted && s.mfa.available))
    {
        if req.prompt.none {
            return AuthorizeOutcome::Error(OAuthError::new(
                ErrorCode::InteractionRequired,
                "the user must prove a second factor",
            ));
        }
        return AuthorizeOutcome::StepUp;
    }
    // An essential `acr` the login cannot meet is a failed authentication (OIDC Core
    // §5.5.1.1).
    if unmet {
        return AuthorizeOutcome::Error(OAuthError::new(
            ErrorCode::AccessDenied,
            "the requested authentication context (acr) cannot be met by this sign-in",
        ));
    }
    let remembered = !req.prompt.consent
        && s.remembered_consent
            .is_some_and(|c| req.consent_scopes().is_subset(c));
    // A first-party client skips consent, except when the request asks for it.
    let skipped = client.skip_consent && !req.prompt.consent;
    let consent_needed = !(skipped || s.consent_given || remembered);
    if consent_needed {
        if req.prompt.none {
            return AuthorizeOutcome::Error(OAuthError::new(
                ErrorCode::ConsentRequired,
                "the user must consent to this request",
            ));
        }
        return AuthorizeOutcome::Consent {
            scopes: req.consent_scopes(),
        };
    }
    AuthorizeOutcome::IssueCode {
        session: session.clone(),
    }
}

/// The stored form of a new code: only `code_hash` (the secret's hash) is kept.
pub fn code_record(
    req: &AuthorizeRequest,
    session: &SessionInfo,
    code_hash: String,
    family_id: String,
    now: i64,
    lifetime: i64,
) -> CodeRecord {
    CodeRecord {
        code_hash,
        client_id: req.client_id.clone(),
        user_id: session.user_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_given: req.redirect_uri_given,
        resources: req.resources.clone(),
        scopes: req.scopes.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        sid: session.sid.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        family_id,
        access_jti: None,
        access_expires_at: None,
        created_at: now,
        expires_at: now + lifetime,
        consumed_at: None,
        dpop_jkt: req.dpop_jkt.clone(),
        claims: req.claims.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::redirect::target;
    use crate::oauth::redirect::test_support::client;

    use crate::oauth::redirect::test_support::{params, CHALLENGE};

    const NOW: i64 = 1_000_000;

    fn parse(extra: &[(&str, &str)]) -> Result<AuthorizeRequest, OAuthError> {
        let p = params(extra);
        let c = client();
        let t = target(&p, Some(&c)).unwrap();
        AuthorizeRequest::parse(&p, &c, &t, "https://id.example", &ResourceSet::default())
    }

    fn code_of(extra: &[(&str, &str)]) -> ErrorCode {
        parse(extra).unwrap_err().code
    }

    fn session(auth_time: i64) -> SessionInfo {
        SessionInfo {
            id_hash: "hash".into(),
            sid: "sid1".into(),
            user_id: "user-1".into(),
            username: "alice".into(),
            auth_time,
            amr: vec![crate::oauth::store::Amr::Pwd],
            expires_at: NOW + 3600,
        }
    }

    fn situation(session: Option<&SessionInfo>) -> Situation<'_> {
        Situation {
            session,
            remembered_consent: None,
            fresh_login: false,
            consent_given: false,
            hint: Hint::Absent,
            mfa: MfaFacts::default(),
            now: NOW,
        }
    }

    #[test]
    fn a_second_factor_is_asked_when_required_or_preferred_and_possible() {
        let s = session(NOW - 10);
        let plain = parse(&[]).unwrap();
        let prefers = parse(&[("acr_values", crate::oauth::claims::ACR_MFA)]).unwrap();
        let with = |required, available| Situation {
            consent_given: true,
            mfa: MfaFacts {
                required,
                available,
            },
            ..situation(Some(&s))
        };
        let issue = AuthorizeOutcome::IssueCode { session: s.clone() };
        assert_eq!(decide(&plain, &client(), with(false, true)), issue);
        assert_eq!(
            decide(&plain, &client(), with(true, false)),
            AuthorizeOutcome::StepUp
        );
        assert_eq!(
            decide(&prefers, &client(), with(false, true)),
            AuthorizeOutcome::StepUp
        );
        // Preferred but impossible: the password session serves (the acr says so).
        assert_eq!(decide(&prefers, &client(), with(false, false)), issue);
        // prompt=none cannot ask.
        let silent = parse(&[("prompt", "none")]).unwrap();
        match decide(&silent, &client(), with(true, true)) {
            AuthorizeOutcome::Error(e) => assert_eq!(e.code, ErrorCode::InteractionRequired),
            other => panic!("{other:?}"),
        }
        // A multi-factor session is enough.
        let mut strong = s.clone();
        strong.amr = vec![crate::oauth::store::Amr::Pwd, crate::oauth::store::Amr::Otp];
        let sit = Situation {
            session: Some(&strong),
            ..with(true, true)
        };
        assert!(matches!(
            decide(&prefers, &client(), sit),
            AuthorizeOutcome::IssueCode { .. }
        ));
    }

    #[test]
    fn step_two_validates_the_rest() {
        let r = parse(&[("nonce", "n1"), ("max_age", "30"), ("login_hint", "alice")]).unwrap();
        assert_eq!(r.scopes.to_string(), "openid profile");
        assert_eq!(r.nonce.as_deref(), Some("n1"));
        assert_eq!(r.max_age, Some(30));
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert_eq!(
            code_of(&[("response_type", "token")]),
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            code_of(&[("response_type", "code id_token")]),
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            code_of(&[("request", "eyJ")]),
            ErrorCode::RequestNotSupported
        );
        assert_eq!(
            code_of(&[("request_uri", "https://x")]),
            ErrorCode::RequestUriNotSupported
        );
        assert_eq!(
            code_of(&[("code_challenge_method", "plain")]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code_of(&[("code_challenge", "short")]),
            ErrorCode::InvalidRequest
        );
        // A scope the client may not have is left out of the grant, not an error.
        let granted = parse(&[("scope", "openid calendar")]).unwrap().scopes;
        assert_eq!(granted.to_string(), "openid");
        assert_eq!(
            code_of(&[("scope", "openid gatehouse:admin")]),
            ErrorCode::InvalidScope
        );
        assert_eq!(code_of(&[("scope", "a\"b")]), ErrorCode::InvalidScope);
        assert_eq!(
            code_of(&[("prompt", "none login")]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code_of(&[("max_age", "-1")]), ErrorCode::InvalidRequest);
        assert_eq!(code_of(&[("max_age", "soon")]), ErrorCode::InvalidRequest);
        assert_eq!(
            code_of(&[("response_mode", "fragment")]),
            ErrorCode::InvalidRequest
        );
        // Parameters that never cause an error.
        assert!(parse(&[
            ("display", "popup"),
            ("ui_locales", "de fr"),
            ("claims_locales", "de"),
            ("acr_values", "urn:x"),
            ("claims", "{\"id_token\":{}}"),
            ("unknown_thing", "1"),
            ("prompt", "consent whatever"),
        ])
        .is_ok());
    }

    #[test]
    fn step_two_refuses_clients_without_the_code_grant() {
        let p = params(&[]);
        let mut c = client();
        c.grant_types = vec![crate::oauth::grants::client_credentials::ID];
        let t = target(&p, Some(&c)).unwrap();
        assert_eq!(
            AuthorizeRequest::parse(&p, &c, &t, "https://id.example", &ResourceSet::default())
                .unwrap_err()
                .code,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn no_session_means_login_or_login_required() {
        let c = client();
        let r = parse(&[("login_hint", "alice")]).unwrap();
        assert_eq!(
            decide(&r, &c, situation(None)),
            AuthorizeOutcome::Login {
                login_hint: Some("alice".into())
            }
        );
        let r = parse(&[("prompt", "none")]).unwrap();
        match decide(&r, &c, situation(None)) {
            AuthorizeOutcome::Error(e) => assert_eq!(e.code, ErrorCode::LoginRequired),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn session_without_consent_asks_for_it() {
        let c = client();
        let s = session(NOW - 10);
        let r = parse(&[]).unwrap();
        assert_eq!(
            decide(&r, &c, situation(Some(&s))),
            AuthorizeOutcome::Consent {
                scopes: Scopes::parse("openid profile").unwrap()
            }
        );
        let r = parse(&[("prompt", "none")]).unwrap();
        match decide(&r, &c, situation(Some(&s))) {
            AuthorizeOutcome::Error(e) => assert_eq!(e.code, ErrorCode::ConsentRequired),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn consent_given_or_remembered_or_skipped_issues_a_code() {
        let s = session(NOW - 10);
        let r = parse(&[]).unwrap();
        let issue = AuthorizeOutcome::IssueCode { session: s.clone() };
        let given = Situation {
            consent_given: true,
            ..situation(Some(&s))
        };
        assert_eq!(decide(&r, &client(), given), issue);
        let more = Scopes::parse("openid profile email").unwrap();
        let remembered = Situation {
            remembered_consent: Some(&more),
            ..situation(Some(&s))
        };
        assert_eq!(decide(&r, &client(), remembered), issue);
        // prompt=none is silent when nothing is needed.
        let r_none = parse(&[("prompt", "none")]).unwrap();
        assert_eq!(decide(&r_none, &client(), remembered), issue);
        let mut first_party = client();
        first_party.skip_consent = true;
        assert_eq!(decide(&r, &first_party, situation(Some(&s))), issue);
    }

    #[test]
    fn remembered_consent_must_cover_the_request_and_prompt_consent_overrides_it() {
        let s = session(NOW - 10);
        let less = Scopes::parse("openid").unwrap();
        let r = parse(&[]).unwrap();
        let sit = Situation {
            remembered_consent: Some(&less),
            ..situation(Some(&s))
        };
        assert!(matches!(
            decide(&r, &client(), sit),
            AuthorizeOutcome::Consent { .. }
        ));
        let all = Scopes::parse("openid profile").unwrap();
        let r = parse(&[("prompt", "consent")]).unwrap();
        let sit = Situation {
            remembered_consent: Some(&all),
            ..situation(Some(&s))
        };
        assert!(matches!(
            decide(&r, &client(), sit),
            AuthorizeOutcome::Consent { .. }
        ));
        // A first-party client skips consent, but not when the request asks for it.
        let mut first_party = client();
        first_party.skip_consent = true;
        assert!(matches!(
            decide(&r, &first_party, sit),
            AuthorizeOutcome::Consent { .. }
        ));
        let plain = parse(&[]).unwrap();
        assert!(matches!(
            decide(&plain, &first_party, sit),
            AuthorizeOutcome::IssueCode { .. }
        ));
        // ...and the answer on the page satisfies prompt=consent.
        let given = Situation {
            consent_given: true,
            ..sit
        };
        assert!(matches!(
            decide(&r, &client(), given),
            AuthorizeOutcome::IssueCode { .. }
        ));
    }

    #[test]
    fn prompt_login_and_select_account_force_a_login_unless_fresh() {
        let s = session(NOW - 10);
        let skip = {
            let mut c = client();
            c.skip_consent = true;
            c
        };
        for prompt in ["login", "select_account", "login consent"] {
            let r = parse(&[("prompt", prompt)]).unwrap();
            assert!(
                matches!(
                    decide(&r, &skip, situation(Some(&s))),
                    AuthorizeOutcome::Login { .. }
                ),
                "{prompt}"
            );
            let fresh = Situation {
                fresh_login: true,
                ..situation(Some(&s))
            };
            let expected = if prompt.contains("consent") {
                matches!(decide(&r, &skip, fresh), AuthorizeOutcome::Consent { .. })
            } else {
                matches!(decide(&r, &skip, fresh), AuthorizeOutcome::IssueCode { .. })
            };
            assert!(expected, "{prompt}");
        }
    }

    #[test]
    fn max_age_counts_from_auth_time() {
        let skip = {
            let mut c = client();
            c.skip_consent = true;
            c
        };
        let r = parse(&[("max_age", "60")]).unwrap();
        let recent = session(NOW - 59);
        assert!(matches!(
            decide(&r, &skip, situation(Some(&recent))),
            AuthorizeOutcome::IssueCode { .. }
        ));
        let old = session(NOW - 60);
        assert!(matches!(
            decide(&r, &skip, situation(Some(&old))),
            AuthorizeOutcome::Login { .. }
        ));
        let fresh = Situation {
            fresh_login: true,
            ..situation(Some(&old))
        };
        assert!(matches!(
            decide(&r, &skip, fresh),
            AuthorizeOutcome::IssueCode { .. }
        ));
        // max_age=0 always asks, and with prompt=none that is login_required.
        let r = parse(&[("max_age", "0")]).unwrap();
        let now = session(NOW);
        assert!(matches!(
            decide(&r, &skip, situation(Some(&now))),
            AuthorizeOutcome::Login { .. }
        ));
        let r = parse(&[("max_age", "0"), ("prompt", "none")]).unwrap();
        match decide(&r, &skip, situation(Some(&recent))) {
            AuthorizeOutcome::Error(e) => assert_eq!(e.code, ErrorCode::LoginRequired),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn id_token_hint_must_name_the_session_user() {
        let skip = {
            let mut c = client();
            c.skip_consent = true;
            c
        };
        let s = session(NOW - 10);
        let r = parse(&[("prompt", "none"), ("id_token_hint", "x")]).unwrap();
        let same = Situation {
            hint: Hint::Subject("user-1"),
            ..situation(Some(&s))
        };
        assert!(matches!(
            decide(&r, &skip, same),
            AuthorizeOutcome::IssueCode { .. }
        ));
        for hint in [Hint::Subject("user-2"), Hint::Unverifiable] {
            let other = Situation {
                hint,
                ..situation(Some(&s))
            };
            match decide(&r, &skip, other) {
                AuthorizeOutcome::Error(e) => assert_eq!(e.code, ErrorCode::LoginRequired),
                o => panic!("{o:?}"),
            }
        }
        // Without prompt=none the other user is asked to sign in instead.
        let r = parse(&[("id_token_hint", "x")]).unwrap();
        let other = Situation {
            hint: Hint::Subject("user-2"),
            ..situation(Some(&s))
        };
        assert!(matches!(
            decide(&r, &skip, other),
            AuthorizeOutcome::Login { .. }
        ));
    }

    #[test]
    fn code_record_binds_the_request_and_the_session() {
        let r = parse(&[
            ("nonce", "n1"),
            ("redirect_uri", "http://127.0.0.1:5000/native"),
        ])
        .unwrap();
        let s = session(NOW - 10);
        let rec = code_record(&r, &s, "hash".into(), "fam".into(), NOW, 60);
        assert_eq!(rec.redirect_uri, "http://127.0.0.1:5000/native");
        assert_eq!(rec.code_challenge.as_str(), CHALLENGE);
        assert_eq!(rec.nonce.as_deref(), Some("n1"));
        assert_eq!(
            (rec.sid.as_str(), rec.auth_time, rec.amr.as_slice()),
            ("sid1", NOW - 10, [crate::oauth::store::Amr::Pwd].as_slice())
        );
        assert_eq!(rec.expires_at, NOW + 60);
        assert_eq!(rec.scopes.to_string(), "openid profile");
        assert!(rec.consumed_at.is_none());
    }
}

//! The authorization endpoint and the consent form: HTTP in, `oauth::authorize` decisions,
//! pages or redirects out. The pending request travels through the login and consent
//! forms as the hidden `request` field and is validated again on every post.

use crate::oauth::store::logout::SessionClient;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::cookies::{self, Csrf};
use super::errors::{authorization_response, Failure};
use super::pages;
use super::token::read_form;
use super::ui::Ui;
use super::Data;
use crate::app::factors::Enrolled;
use crate::crypto::{b64url, b64url_decode, random_token, secret_hash, Purpose};
use crate::db::unix_now;
use crate::domain::client::Provenance;
use crate::domain::{Client, Scopes};
use crate::oauth::authorize::{
    self, AuthorizeOutcome, AuthorizeRequest, Hint, MfaFacts, Situation,
};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::redirect::{self, PageError, Target};
use crate::oauth::store::{Consent, SessionInfo, StoreError};
use crate::oauth::tokens::verify_id_token_hint;
use crate::resolve::Lookup;

pub const PATH: &str = "/authorize";
pub const PATH_LOGIN: &str = "/login";
pub const PATH_CONSENT: &str = "/consent";
/// How long after a login its proof still counts as "this request's login".
const LOGIN_PROOF_TTL: i64 = 600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(authorize_get))
        .route(PATH, web::post().to(authorize_post))
        .route(PATH_CONSENT, web::post().to(consent));
}

/// The login form. It carries the pending authorization request in `request`, or, when
/// opened without one (the admin pages), the page to return to in `return_to`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub action: String,
    pub csrf_token: &'a str,
    pub request: &'a str,
    pub return_to: Option<&'a str>,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// The passkey sign-in beside the password form.
    pub passkey: super::passkeys::Challenge,
    pub passkey_action: String,
    pub passkey_script: &'a str,
    pub rp_id: String,
    pub ui: super::ui::Ui,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<String>,
    /// No operator registered the app: how it came (for the warning), and where the
    /// browser goes next.
    unvetted: Option<&'static str>,
    redirect_host: String,
    /// The protected resources the app will reach: name, host, scopes in words.
    resources: Vec<(String, String, Vec<String>)>,
    action: String,
    csrf_token: &'a str,
    request: &'a str,
    login_proof: Option<String>,
    ui: Ui,
}

/// The host (or private-use scheme) a redirect URI leads to, for the consent page.
fn redirect_host(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(u) => match u.host_str() {
            Some(h) => match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            },
            None => format!("{}:", u.scheme()),
        },
        Err(_) => uri.to_string(),
    }
}

/// Each requested resource the consent page names, with the scopes it will be used with.
fn consent_resources(pending: &Pending, scopes: &Scopes) -> Vec<(String, String, Vec<String>)> {
    pending
        .req
        .resources
        .iter()
        .map(|r| match pending.registered.find(r) {
            Some(known) => (
                known.name.clone(),
                known.host(),
                scopes
                    .iter()
                    .filter(|s| known.scopes.contains(s))
                    .map(describe_scope)
                    .collect(),
            ),
            None => (r.clone(), redirect_host(r), Vec::new()),
        })
        .collect()
}

/// A scope in plain words for the consent page.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "Your name and username".into(),
        "email" => "Your e-mail address".into(),
        "offline_access" => "Stay signed in to this app (access while you are away)".into(),
        other => other.to_string(),
    }
}

pub fn unavailable(e: StoreError) -> Failure {
    tracing::error!(error = %e, "storage failure");
    Failure::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in service cannot be reached right now. Try again in a moment.",
    )
}

pub fn bad_request_page(message: impl Into<String>) -> Failure {
    Failure::page(
        StatusCode::BAD_REQUEST,
        "This sign-in request cannot be completed",
        message,
    )
}

/// A validated request with its client and where its answers go.
pub struct Pending {
    pub client: Arc<Client>,
    /// The registered protected resources, as this request saw them.
    pub registered: Arc<crate::domain::ResourceSet>,
    pub target: Target,
    pub req: AuthorizeRequest,
    /// The parameters as carried in the forms' hidden `request` field.
    pub query: String,
}

impl Pending {
    pub fn redirect_error(&self, error: OAuthError, issuer: &str) -> Failure {
        Failure::Redirect {
            error,
            redirect_uri: self.target.redirect_uri.clone(),
            state: self.target.state.clone(),
            issuer: issuer.to_string(),
            form_post: self.target.form_post,
        }
    }

    /// Origins the pages' forms may end up at (CSP `form-action` covers the redirect).
    pub fn form_targets(&self) -> Vec<String> {
        cookies::form_target(&self.target.redirect_uri)
            .into_iter()
            .collect()
    }
}

/// Both steps of parsing: a page for what cannot be redirected, a redirect for the rest.
pub async fn load_pending(
    services: &Data,
    params: Result<Params, OAuthError>,
) -> Result<Pending, Failure> {
    let params = params.map_err(|e| {
        bad_request_page(PageError::Malformed(e.description.unwrap_or_default()).message())
    })?;
    let client_id = redirect::client_id(&params).map_err(|e| bad_request_page(e.message()))?;
    let client = match services.resolve_client(client_id).await {
        Ok(c) => c,
        Err(Lookup::Store(e)) => return Err(unavailable(e)),
        Err(Lookup::Document(why)) => {
            return Err(bad_request_page(format!(
                "This application cannot sign in here: {why}."
            )))
        }
    };
    let params = match &client {
        Some(c) => {
            let params = super::par::expand(services, params, c).await?;
            match super::request_object::expand(services, params.clone(), c).await {
                Ok(p) => p,
                Err(error) => return Err(object_refused(services, &params, c, error)),
            }
        }
        None => params,
    };
    let registered = services.resources().await.map_err(unavailable)?;
    let target =
        redirect::target(&params, client.as_deref()).map_err(|e| bad_request_page(e.message()))?;
    let client = client.expect("target() refuses an unknown client");
    let issuer = &services.settings.issuer;
    let req = AuthorizeRequest::parse(&params, &client, &target, issuer, &registered).map_err(
        |error| Failure::Redirect {
            error,
            redirect_uri: target.redirect_uri.clone(),
            state: target.state.clone(),
            issuer: issuer.clone(),
            form_post: target.form_post,
        },
    )?;
    Ok(Pending {
        client,
        registered,
        target,
        req,
        query: params.to_query(),
    })
}

/// A request object that was refused: sent back by redirect when the request's own
/// redirect URI is one registered for the client, else shown on a page.
fn object_refused(services: &Data, params: &Params, client: &Client, error: OAuthError) -> Failure {
    match redirect::target(params, Some(client)) {
        Ok(target) => Failure::Redirect {
            error,
            redirect_uri: target.redirect_uri,
            state: target.state,
            issuer: services.settings.issuer.clone(),
            form_post: target.form_post,
        },
        Err(_) => bad_request_page(format!("The sign-in request is not valid: {error}.")),
    }
}

/// The browser's session and the cookie hash it was found under.
pub async fn current_session(
    services: &Data,
    req: &HttpRequest,
) -> Result<Option<(String, SessionInfo)>, Failure> {
    let Some(cookie) = cookies::session(req, &services.settings) else {
        return Ok(None);
    };
    let hash = secret_hash(&cookie);
    let now = unix_now();
    let found = services
        .db
        .run(move |c| Ok(c.find_session(&hash, now)?.map(|s| (hash, s))))
        .await
        .map_err(unavailable)?;
    Ok(found)
}

/// Proof, sealed to this request, that a login was made for it (so `prompt=login` and
/// `max_age` are satisfied on the consent page that follows, and cannot be forged).
fn login_proof(services: &Data, pending: &Pending, session: &SessionInfo) -> String {
    b64url(&services.sealer.seal(
        Purpose::LoginProof,
        session.sid.as_bytes(),
        proof_context(pending).as_bytes(),
    ))
}

fn proof_context(pending: &Pending) -> String {
    format!("login-proof:{}", pending.query)
}

fn login_proof_valid(
    services: &Data,
    pending: &Pending,
    session: &SessionInfo,
    proof: Option<&str>,
    now: i64,
) -> bool {
    proof
        .and_then(b64url_decode)
        .and_then(|sealed| {
            services.sealer.open(
                Purpose::LoginProof,
                &sealed,
                proof_context(pending).as_bytes(),
            )
        })
        .is_some_and(|sid| {
            sid == session.sid.as_bytes() && now - session.auth_time <= LOGIN_PROOF_TTL
        })
}

/// What a login page is for: whose name it shows, what it carries back (the pending
/// request, or the page of gatehouse's own to return to) and where its answer may go.
pub struct LoginFor<'a> {
    pub client_name: &'a str,
    pub request: &'a str,
    pub return_to: Option<&'a str>,
    pub form_targets: Vec<String>,
}

/// Renders the login page, with a fresh CSRF token.
pub fn render_login(
    services: &Data,
    req: &HttpRequest,
    login: LoginFor,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    let page = LoginPage {
        client_name: login.client_name,
        action: services.settings.url(PATH_LOGIN),
        csrf_token: &csrf.token,
        request: login.request,
        return_to: login.return_to,
        username,
        error,
        passkey: super::passkeys::new_challenge(&services.sealer, "signin", unix_now()),
        passkey_action: super::passkeys::login_action(&services.settings),
        passkey_script: super::passkeys::PASSKEY_SCRIPT_PATH,
        rp_id: super::passkeys::relying_party(&services.settings).id,
        ui: super::ui::Ui::of(services, req, Ui::locales_of(login.request).as_deref()),
    };
    let mut res = pages::render(status, &page, &login.form_targets);
    csrf.set_on(&mut res);
    res
}

/// Renders the login page for a pending request.
pub fn login_page(
    services: &Data,
    req: &HttpRequest,
    pending: &Pending,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let login = LoginFor {
        client_name: &pending.client.name,
        request: &pending.query,
        return_to: None,
        form_targets: pending.form_targets(),
    };
    render_login(services, req, login, status, username, error)
}

fn consent_page(
    services: &Data,
    req: &HttpRequest,
    pending: &Pending,
    session: &SessionInfo,
    scopes: &Scopes,
    proof: Option<String>,
) -> HttpResponse {
    // Just after a login the page is for the new session, with a new CSRF cookie.
    let csrf = match proof {
        Some(_) => Csrf::after_login(req, &services.settings, &services.sealer, &session.id_hash),
        None => Csrf::for_page(req, &services.settings, &services.sealer),
    };
    let page = ConsentPage {
        client_name: &pending.client.name,
        username: &session.username,
        scopes: scopes.iter().map(describe_scope).collect(),
        unvetted: match pending.client.provenance {
            Provenance::Operator => None,
            Provenance::SelfRegistered => {
                Some("It registered itself, and its name is its own claim.")
            }
            Provenance::MetadataDocument => {
                Some("It describes itself at its own address, and its name is its own claim.")
            }
        },
        redirect_host: redirect_host(&pending.target.redirect_uri),
        resources: consent_resources(pending, scopes),
        action: services.settings.url(PATH_CONSENT),
        csrf_token: &csrf.token,
        request: &pending.query,
        login_proof: proof,
        ui: Ui::of(services, req, Ui::locales_of(&pending.query).as_deref()),
    };
    let mut res = pages::render(StatusCode::OK, &page, &pending.form_targets());
    csrf.set_on(&mut res);
    res
}

/// Decides and answers: the login page, the consent page, a code, or an error redirect.
pub async fn proceed(
    services: &Data,
    req: &HttpRequest,
    pending: &Pending,
    session: Option<&SessionInfo>,
    fresh_login: bool,
    consent_given: bool,
) -> HttpResponse {
    match proceed_inner(services, req, pending, session, fresh_login, consent_given).await {
        Ok(res) => res,
        Err(failure) => failure.error_response(),
    }
}

async fn proceed_inner(
    services: &Data,
    req: &HttpRequest,
    pending: &Pending,
    session: Option<&SessionInfo>,
    fresh_login: bool,
    consent_given: bool,
) -> Result<HttpResponse, Failure> {
    let now = unix_now();
    let settings = &services.settings;
    let (remembered, mfa, enrolled) = match session {
        Some(s) => signed_in_facts(services, pending, s).await?,
        None => (None, MfaFacts::default(), Enrolled::default()),
    };
    let keys = services.keys.current();
    let hint_claims = pending
        .req
        .id_token_hint
        .as_deref()
        .map(|t| verify_id_token_hint(&keys, t, &settings.issuer, now));
    // The hint's `sub` is the client's; a pairwise one maps back to the user.
    let hint_user = match &hint_claims {
        Some(Some(claims)) => {
            crate::oauth::subject::user_for(&services.sealer, &pending.client, &claims.sub)
        }
        _ => None,
    };
    let hint = match (&hint_claims, &hint_user) {
        (None, _) => Hint::Absent,
        (Some(Some(_)), Some(user)) => Hint::Subject(user),
        (Some(_), _) => Hint::Unverifiable,
    };
    let situation = Situation {
        session,
        remembered_consent: remembered.as_ref(),
        fresh_login,
        consent_given,
        hint,
        mfa,
        now,
    };
    match authorize::decide(&pending.req, &pending.client, situation) {
        AuthorizeOutcome::Login { login_hint } => {
            let username = login_hint.as_deref().unwrap_or("");
            Ok(login_page(
                services,
                req,
                pending,
                StatusCode::OK,
                username,
                None,
            ))
        }
        AuthorizeOutcome::Consent { scopes } => {
            let session = session.expect("consent is asked only of a signed-in user");
            let proof = fresh_login.then(|| login_proof(services, pending, session));
            Ok(consent_page(
                services, req, pending, session, &scopes, proof,
            ))
        }
        AuthorizeOutcome::StepUp => {
            let session = session.expect("a step-up is asked only of a signed-in user");
            let step = super::mfa::Step::step_up(session, now);
            let carry = LoginFor {
                client_name: &pending.client.name,
                request: &pending.query,
                return_to: None,
                form_targets: pending.form_targets(),
            };
            let ok = StatusCode::OK;
            Ok(super::mfa::ask(
                services, req, &carry, &step, &enrolled, ok, None,
            ))
        }
        AuthorizeOutcome::Error(error) => Err(pending.redirect_error(error, &settings.issuer)),
        AuthorizeOutcome::IssueCode { session } => {
            issue_code(services, pending, &session, consent_given, now).await
        }
    }
}

/// What a signed-in user brings to a request: the consent they gave the client, and,
/// when their session is not multi-factor, whether one is required and possible.
async fn signed_in_facts(
    services: &Data,
    pending: &Pending,
    session: &SessionInfo,
) -> Result<(Option<Scopes>, MfaFacts, Enrolled), Failure> {
    let (user_id, client_id) = (session.user_id.clone(), pending.client.client_id.clone());
    let strong = crate::oauth::claims::is_multi_factor(&session.amr);
    let required = services.settings.outbound.require_mfa || pending.client.openid.require_mfa;
    let (consent, user_requires, enrolled) = services
        .db
        .run(move |c| {
            let consent = c.find_consent(&user_id, &client_id)?;
            if strong {
                return Ok((consent, false, Enrolled::default()));
            }
            let requires = c.find_user(&user_id)?.is_some_and(|u| u.require_mfa);
            let enrolled = Enrolled::of(c.list_factors(&user_id)?);
            Ok((consent, requires, enrolled))
        })
        .await
        .map_err(unavailable)?;
    let mfa = MfaFacts {
        required: required || user_requires,
        available: enrolled.has_second_factor(),
    };
    Ok((consent, mfa, enrolled))
}

async fn issue_code(
    services: &Data,
    pending: &Pending,
    session: &SessionInfo,
    consent_given: bool,
    now: i64,
) -> Result<HttpResponse, Failure> {
    let settings = &services.settings;
    // 256 bits; only the hash is stored.
    let code = random_token(32);
    let family_id = uuid::Uuid::new_v4().to_string();
    let record = authorize::code_record(
        &pending.req,
        session,
        secret_hash(&code),
        family_id,
        now,
        // FAPI 2.0 §5.3.2.1: codes live at most 60 seconds.
        match pending.client.fapi2 {
            true => settings.lifetimes.code.min(60),
            false => settings.lifetimes.code,
        },
    );
    let remember = consent_given.then(|| {
        (
            session.user_id.clone(),
            pending.client.client_id.clone(),
            pending.req.consent_scopes(),
        )
    });
    let session_expiry = session.expires_at;
    services
        .db
        .run(move |c| {
            if let Some((user_id, client_id, scopes)) = remember {
                let consent = Consent {
                    user_id: &user_id,
                    client_id: &client_id,
                    scopes: &scopes,
                    at: now,
                };
                c.remember_consent(&consent)?;
            }
            c.insert_code(&record)?;
            // The client takes part in the session: it hears when the session ends.
            c.record_session_client(&SessionClient {
                sid: record.sid.clone(),
                client_id: record.client_id.clone(),
                user_id: record.user_id.clone(),
                expires_at: session_expiry,
            })
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storing an authorization code failed");
            pending.redirect_error(OAuthError::from(e), &settings.issuer)
        })?;
    Ok(authorization_response(
        &pending.target.redirect_uri,
        &[("code", code.as_str())],
        pending.target.state.as_deref(),
        &settings.issuer,
        pending.target.form_post,
    ))
}

async fn authorize_get(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let pending = load_pending(&services, Params::parse_query(req.query_string())).await?;
    let session = current_session(&services, &req).await?;
    Ok(proceed(
        &services,
        &req,
        &pending,
        session.as_ref().map(|(_, s)| s),
        false,
        false,
    )
    .await)
}

/// OIDC Core §3.1.2.1: the endpoint also accepts the request as a form post.
async fn authorize_post(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let pending = load_pending(&services, read_form(&req, payload).await).await?;
    let session = current_session(&services, &req).await?;
    Ok(proceed(
        &services,
        &req,
        &pending,
        session.as_ref().map(|(_, s)| s),
        false,
        false,
    )
    .await)
}

/// Reads a posted form (login, consent, logout) and checks its CSRF token.
pub async fn read_page_form(
    services: &Data,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Params, Failure> {
    let form = read_form(req, payload).await.map_err(|e| {
        bad_request_page(PageError::Malformed(e.description.unwrap_or_default()).message())
    })?;
    cookies::check_csrf(req, &services.settings, &services.sealer, &form)?;
    Ok(form)
}

/// The consent form's answer.
async fn consent(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_page_form(&services, &req, payload).await?;
    let pending = load_pending(
        &services,
        Params::parse_query(form.get("request").unwrap_or("")),
    )
    .await?;
    match form.get("decision") {
        Some("allow") => {}
        Some("deny") => {
            return Err(pending.redirect_error(
                OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
                &services.settings.issuer,
            ))
        }
        _ => {
            return Err(bad_request_page(
                "The form did not say whether you allow or deny the request.",
            ))
        }
    }
    let session = current_session(&services, &req).await?;
    let session = session.as_ref().map(|(_, s)| s);
    let fresh = session.is_some_and(|s| {
        login_proof_valid(&services, &pending, s, form.get("login_proof"), unix_now())
    });
    Ok(proceed(&services, &req, &pending, session, fresh, true).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_plain_words() {
        assert_eq!(describe_scope("openid"), "Confirm who you are");
        assert_eq!(describe_scope("profile"), "Your name and username");
        assert_eq!(describe_scope("email"), "Your e-mail address");
        assert_eq!(
            describe_scope("offline_access"),
            "Stay signed in to this app (access while you are away)"
        );
        assert_eq!(describe_scope("calendar:read"), "calendar:read");
    }
}

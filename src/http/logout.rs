//! RP-Initiated Logout 1.0 at the `end_session_endpoint`: HTTP in, `oauth::logout`
//! decisions, a confirmation page, the logged-out page or a redirect out.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{bad_request_page, current_session, unavailable};
use super::cookies::{self, Csrf};
use super::errors::{redirect_response, Failure};
use super::frontchannel;
use super::pages;
use super::token::read_form;
use super::Data;
use crate::app::sessions;
use crate::crypto::secret_hash;
use crate::db::unix_now;
use crate::oauth::logout::{self, LogoutRequest, LogoutStep};
use crate::oauth::params::Params;
use crate::oauth::store::logout::SessionClient;
use crate::oauth::tokens::verify_id_token_hint;

pub const PATH: &str = "/logout";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(logout_get))
        .route(PATH, web::post().to(logout_post));
}

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    client_name: Option<&'a str>,
    username: Option<&'a str>,
    action: String,
    csrf_token: &'a str,
    request: &'a str,
    ui: super::ui::Ui,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage {
    ui: super::ui::Ui,
}

async fn logout_get(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let params = Params::parse_query(req.query_string()).map_err(malformed)?;
    handle(&services, &req, params, false).await
}

/// A client may post its logout request; the confirmation form posts here too, with its
/// CSRF token and the original request in `request`.
async fn logout_post(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_form(&req, payload).await.map_err(malformed)?;
    if form.get(cookies::CSRF_FIELD).is_none() && form.get("request").is_none() {
        return handle(&services, &req, form, false).await;
    }
    cookies::check_csrf(&req, &services.settings, &services.sealer, &form)?;
    let params = Params::parse_query(form.get("request").unwrap_or("")).map_err(malformed)?;
    let confirmed = form.get("decision") == Some("logout");
    handle(&services, &req, params, confirmed).await
}

/// Ends the browser's session (whatever its cookie names, even a session that no longer
/// counts) and wakes the back-channel delivery; the clients of a live session come back.
async fn end_session(
    services: &Data,
    req: &HttpRequest,
    live: Option<&crate::oauth::store::SessionInfo>,
) -> Result<Vec<(crate::domain::Client, SessionClient)>, Failure> {
    let Some(cookie) = cookies::session(req, &services.settings) else {
        return Ok(Vec::new());
    };
    let hash = secret_hash(&cookie);
    let actor = super::context(services, req).actor("user");
    let live = live.map(|s| (s.sid.clone(), s.user_id.clone()));
    let ended = services
        .db
        .run(move |c| {
            let session = live.as_ref().map(|(sid, u)| (sid.as_str(), u.as_str()));
            Ok(sessions::end_session(c, &actor, &hash, session, unix_now()))
        })
        .await
        .map_err(unavailable)?
        .map_err(|e| match e {
            crate::app::AppError::Store(e) => unavailable(e),
            other => bad_request_page(other.to_string()),
        })?;
    services.logout_wake.now();
    Ok(ended)
}

fn malformed(e: crate::oauth::error::OAuthError) -> Failure {
    bad_request_page(format!(
        "The sign-out request is not valid: {}.",
        e.description.unwrap_or_default()
    ))
}

async fn handle(
    services: &Data,
    req: &HttpRequest,
    params: Params,
    confirmed: bool,
) -> Result<HttpResponse, Failure> {
    let settings = &services.settings;
    let now = unix_now();
    let lr = LogoutRequest::parse(&params);
    let keys = services.keys.current();
    let hint = lr
        .id_token_hint
        .as_deref()
        .and_then(|t| verify_id_token_hint(&keys, t, &settings.issuer, now));
    let client_id = logout::client_id(&lr, hint.as_ref())
        .map_err(|_| bad_request_page("The sign-out request names two different applications."))?;
    let client = match client_id {
        Some(id) => services.client(id).await.map_err(unavailable)?,
        None => None,
    };
    // A pairwise client's hint names its own `sub`; the session knows the user's id.
    let hint = hint.map(|mut h| {
        if let Some(user) = client
            .as_deref()
            .and_then(|c| crate::oauth::subject::user_for(&services.sealer, c, &h.sub))
        {
            h.sub = user;
        }
        h
    });
    let target = logout::redirect_uri(&lr, client.as_deref());
    let session = current_session(services, req).await?;
    match logout::decide(hint.as_ref(), session.as_ref().map(|(_, s)| s), confirmed) {
        LogoutStep::Confirm => {
            let csrf = Csrf::for_page(req, settings, &services.sealer);
            let query = params.to_query();
            let page = ConfirmPage {
                client_name: client.as_deref().map(|c| c.name.as_str()),
                username: session.as_ref().map(|(_, s)| s.username.as_str()),
                action: settings.url(PATH),
                csrf_token: &csrf.token,
                request: &query,
                ui: super::ui::Ui::of(services, req, params.get("ui_locales")),
            };
            let targets: Vec<String> = target.and_then(cookies::form_target).into_iter().collect();
            let mut res = pages::render(StatusCode::OK, &page, &targets);
            csrf.set_on(&mut res);
            Ok(res)
        }
        LogoutStep::End => {
            let ended = end_session(services, req, session.as_ref().map(|(_, s)| s)).await?;
            let frames = frontchannel::frames(&settings.issuer, &ended);
            let mut res = match (frames.is_empty(), target) {
                (true, Some(uri)) => redirect_response(uri, &[], lr.state.as_deref(), None),
                (true, None) => pages::render(
                    StatusCode::OK,
                    &LoggedOutPage {
                        ui: super::ui::Ui::of(services, req, params.get("ui_locales")),
                    },
                    &[],
                ),
                (false, target) => {
                    let state: Vec<_> = lr
                        .state
                        .as_deref()
                        .map(|s| ("state", s))
                        .into_iter()
                        .collect();
                    let next = target.and_then(|uri| super::errors::redirect_location(uri, &state));
                    frontchannel::page(&frames, next.as_deref())
                }
            };
            cookies::add(&mut res, cookies::clear_session_cookie(settings));
            Ok(res)
        }
    }
}

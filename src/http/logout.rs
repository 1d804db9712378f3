//! RP-Initiated Logout 1.0 at the `end_session_endpoint`: HTTP in, `oauth::logout`
//! decisions, a confirmation page, the logged-out page or a redirect out.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{bad_request_page, current_session, unavailable};
use super::cookies::{self, Csrf};
use super::errors::{redirect_response, Failure};
use super::pages;
use super::token::read_form;
use super::Data;
use crate::crypto::secret_hash;
use crate::db::unix_now;
use crate::oauth::logout::{self, LogoutRequest, LogoutStep};
use crate::oauth::params::Params;
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
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage;

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
            };
            let targets: Vec<String> = target.and_then(cookies::form_target).into_iter().collect();
            let mut res = pages::render(StatusCode::OK, &page, &targets);
            csrf.set_on(&mut res);
            Ok(res)
        }
        LogoutStep::End => {
            // Delete whatever the cookie names, even a session that no longer counts.
            if let Some(cookie) = cookies::session(req, settings) {
                let hash = secret_hash(&cookie);
                services
                    .db
                    .run(move |c| c.delete_session(&hash))
                    .await
                    .map_err(unavailable)?;
            }
            let mut res = match target {
                Some(uri) => redirect_response(uri, &[], lr.state.as_deref(), None),
                None => pages::render(StatusCode::OK, &LoggedOutPage, &[]),
            };
            cookies::add(&mut res, cookies::clear_session_cookie(settings));
            Ok(res)
        }
    }
}

//! The front page (`GET /`: issuer, discovery and JWKS links, the admin pages for a
//! signed-in administrator) and first-run setup (`/setup?token=…`: the first
//! administrator, created in the browser with the token `gatehouse serve` logged).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{bad_request_page, current_session, read_page_form, unavailable};
use super::cookies::Csrf;
use super::errors::Failure;
use super::{pages, Data};
use crate::app::setup;
use crate::app::AppError;
use crate::db::unix_now;

pub const PATH: &str = "/setup";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(front_page))
        .route(PATH, web::get().to(setup_page))
        .route(PATH, web::post().to(setup_post));
}

#[derive(Template)]
#[template(path = "index.html")]
struct FrontPage<'a> {
    issuer: &'a str,
    discovery: String,
    jwks: String,
    admin: Option<String>,
    ui: super::ui::Ui,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    action: String,
    csrf_token: &'a str,
    token: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    ui: super::ui::Ui,
}

async fn front_page(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let session = current_session(&services, &req).await?;
    let is_admin = match session {
        Some((_, s)) => services
            .db
            .run(move |c| c.find_user(&s.user_id))
            .await
            .map_err(unavailable)?
            .is_some_and(|u| u.is_admin && !u.disabled),
        None => false,
    };
    let settings = &services.settings;
    let page = FrontPage {
        issuer: &settings.issuer,
        discovery: settings.url("/.well-known/openid-configuration"),
        jwks: settings.url(super::discovery::PATH_JWKS),
        admin: is_admin.then(|| settings.url("/admin")),
        ui: super::ui::Ui::of(&services, &req, None),
    };
    Ok(pages::render(StatusCode::OK, &page, &[]))
}

/// The same answer for a token that never existed, was used, expired, or when an
/// administrator exists: the page tells nothing more.
fn gone() -> Failure {
    Failure::page(
        StatusCode::NOT_FOUND,
        "Setup link not valid",
        "This setup link cannot be used: it was used already, it expired, or an \
         administrator exists. Ask whoever runs this server, or create an administrator \
         with `gatehouse users add --admin`.",
    )
}

fn render(
    services: &Data,
    req: &HttpRequest,
    status: StatusCode,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    let page = SetupPage {
        action: services.settings.url(PATH),
        csrf_token: &csrf.token,
        token,
        username,
        error,
        ui: super::ui::Ui::of(services, req, None),
    };
    let mut res = pages::render(status, &page, &[]);
    csrf.set_on(&mut res);
    res
}

async fn usable(services: &Data, token: &str) -> Result<bool, Failure> {
    let t = token.to_string();
    let now = unix_now();
    services
        .db
        .run(move |c| {
            setup::token_usable(c, &t, now).map_err(|e| match e {
                AppError::Store(e) => e,
                other => crate::oauth::store::StoreError::Backend(other.to_string()),
            })
        })
        .await
        .map_err(unavailable)
}

async fn setup_page(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let query = crate::oauth::params::Params::parse_query(req.query_string())
        .map_err(|_| bad_request_page("The setup link is malformed.".to_string()))?;
    let token = query.get("token").unwrap_or("").to_string();
    if token.is_empty() || !usable(&services, &token).await? {
        return Err(gone());
    }
    Ok(render(&services, &req, StatusCode::OK, &token, "", None))
}

async fn setup_post(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_page_form(&services, &req, payload).await?;
    let token = form.get("token").unwrap_or("").to_string();
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    if !usable(&services, &token).await? {
        return Err(gone());
    }
    let invalid = |m: String| render(&services, &req, StatusCode::OK, &token, &username, Some(&m));
    let user = match crate::app::users::parse_new_user(&username, password, None, None, true) {
        Ok(u) => u,
        Err(e) => return Ok(invalid(e.to_string())),
    };
    let secret = user.password.clone();
    let wait = std::time::Duration::from_secs(5);
    let Some(phc) = crate::startup::hash_bounded(&services, wait, move || secret.hash()).await
    else {
        return Err(unavailable(crate::oauth::store::StoreError::Unavailable(
            "password hashing is saturated".into(),
        )));
    };
    let actor = super::context(&services, &req).actor("setup");
    let (t, now) = (token.clone(), unix_now());
    let created = services
        .db
        .run(move |c| Ok(setup::create_first_admin(c, &actor, &t, &user, phc, now)))
        .await
        .map_err(unavailable)?;
    match created {
        Ok(_) => Ok(super::admin_pages::see_other(
            &services.settings.url("/login?return_to=/admin"),
        )),
        Err(AppError::Conflict(m)) => Ok(invalid(m)),
        Err(AppError::Store(e)) => Err(unavailable(e)),
        Err(AppError::NotFound(_)) => Err(gone()),
        Err(other) => Ok(invalid(other.to_string())),
    }
}

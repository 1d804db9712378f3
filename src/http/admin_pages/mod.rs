//! The admin web pages under `/admin`: clients, users, protected resources and the recent
//! audit log, for a user created with `--admin` who signed in through gatehouse's own
//! login page. Changes go
//! through the same operations as the admin API (the same validation, the same audit
//! events), with the actor `user:<username>` and the caller's address.
//!
//! Every page carries the login pages' security headers, plus `script-src 'self'` for
//! `/static/admin.js` (the copy buttons); every form carries the CSRF token.

pub mod audit;
pub mod clients;
pub mod factors;
pub mod resources;
pub mod signin;
pub mod users;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::cookies::{self, Csrf};
use super::errors::{ApiError, Failure};
use super::pages;
use super::Data;
use crate::crypto::secret_hash;
use crate::db::unix_now;
use crate::oauth::params::Params;
use crate::oauth::store::StoreError;
use signin::ReturnTo;

pub const PREFIX: &str = "/admin";
pub const SCRIPT_PATH: &str = "/static/admin.js";
const STYLE_PATH: &str = "/static/style.css";

/// The copy buttons' script, compiled in like the stylesheet.
pub const ADMIN_JS: &str = include_str!("../../../static/admin.js");

/// Registered after the admin API, whose `/admin/api` scope must come first.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(SCRIPT_PATH, web::get().to(script)).service(
        web::scope(PREFIX)
            .route("", web::get().to(index))
            .route("/", web::get().to(index))
            .service(
                web::resource("/clients")
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::create)),
            )
            .route("/clients/new", web::get().to(clients::new_form))
            .service(
                web::resource("/clients/{client_id}")
                    .route(web::get().to(clients::edit_form))
                    .route(web::post().to(clients::update)),
            )
            .route(
                "/clients/{client_id}/rotate-secret",
                web::post().to(clients::rotate_secret),
            )
            .service(
                web::resource("/clients/{client_id}/delete")
                    .route(web::get().to(clients::confirm_delete))
                    .route(web::post().to(clients::delete)),
            )
            .service(
                web::resource("/users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .route("/users/new", web::get().to(users::new_form))
            .route("/users/disable", web::post().to(users::disable))
            .route("/users/enable", web::post().to(users::enable))
            .route("/users/reset-factors", web::post().to(users::reset_factors))
            .route("/users/factors", web::get().to(factors::list))
            .route("/users/factors/remove", web::post().to(factors::remove))
            .service(
                web::resource("/resources")
                    .route(web::get().to(resources::list))
                    .route(web::post().to(resources::create)),
            )
            .route("/resources/refresh", web::post().to(resources::refresh))
            .route("/resources/delete", web::post().to(resources::delete))
            .route("/audit", web::get().to(audit::list))
            .default_service(web::to(no_such_page)),
    );
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(ADMIN_JS)
}

async fn index(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    require_admin(&services, &req).await?;
    Ok(see_other(
        &services.settings.url(&format!("{PREFIX}/clients")),
    ))
}

async fn no_such_page(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    require_admin(&services, &req).await?;
    Err(Failure::page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such administration page.",
    )
    .into())
}

/// The signed-in administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user_id: String,
    pub username: String,
}

impl Admin {
    /// Who acts, as the audit log names them, from the request's address.
    pub fn actor(&self, req: &actix_web::HttpRequest) -> crate::app::Actor {
        crate::app::Actor::new(
            format!("user:{}", self.username),
            crate::http::audit::client_ip(req),
        )
    }
}

/// Why an admin page is not shown.
#[derive(Debug)]
pub enum Refusal {
    /// No session: a redirect (to this `Location`) to the login page, which comes back.
    SignIn(String),
    /// Signed in, but not as an enabled administrator.
    Forbidden { message: String, sign_in: String },
    /// Any other failure, as an HTML page.
    Page(Failure),
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Refusal::Page(f)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::SignIn(_) => f.write_str("sign-in required"),
            Refusal::Forbidden { message, .. } => f.write_str(message),
            Refusal::Page(p) => p.fmt(f),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/forbidden.html")]
struct ForbiddenPage<'a> {
    message: &'a str,
    sign_in: &'a str,
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::SignIn(_) => StatusCode::SEE_OTHER,
            Refusal::Forbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::Page(f) => f.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Refusal::SignIn(location) => see_other(location),
            Refusal::Forbidden { message, sign_in } => pages::render(
                StatusCode::FORBIDDEN,
                &ForbiddenPage { message, sign_in },
                &[],
            ),
            Refusal::Page(f) => f.error_response(),
        }
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

pub fn unavailable(e: StoreError) -> Failure {
    tracing::error!(error = %e, "storage failure");
    Failure::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The database cannot be reached right now. Try again in a moment.",
    )
}

/// An admin operation's failure that no form can show: a page with its status.
pub fn api_failure(e: ApiError) -> Failure {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible",
        s if s.is_server_error() => "Temporarily unavailable",
        _ => "Not possible",
    };
    let message = if e.status.is_server_error() {
        "Something went wrong on the server. Try again in a moment.".to_string()
    } else {
        sentence(&e.message)
    };
    Failure::page(e.status, title, message)
}

/// An error message as a sentence: a capital letter first, a full stop last.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut s: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// The login page URL that returns to `to` afterwards.
pub fn sign_in_url(services: &Data, to: &ReturnTo) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", to.as_str())
        .finish();
    services
        .settings
        .url(&format!("{}?{query}", super::authorize::PATH_LOGIN))
}

/// The signed-in administrator: without a session, a redirect to the login page (which
/// returns to this page, or for a form post to `/admin`); for a user who is disabled or
/// not an administrator, 403.
pub async fn require_admin(services: &Data, req: &HttpRequest) -> Result<Admin, Refusal> {
    let user = match cookies::session(req, &services.settings) {
        Some(cookie) => {
            let hash = secret_hash(&cookie);
            let now = unix_now();
            services
                .db
                .run(move |c| match c.session_user_id(&hash, now)? {
                    Some(id) => c.find_user(&id),
                    None => Ok(None),
                })
                .await
                .map_err(unavailable)?
        }
        None => None,
    };
    let back = ReturnTo::admin_home();
    let Some(user) = user else {
        let here = (req.method() == actix_web::http::Method::GET)
            .then(|| req.uri().path_and_query().map(|p| p.as_str()))
            .flatten()
            .and_then(ReturnTo::parse)
            .unwrap_or(back);
        return Err(Refusal::SignIn(sign_in_url(services, &here)));
    };
    let refuse = |message: String| Refusal::Forbidden {
        message,
        sign_in: sign_in_url(services, &back),
    };
    if user.disabled {
        return Err(refuse(format!(
            "The account {} is disabled. Ask another administrator for help.",
            user.username
        )));
    }
    if !user.is_admin {
        return Err(refuse(format!(
            "You are signed in as {}, who is not an administrator of gatehouse.",
            user.username
        )));
    }
    Ok(Admin {
        user_id: user.id,
        username: user.username,
    })
}

/// Reads a posted admin form and checks its CSRF token (403 without the right one).
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Params, Refusal> {
    let form = super::token::read_form(req, payload).await.map_err(|e| {
        Failure::page(
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            sentence(&e.description.unwrap_or_default()),
        )
    })?;
    let services = req
        .app_data::<Data>()
        .ok_or_else(|| unavailable(StoreError::Backend("no services".into())))?;
    cookies::check_csrf(req, &services.settings, &services.sealer, &form)?;
    Ok(form)
}

/// The query of a page request; a malformed one counts as empty.
pub fn query(req: &HttpRequest) -> Params {
    Params::parse_query(req.query_string()).unwrap_or_default()
}

/// Messages a redirect after a change may ask a page to show (`?notice=`). Only these
/// fixed texts: nothing from the query is echoed.
pub fn notice(req: &HttpRequest) -> Option<&'static str> {
    Some(match query(req).get("notice")? {
        "client-saved" => "The client was saved.",
        "client-deleted" => "The client was deleted.",
        "user-created" => "The user was created.",
        "user-disabled" => "The user was disabled; their refresh tokens were revoked.",
        "user-enabled" => "The user was enabled.",
        "factors-reset" => {
            "The user's passkeys, authenticator app and recovery codes were removed."
        }
        "factor-removed" => "The passkey or authenticator app was removed.",
        "resource-registered" => "The resource was registered.",
        "resource-refreshed" => "The resource's metadata was fetched again.",
        "resource-deleted" => "The resource was deleted.",
        _ => return None,
    })
}

/// The part of the admin pages a page is in, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Clients,
    Users,
    Resources,
    Audit,
}

pub struct NavItem {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// What every admin page shows around its content.
pub struct Layout {
    pub username: String,
    pub csrf_token: String,
    pub css: String,
    pub js: String,
    pub nav: Vec<NavItem>,
    pub logout: String,
}

/// A page under construction: its layout and the CSRF cookie to set with it.
pub struct Frame {
    pub layout: Layout,
    csrf: Csrf,
}

impl Frame {
    pub fn new(services: &Data, req: &HttpRequest, admin: &Admin, section: Section) -> Frame {
        let settings = &services.settings;
        let csrf = Csrf::for_page(req, settings, &services.sealer);
        let item = |label, path: &str, s| NavItem {
            label,
            href: settings.url(&format!("{PREFIX}{path}")),
            current: s == section,
        };
        let layout = Layout {
            username: admin.username.clone(),
            csrf_token: csrf.token.clone(),
            css: settings.url(STYLE_PATH),
            js: settings.url(SCRIPT_PATH),
            nav: vec![
                item("Clients", "/clients", Section::Clients),
                item("Users", "/users", Section::Users),
                item("Resources", "/resources", Section::Resources),
                item("Audit log", "/audit", Section::Audit),
            ],
            logout: settings.url(super::logout::PATH),
        };
        Frame { layout, csrf }
    }

    /// The layout for the page struct; the rest stays for [`Frame::respond`].
    pub fn take(self) -> (Layout, Csrf) {
        (self.layout, self.csrf)
    }
}

/// The CSP of the admin pages: the other pages' policy, which runs same-origin scripts
/// only.
pub fn csp() -> String {
    pages::csp(&[])
}

/// An admin page with the security headers and the CSRF cookie.
pub fn respond<T: Template>(status: StatusCode, page: &T, csrf: &Csrf) -> HttpResponse {
    let mut res = pages::render(status, page, &[]);
    if let Ok(v) = HeaderValue::from_str(&csp()) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    csrf.set_on(&mut res);
    res
}

/// An admin URL: `path` under `/admin`.
pub fn admin_url(services: &Data, path: &str) -> String {
    services.settings.url(&format!("{PREFIX}{path}"))
}

/// A form error and the field it is about (for `aria-invalid`), from an admin operation's
/// `field: message` text.
#[derive(Debug, Clone, Default)]
pub struct FormError {
    pub field: &'static str,
    pub message: String,
}

impl FormError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FormError {
            field,
            message: message.into(),
        }
    }

    /// Splits `field: message`; `fields` maps API field names to (form field, label).
    pub fn from_message(message: &str, fields: &[(&str, &'static str, &'static str)]) -> FormError {
        if let Some((name, rest)) = message.split_once(": ") {
            if let Some((_, field, label)) = fields.iter().find(|(n, _, _)| *n == name) {
                return FormError::new(field, format!("{label}: {}", sentence(rest)));
            }
        }
        FormError::new("", sentence(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        assert_eq!(sentence("is required"), "Is required.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn form_errors_name_the_field() {
        let fields = [("scope", "scope", "Scopes")];
        let e = FormError::from_message("scope: 'a\"b' is not a valid scope", &fields);
        assert_eq!(e.field, "scope");
        assert_eq!(e.message, "Scopes: 'a\"b' is not a valid scope.");
        let e = FormError::from_message("user 'x' already exists", &fields);
        assert_eq!(e.field, "");
        assert_eq!(e.message, "User 'x' already exists.");
    }

    #[test]
    fn the_admin_policy_allows_only_own_scripts() {
        let p = csp();
        assert!(p.contains("script-src 'self'"), "{p}");
        assert!(p.contains("default-src 'none'"), "{p}");
        assert!(!p.contains("unsafe"), "{p}");
    }
}

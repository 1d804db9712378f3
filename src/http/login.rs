//! The login form's post: throttling, password check, a new session, then on with the
//! pending authorization request (or back to the admin page the form was opened for).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin_pages::signin::{self, ReturnTo};
use super::authorize::{
    load_pending, login_page, proceed, read_page_form, unavailable, Pending, PATH_LOGIN,
};
use super::cookies;
use super::errors::Failure;
use super::Data;
use crate::crypto::secret_hash;
use crate::db::audit::AuditEvent;
use crate::db::sessions::{new_session, SessionStore};
use crate::db::throttle::{ip_key, user_key, ThrottleStore};
use crate::db::unix_now;
use crate::db::users::UserStore;
use crate::domain::user::{dummy_hash, verify_password};
use crate::oauth::params::Params;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH_LOGIN, web::post().to(login))
        .route(PATH_LOGIN, web::get().to(signin::login_form));
}

/// Where a login leads: on with the pending authorization request, or, for a login page
/// opened without one (the admin pages), back to a page of gatehouse's own.
enum Next {
    Authorize(Box<Pending>),
    Return(ReturnTo),
}

impl Next {
    fn page(
        &self,
        services: &Data,
        req: &HttpRequest,
        status: StatusCode,
        username: &str,
        error: Option<&str>,
    ) -> HttpResponse {
        match self {
            Next::Authorize(p) => login_page(services, req, p, status, username, error),
            Next::Return(to) => signin::login_page(services, req, to, status, username, error),
        }
    }

    fn client_id(&self) -> Option<&str> {
        match self {
            Next::Authorize(p) => Some(&p.client.client_id),
            Next::Return(_) => None,
        }
    }
}

/// One message for an unknown user and a wrong password, so the page does not reveal
/// which usernames exist.
pub const BAD_CREDENTIALS: &str = "The username or password is incorrect.";
const DISABLED: &str = "This account is disabled. Ask your administrator for help.";
const MISSING: &str = "Enter your username and password.";

enum Checked {
    Ok { user_id: String },
    Unknown,
    WrongPassword,
    Disabled,
}

impl Checked {
    fn reason(&self) -> &'static str {
        match self {
            Checked::Ok { .. } => "ok",
            Checked::Unknown => "unknown_user",
            Checked::WrongPassword => "wrong_password",
            Checked::Disabled => "disabled",
        }
    }
}

/// Looks the user up and verifies the password: argon2 runs for unknown users too (against
/// a dummy hash), on the blocking pool, with no database connection held.
async fn check_credentials(
    services: &Data,
    username: &str,
    password: &str,
) -> Result<Checked, Failure> {
    let name = username.to_string();
    let user = services
        .db
        .run(move |c| c.find_user_by_name(&name))
        .await
        .map_err(unavailable)?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_string();
    let verified = tokio::task::spawn_blocking(move || {
        let phc = stored.as_deref().unwrap_or_else(|| dummy_hash());
        verify_password(&password, phc)
    })
    .await
    .map_err(|_| unavailable(crate::db::StoreError::Blocking))?;
    Ok(match user {
        None => Checked::Unknown,
        Some(_) if !verified => Checked::WrongPassword,
        // Said only after the right password, so it reveals nothing to a guesser.
        Some(u) if u.disabled => Checked::Disabled,
        Some(u) => Checked::Ok { user_id: u.id },
    })
}

async fn login(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_page_form(&req, payload).await?;
    let next = match (form.get("request"), form.get("return_to")) {
        (None, Some(raw)) => Next::Return(ReturnTo::parse(raw).ok_or_else(signin::bad_return_to)?),
        (request, _) => Next::Authorize(Box::new(
            load_pending(&services, Params::parse_query(request.unwrap_or(""))).await?,
        )),
    };
    let username = form.get("username").map(str::trim).unwrap_or("");
    let Some(password) = form.get("password").filter(|_| !username.is_empty()) else {
        return Ok(next.page(&services, &req, StatusCode::OK, username, Some(MISSING)));
    };
    let ip = super::audit::client_ip(&req);
    let keys: Vec<String> = std::iter::once(user_key(username))
        .chain(ip.as_deref().map(ip_key))
        .collect();
    let now = unix_now();
    let k = keys.clone();
    let wait = services
        .db
        .run(move |c| c.login_wait(&k, now))
        .await
        .map_err(unavailable)?;
    if wait > 0 {
        return Ok(throttled(&services, &req, &next, username, wait));
    }

    let checked = check_credentials(&services, username, password).await?;
    let user_id = match checked {
        Checked::Ok { user_id } => user_id,
        failed => {
            let k = keys.clone();
            let now = unix_now();
            services
                .db
                .run(move |c| {
                    for key in &k {
                        c.record_login_failure(key, now)?;
                    }
                    Ok(())
                })
                .await
                .map_err(unavailable)?;
            let mut event = AuditEvent::new("anonymous", "login.failure", now)
                .target(username.chars().take(64).collect::<String>())
                .detail(
                    serde_json::json!({ "reason": failed.reason(), "client_id": next.client_id() }),
                );
            if let Some(ip) = &ip {
                event = event.ip(ip.clone());
            }
            super::audit::record(&services, event).await;
            let message = match failed {
                Checked::Disabled => DISABLED,
                _ => BAD_CREDENTIALS,
            };
            return Ok(next.page(&services, &req, StatusCode::OK, username, Some(message)));
        }
    };

    // A new session (never the old cookie's: no session fixation); the old one, if
    // any, is deleted whether or not it still counts.
    let old = cookies::get(&req, cookies::SESSION).map(|c| secret_hash(&c));
    let now = unix_now();
    let (cookie, record) =
        new_session(&user_id, &["pwd"], now, services.settings.lifetimes.session);
    let user = user_key(username);
    let session = services
        .db
        .run(move |c| {
            c.clear_login_failures(&user)?;
            if let Some(old) = old {
                c.delete_session(&old)?;
            }
            c.insert_session(&record)?;
            c.find_session(&record.id_hash, now)
        })
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            unavailable(crate::db::StoreError::Corrupt(
                "a new session vanished".into(),
            ))
        })?;
    let mut res = match &next {
        Next::Authorize(pending) => {
            proceed(&services, &req, pending, Some(&session), true, false).await
        }
        Next::Return(to) => signin::back_to(&services, to),
    };
    cookies::add(
        &mut res,
        cookies::session_cookie(&services.settings, cookie.secret()),
    );
    Ok(res)
}

fn throttled(
    services: &Data,
    req: &HttpRequest,
    next: &Next,
    username: &str,
    wait: i64,
) -> HttpResponse {
    let message = format!("Too many failed sign-in attempts. Wait {wait} seconds, then try again.");
    let mut res = next.page(
        services,
        req,
        StatusCode::TOO_MANY_REQUESTS,
        username,
        Some(&message),
    );
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait),
    );
    res
}

//! The login form's post, over `app::login`: the attempt counted, the password checked,
//! a new session, then on with the pending authorization request (or back to the admin page the form was opened for).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin_pages::signin::{self, ReturnTo};
use super::authorize::{
    load_pending, login_page, proceed, read_page_form, unavailable, LoginFor, Pending, PATH_LOGIN,
};
use super::cookies;
use super::errors::Failure;
use super::Data;
use crate::app::login::{self, Attempt, Checked, Gate};
use crate::app::AppError;
use crate::db::unix_now;
use crate::oauth::params::Params;
use crate::oauth::store::{Amr, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH_LOGIN, web::post().to(login))
        .route(PATH_LOGIN, web::get().to(signin::login_form));
}

/// Where a login leads: on with the pending authorization request, or, for a login page
/// opened without one (the admin pages, the account page), back to a page of
/// gatehouse's own.
pub enum Next {
    Authorize(Box<Pending>),
    Return(ReturnTo),
}

impl Next {
    /// What a posted sign-in form (password, second factor, passkey) carries on.
    pub async fn from_form(services: &Data, form: &Params) -> Result<Next, Failure> {
        Ok(match (form.get("request"), form.get("return_to")) {
            (None, Some(raw)) => {
                Next::Return(ReturnTo::parse(raw).ok_or_else(signin::bad_return_to)?)
            }
            (request, _) => Next::Authorize(Box::new(
                load_pending(services, Params::parse_query(request.unwrap_or(""))).await?,
            )),
        })
    }

    pub fn page(
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

    pub fn client_id(&self) -> Option<&str> {
        match self {
            Next::Authorize(p) => Some(&p.client.client_id),
            Next::Return(_) => None,
        }
    }

    /// A sign-in attempt by `username` from the request's address, for this client.
    pub fn attempt(&self, username: &str, ctx: &super::context::RequestContext) -> Attempt {
        Attempt {
            username: username.to_string(),
            ip: ctx.client_ip.clone(),
            client_id: self.client_id().map(str::to_string),
        }
    }

    /// Whether the client the sign-in is for requires a second factor.
    pub fn client_requires_mfa(&self) -> bool {
        matches!(self, Next::Authorize(p) if p.client.openid.require_mfa)
    }

    /// What the sign-in pages carry on, and whose name they show.
    pub fn carry(&self) -> LoginFor<'_> {
        match self {
            Next::Authorize(p) => LoginFor {
                client_name: &p.client.name,
                request: &p.query,
                return_to: None,
                form_targets: p.form_targets(),
            },
            Next::Return(to) => LoginFor {
                client_name: signin::name_for(to),
                request: "",
                return_to: Some(to.as_str()),
                form_targets: Vec::new(),
            },
        }
    }
}

/// One message for an unknown user and a wrong password, so the page does not reveal
/// which usernames exist.
pub const BAD_CREDENTIALS: &str = "The username or password is incorrect.";
const DISABLED: &str = "This account is disabled. Ask your administrator for help.";
const MISSING: &str = "Enter your username and password.";

/// Looks the user up and verifies the password: argon2 runs for unknown users too, on
/// the blocking pool, with no database connection held.
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
    let password = password.to_string();
    let wait = std::time::Duration::from_secs(2);
    crate::startup::hash_bounded(services, wait, move || {
        login::check_password(user, &password)
    })
    .await
    .ok_or_else(busy)
}

async fn login(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let form = read_page_form(&services, &req, payload).await?;
    let next = Next::from_form(&services, &form).await?;
    let username = form.get("username").map(str::trim).unwrap_or("");
    let Some(password) = form.get("password").filter(|_| !username.is_empty()) else {
        return Ok(next.page(&services, &req, StatusCode::OK, username, Some(MISSING)));
    };
    let attempt = next.attempt(username, &ctx);
    let count = match admit(&services, &attempt, ctx.now).await? {
        Gate::Wait(wait) => {
            services.metrics.login("throttled");
            return Ok(throttled(&services, &req, &next, username, wait));
        }
        Gate::Open(count) => count,
    };
    let user = match check_credentials(&services, username, password).await? {
        Checked::Ok(user) => user,
        failed => {
            let message = record_failure(&services, &attempt, failed, count).await?;
            return Ok(next.page(&services, &req, StatusCode::OK, username, Some(message)));
        }
    };
    // A person with a second factor is asked for it; one who must have one and has
    // none sets one up now.
    let user_id = user.id.clone();
    let enrolled = services
        .db
        .run(move |c| crate::app::factors::enrolled(c, &user_id).map_err(store_error))
        .await
        .map_err(unavailable)?;
    let required =
        services.settings.outbound.require_mfa || user.require_mfa || next.client_requires_mfa();
    if enrolled.has_second_factor() || required {
        let step = super::mfa::Step::after_password(&user, ctx.now);
        let ok = StatusCode::OK;
        return Ok(super::mfa::ask_next(
            &services, &req, &next, &step, &enrolled, ok, None,
        ));
    }
    finish_login(&services, &req, &next, attempt, *user, vec![Amr::Pwd]).await
}

/// Counts an attempt before anything is checked.
pub async fn admit(services: &Data, attempt: &Attempt, now: i64) -> Result<Gate, Failure> {
    let a = attempt.clone();
    services
        .db
        .run(move |c| login::admit(c, &a, now).map_err(store_error))
        .await
        .map_err(unavailable)
}

/// Ends a successful sign-in: a new session with the methods used (the browser's old
/// one ended), then on with the request or back to the page the sign-in was for.
pub async fn finish_login(
    services: &Data,
    req: &HttpRequest,
    next: &Next,
    attempt: Attempt,
    user: crate::domain::User,
    amr: Vec<Amr>,
) -> Result<HttpResponse, Failure> {
    let old = cookies::session(req, &services.settings);
    let lifetime = services.settings.lifetimes.session;
    let (cookie, session) = services
        .db
        .run(move |c| {
            login::succeed(
                c,
                &attempt,
                &user,
                &amr,
                old.as_deref(),
                lifetime,
                unix_now(),
            )
            .map_err(store_error)
        })
        .await
        .map_err(unavailable)?;
    services.metrics.login("success");
    let mut res = match next {
        Next::Authorize(pending) => {
            proceed(services, req, pending, Some(&session), true, false).await
        }
        Next::Return(to) => signin::back_to(services, to),
    };
    cookies::add(
        &mut res,
        cookies::session_cookie(&services.settings, cookie.secret()),
    );
    cookies::rotate_csrf(&mut res, &services.settings, &services.sealer);
    Ok(res)
}

/// Records a failed attempt (counted, audited) and says what the person is told.
pub async fn record_failure(
    services: &Data,
    attempt: &Attempt,
    failed: Checked,
    count: i32,
) -> Result<&'static str, Failure> {
    services.metrics.login(failed.reason());
    let message = match failed {
        Checked::Disabled => DISABLED,
        _ => BAD_CREDENTIALS,
    };
    let a = attempt.clone();
    services
        .db
        .run(move |c| login::fail(c, &a, &failed, count, unix_now()).map_err(store_error))
        .await
        .map_err(unavailable)?;
    Ok(message)
}

/// Every hashing permit stayed taken: a 503 with `Retry-After`, before any argon2 work.
fn busy() -> Failure {
    Failure::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "Too many people are signing in right now. Try again in a moment.",
    )
}

/// The login operations fail only in storage; anything else would be a bug.
pub fn store_error(e: AppError) -> StoreError {
    match e {
        AppError::Store(s) => s,
        other => StoreError::Backend(other.to_string()),
    }
}

pub fn throttled(
    services: &Data,
    req: &HttpRequest,
    next: &Next,
    username: &str,
    wait: i64,
) -> HttpResponse {
    let message = "Too many failed sign-in attempts. Wait {} seconds, then try again.".replacen(
        "{}",
        &wait.to_string(),
        1,
    );
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

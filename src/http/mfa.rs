//! The second step of a sign-in: after the password, or for a session that must be
//! stepped up (the client, the user or the operator requires more, or the request asks
//! for the multi-factor `acr`). The step is carried between pages sealed and bound to
//! the request it is for, so no half-done sign-in is stored anywhere; the session is
//! made only once the second factor is proved.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{read_page_form, unavailable, LoginFor};
use super::cookies::Csrf;
use super::errors::Failure;
use super::login::{admit, finish_login, store_error, Next};
use super::passkeys::{new_challenge, verify_answer, Challenge};
use super::{pages, Data};
use crate::app::factors::{self, Enrolled};
use crate::app::login::{self, Attempt, Checked, Gate};
use crate::app::Actor;
use crate::crypto::{b64url, b64url_decode, Purpose, Sealer};
use crate::db::unix_now;
use crate::domain::{totp, User};
use crate::oauth::store::{Amr, SessionInfo};

pub const PATH_SECOND_FACTOR: &str = "/login/second-factor";
/// Seconds between the password and the second factor.
const STEP_TTL: i64 = 600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH_SECOND_FACTOR, web::post().to(second_factor));
}

/// A sign-in half done: who, and with which methods so far.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Step {
    user_id: String,
    username: String,
    amr: Vec<Amr>,
    at: i64,
}

impl Step {
    pub fn after_password(user: &User, now: i64) -> Step {
        Step {
            user_id: user.id.clone(),
            username: user.username.clone(),
            amr: vec![Amr::Pwd],
            at: now,
        }
    }

    /// A signed-in person asked for more than their session proved.
    pub fn step_up(session: &SessionInfo, now: i64) -> Step {
        Step {
            user_id: session.user_id.clone(),
            username: session.username.clone(),
            amr: session.amr.clone(),
            at: now,
        }
    }

    fn seal(&self, sealer: &Sealer, bound: &str) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        b64url(&sealer.seal(Purpose::PendingLogin, &json, bound.as_bytes()))
    }

    fn open(sealer: &Sealer, token: &str, bound: &str, now: i64) -> Option<Step> {
        let raw = sealer.open(
            Purpose::PendingLogin,
            &b64url_decode(token)?,
            bound.as_bytes(),
        )?;
        let step: Step = serde_json::from_slice(&raw).ok()?;
        (now - step.at < STEP_TTL).then_some(step)
    }

    /// The methods once `more` is proved too.
    fn with(&self, more: &[Amr]) -> Vec<Amr> {
        let mut amr = self.amr.clone();
        for a in more.iter().chain([&Amr::Mfa]) {
            if !amr.contains(a) {
                amr.push(*a);
            }
        }
        amr
    }
}

/// What binds a step to the sign-in it belongs to.
fn bound(carry: &LoginFor) -> String {
    format!("{}|{}", carry.request, carry.return_to.unwrap_or(""))
}

/// An authenticator app to set up, for a person who must have a second factor.
struct Setup {
    qr_svg: String,
    secret: String,
    sealed: String,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    client_name: &'a str,
    action: String,
    passkey_script: &'a str,
    csrf_token: &'a str,
    request: &'a str,
    return_to: Option<&'a str>,
    pending: String,
    totp: bool,
    recovery: bool,
    passkey: Option<(Challenge, String, String)>,
    setup: Option<Setup>,
    error: Option<&'a str>,
    ui: super::ui::Ui,
}

/// The TOTP set-up of a person with no second factor: a new secret, as QR code and text.
fn setup_for(services: &Data, step: &Step) -> Setup {
    let (secret, sealed) = factors::new_totp_secret(&services.sealer, &step.user_id);
    let issuer = super::passkeys::relying_party(&services.settings).id;
    let uri = totp::otpauth_uri(&issuer, &step.username, &secret);
    Setup {
        qr_svg: super::qr::svg(&uri),
        secret: grouped(&totp::base32(&secret)),
        sealed,
    }
}

/// Base32 in groups of four, easier to type.
fn grouped(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The second-factor page: the ways this person can prove it, or, when they have
/// none and must, the set-up of an authenticator app.
pub fn ask(
    services: &Data,
    req: &HttpRequest,
    carry: &LoginFor,
    step: &Step,
    enrolled: &Enrolled,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    let has = enrolled.has_second_factor();
    let passkey = (!enrolled.passkeys.is_empty()).then(|| {
        let purpose = format!("second:{}", step.user_id);
        (
            new_challenge(&services.sealer, &purpose, unix_now()),
            super::passkeys::relying_party(&services.settings).id,
            enrolled.passkey_ids().join(","),
        )
    });
    let page = SecondFactorPage {
        client_name: carry.client_name,
        action: services.settings.url(PATH_SECOND_FACTOR),
        passkey_script: super::passkeys::PASSKEY_SCRIPT_PATH,
        csrf_token: &csrf.token,
        request: carry.request,
        return_to: carry.return_to,
        pending: step.seal(&services.sealer, &bound(carry)),
        totp: enrolled.totp.is_some(),
        recovery: enrolled.recovery_left > 0,
        passkey,
        setup: (!has).then(|| setup_for(services, step)),
        error,
        ui: super::ui::Ui::of(
            services,
            req,
            super::ui::Ui::locales_of(carry.request).as_deref(),
        ),
    };
    let mut res = pages::render(status, &page, &carry.form_targets);
    csrf.set_on(&mut res);
    res
}

/// Asks for the second step of a sign-in that `next` carries on.
pub fn ask_next(
    services: &Data,
    req: &HttpRequest,
    next: &Next,
    step: &Step,
    enrolled: &Enrolled,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let carry = next.carry();
    ask(services, req, &carry, step, enrolled, status, error)
}

const WRONG_CODE: &str =
    "That code is not right. Enter the code your app shows now, or a recovery code.";
const EXPIRED: &str = "This sign-in took too long. Sign in again.";

/// `POST /login/second-factor`: a code, a recovery code, a passkey, or the first code of
/// an authenticator app being set up.
async fn second_factor(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let form = read_page_form(&services, &req, payload).await?;
    let next = Next::from_form(&services, &form).await?;
    let carry = next.carry();
    let Some(step) = form
        .get("pending")
        .and_then(|t| Step::open(&services.sealer, t, &bound(&carry), ctx.now))
    else {
        return Ok(next.page(&services, &req, StatusCode::OK, "", Some(EXPIRED)));
    };
    let attempt = next.attempt(&step.username, &ctx);
    let user_id = step.user_id.clone();
    let enrolled = services
        .db
        .run(move |c| factors::enrolled(c, &user_id).map_err(store_error))
        .await
        .map_err(unavailable)?;
    let proved = if form.get("credential_id").is_some() {
        let purpose = format!("second:{}", step.user_id);
        let expected = Some(step.user_id.clone());
        verify_answer(&services, &form, &purpose, false, expected, ctx.now)
            .await?
            .map(|(_, amr)| amr)
    } else {
        match typed_code(&services, &form, &step, &enrolled, &attempt, ctx.now).await? {
            Ok(proved) => proved,
            Err(wait) => {
                let m = "Too many wrong codes. Wait {} seconds, then try again.".replacen(
                    "{}",
                    &wait.to_string(),
                    1,
                );
                let status = StatusCode::TOO_MANY_REQUESTS;
                return Ok(ask(
                    &services,
                    &req,
                    &carry,
                    &step,
                    &enrolled,
                    status,
                    Some(&m),
                ));
            }
        }
    };
    let amr = match proved {
        Ok(amr) => step.with(&amr),
        Err(message) => {
            let status = StatusCode::OK;
            return Ok(ask(
                &services,
                &req,
                &carry,
                &step,
                &enrolled,
                status,
                Some(&message),
            ));
        }
    };
    let user_id = step.user_id.clone();
    let user = services
        .db
        .run(move |c| c.find_user(&user_id))
        .await
        .map_err(unavailable)?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Ok(next.page(&services, &req, StatusCode::OK, "", Some(EXPIRED)));
    };
    finish_login(&services, &req, &next, attempt, user, amr).await
}

/// A typed code, counted against the account like a password: the methods it proved,
/// or what the person is told; `Err` with the seconds to wait when throttled.
async fn typed_code(
    services: &Data,
    form: &crate::oauth::params::Params,
    step: &Step,
    enrolled: &Enrolled,
    attempt: &Attempt,
    now: i64,
) -> Result<Result<Result<Vec<Amr>, String>, i64>, Failure> {
    let count = match admit(services, attempt, now).await? {
        Gate::Wait(wait) => {
            services.metrics.login("throttled");
            return Ok(Err(wait));
        }
        Gate::Open(count) => count,
    };
    if let Some(amr) = check_code(services, form, step, enrolled, now).await? {
        return Ok(Ok(Ok(vec![amr])));
    }
    let checked = Checked::WrongSecondFactor;
    services.metrics.login(checked.reason());
    let a = attempt.clone();
    services
        .db
        .run(move |c| login::fail(c, &a, &checked, count, now).map_err(store_error))
        .await
        .map_err(unavailable)?;
    Ok(Ok(Err(WRONG_CODE.to_string())))
}

/// A typed code: the first code of an app being set up (only for a person with no
/// second factor yet), else the current code or a recovery code.
async fn check_code(
    services: &Data,
    form: &crate::oauth::params::Params,
    step: &Step,
    enrolled: &Enrolled,
    now: i64,
) -> Result<Option<Amr>, Failure> {
    let code = form.get("code").unwrap_or("").to_string();
    let sealer = services.sealer.clone();
    let user_id = step.user_id.clone();
    let setup = form
        .get("totp_secret")
        .filter(|_| !enrolled.has_second_factor())
        .map(str::to_string);
    let actor = Actor::new(format!("user:{}", step.username), None);
    services
        .db
        .run(move |c| {
            let result = match &setup {
                Some(sealed) => match factors::open_totp_form(&sealer, &user_id, sealed) {
                    Some(secret) => {
                        factors::enrol_totp(c, &sealer, &actor, &user_id, &secret, &code, now)
                            .map(|()| Some(Amr::Otp))
                    }
                    None => Ok(None),
                },
                None => factors::check_code(c, &sealer, &user_id, &code, now),
            };
            match result {
                Ok(found) => Ok(found),
                Err(crate::app::AppError::Invalid(_)) => Ok(None),
                Err(e) => Err(store_error(e)),
            }
        })
        .await
        .map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_opens_only_for_its_sign_in_and_in_time() {
        let sealer = Sealer::from_secret("test");
        let step = Step {
            user_id: "u1".into(),
            username: "kim".into(),
            amr: vec![Amr::Pwd],
            at: 1000,
        };
        let token = step.seal(&sealer, "a|");
        assert!(Step::open(&sealer, &token, "a|", 1000 + STEP_TTL - 1).is_some());
        assert!(Step::open(&sealer, &token, "b|", 1000).is_none());
        assert!(Step::open(&sealer, &token, "a|", 1000 + STEP_TTL).is_none());
        assert_eq!(step.with(&[Amr::Otp]), [Amr::Pwd, Amr::Otp, Amr::Mfa]);
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}

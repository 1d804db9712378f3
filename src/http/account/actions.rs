//! The account page's forms. Each checks the CSRF token and the session, calls the
//! application layer as `user:<username>`, and shows the page again with what happened.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{render, signed_in, PATH};
use crate::app::factors;
use crate::app::login::{self as login_ops, Attempt};
use crate::app::{account, Actor, AppError};
use crate::crypto::b64url_decode;
use crate::db::unix_now;
use crate::domain::totp;
use crate::domain::User;
use crate::http::authorize::{read_page_form, unavailable};
use crate::http::cookies::{self, Csrf};
use crate::http::errors::Failure;
use crate::http::login::store_error;
use crate::http::passkeys::{open_challenge, relying_party};
use crate::http::ui::Ui;
use crate::http::{pages, Data};
use crate::oauth::params::Params;
use crate::oauth::store::SessionInfo;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let post = |path: &str| format!("{PATH}/{path}");
    cfg.route(&post("profile"), web::post().to(profile))
        .route(&post("password"), web::post().to(password))
        .route(&post("totp/new"), web::post().to(totp_new))
        .route(&post("totp"), web::post().to(totp_confirm))
        .route(&post("recovery-codes"), web::post().to(recovery_codes))
        .route(&post("passkeys"), web::post().to(add_passkey))
        .route(&post("factors/remove"), web::post().to(remove_factor))
        .route(&post("sessions/end"), web::post().to(end_session))
        .route(&post("apps/revoke"), web::post().to(revoke_app));
}

/// A posted account form: the form, the session and the user, or the response to send
/// instead (the login page for a browser that is not signed in).
type Posted = Result<(Params, SessionInfo, User), HttpResponse>;

async fn posted(
    services: &Data,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Posted, Failure> {
    let form = read_page_form(services, req, payload).await?;
    Ok(signed_in(services, req).await?.map(|(s, u)| (form, s, u)))
}

fn actor(services: &Data, req: &HttpRequest, user: &User) -> Actor {
    crate::http::context(services, req).actor(format!("user:{}", user.username))
}

/// Runs an operation and shows the page with its notice, or with its error.
async fn outcome<T: Send + 'static>(
    services: &Data,
    req: &HttpRequest,
    session: &SessionInfo,
    user: &User,
    notice: &str,
    op: impl FnOnce(&mut dyn crate::oauth::store::Store) -> Result<T, AppError> + Send + 'static,
) -> Result<HttpResponse, Failure> {
    let result = services
        .db
        .run(move |c| Ok(op(c)))
        .await
        .map_err(unavailable)?;
    match result {
        Ok(_) => {
            render(
                services,
                req,
                session,
                user,
                StatusCode::OK,
                Some(notice),
                None,
            )
            .await
        }
        Err(AppError::Store(e)) => Err(unavailable(e)),
        Err(e) => {
            let m = e.to_string();
            render(
                services,
                req,
                session,
                user,
                StatusCode::BAD_REQUEST,
                None,
                Some(&m),
            )
            .await
        }
    }
}

/// The page again with an error, for a change that needs a recent sign-in.
async fn not_recent(
    services: &Data,
    req: &HttpRequest,
    session: &SessionInfo,
    user: &User,
) -> Result<HttpResponse, Failure> {
    let m = "Sign in again to change how you sign in.";
    render(
        services,
        req,
        session,
        user,
        StatusCode::FORBIDDEN,
        None,
        Some(m),
    )
    .await
}

fn recent(session: &SessionInfo) -> bool {
    unix_now() - session.auth_time < super::RECENT
}

macro_rules! signed_in_or_return {
    ($services:expr, $req:expr, $payload:expr) => {
        match posted(&$services, &$req, $payload).await? {
            Ok(v) => v,
            Err(res) => return Ok(res),
        }
    };
}

async fn profile(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    let field = |n: &str| {
        Some(
            form.get(n)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        )
    };
    let update = crate::app::users::UserUpdate {
        name: field("name"),
        email: field("email"),
        ..Default::default()
    };
    let (a, name) = (actor(&services, &req, &user), user.username.clone());
    let changed_email = update.email.clone().flatten() != user.email;
    let updated = services
        .db
        .run(move |c| {
            let mut update = update;
            if changed_email {
                update.email_verified = Some(false);
            }
            Ok(crate::app::users::update_user(
                c,
                &a,
                &name,
                &update,
                unix_now(),
            ))
        })
        .await
        .map_err(unavailable)?;
    match updated {
        Ok(u) => {
            render(
                &services,
                &req,
                &session,
                &u,
                StatusCode::OK,
                Some("Your profile is saved."),
                None,
            )
            .await
        }
        Err(AppError::Store(e)) => Err(unavailable(e)),
        Err(e) => {
            let m = e.to_string();
            render(
                &services,
                &req,
                &session,
                &user,
                StatusCode::BAD_REQUEST,
                None,
                Some(&m),
            )
            .await
        }
    }
}

/// A new password: the current one is checked, the new one set, every session and
/// token of the account ended, and this browser signed in again.
async fn password(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    let current = form.get("current_password").unwrap_or("").to_string();
    let new = form.get("new_password").unwrap_or("").to_string();
    let bad = StatusCode::BAD_REQUEST;
    let new = match crate::app::users::parse_password(new) {
        Ok(p) => p,
        Err(e) => {
            let m = e.to_string();
            return render(&services, &req, &session, &user, bad, None, Some(&m)).await;
        }
    };
    let phc = user.password_hash.clone();
    let wait = std::time::Duration::from_secs(5);
    let checked = crate::startup::hash_bounded(&services, wait, move || {
        crate::domain::user::verify_password(&current, &phc).then(|| new.hash())
    })
    .await;
    let Some(hash) = checked.flatten() else {
        let m = "The current password is not right.";
        return render(&services, &req, &session, &user, bad, None, Some(m)).await;
    };
    let (a, name, amr) = (
        actor(&services, &req, &user),
        user.username.clone(),
        session.amr.clone(),
    );
    let attempt = Attempt {
        username: user.username.clone(),
        ip: crate::http::context(&services, &req).client_ip,
        client_id: None,
    };
    let lifetime = services.settings.lifetimes.session;
    let (cookie, fresh, user) = services
        .db
        .run(move |c| {
            let now = unix_now();
            let user =
                crate::app::users::set_password(c, &a, &name, hash, now).map_err(store_error)?;
            let (cookie, fresh) = login_ops::succeed(c, &attempt, &user, &amr, None, lifetime, now)
                .map_err(store_error)?;
            Ok((cookie, fresh, user))
        })
        .await
        .map_err(unavailable)?;
    let notice = "Your password is changed. You were signed out everywhere else.";
    let mut res = render(
        &services,
        &req,
        &fresh,
        &user,
        StatusCode::OK,
        Some(notice),
        None,
    )
    .await?;
    cookies::add(
        &mut res,
        cookies::session_cookie(&services.settings, cookie.secret()),
    );
    cookies::rotate_csrf(&mut res, &services.settings, &services.sealer);
    Ok(res)
}

#[derive(Template)]
#[template(path = "account_totp.html")]
struct TotpPage<'a> {
    csrf_token: &'a str,
    qr_svg: String,
    secret: String,
    sealed: String,
    error: Option<&'a str>,
    ui: Ui,
}

fn totp_page(
    services: &Data,
    req: &HttpRequest,
    user: &User,
    sealed: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let (secret, sealed) =
        match sealed.and_then(|s| factors::open_totp_form(&services.sealer, &user.id, s)) {
            Some(secret) => (secret, sealed.unwrap_or("").to_string()),
            None => factors::new_totp_secret(&services.sealer, &user.id),
        };
    let issuer = relying_party(&services.settings).id;
    let uri = totp::otpauth_uri(&issuer, &user.username, &secret);
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    let text = totp::base32(&secret);
    let page = TotpPage {
        csrf_token: &csrf.token,
        qr_svg: crate::http::qr::svg(&uri),
        secret: text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        sealed,
        error,
        ui: Ui::of(services, req, None),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut res = pages::render(status, &page, &[]);
    csrf.set_on(&mut res);
    res
}

async fn totp_new(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (_, session, user) = signed_in_or_return!(services, req, payload);
    if !recent(&session) {
        return not_recent(&services, &req, &session, &user).await;
    }
    Ok(totp_page(&services, &req, &user, None, None))
}

async fn totp_confirm(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    if !recent(&session) {
        return not_recent(&services, &req, &session, &user).await;
    }
    let sealed = form.get("totp_secret").unwrap_or("").to_string();
    let Some(secret) = factors::open_totp_form(&services.sealer, &user.id, &sealed) else {
        return Ok(totp_page(
            &services,
            &req,
            &user,
            None,
            Some("The set-up expired. Scan the new code."),
        ));
    };
    let code = form.get("code").unwrap_or("").to_string();
    let (sealer, a, id) = (
        services.sealer.clone(),
        actor(&services, &req, &user),
        user.id.clone(),
    );
    let enrolled = services
        .db
        .run(move |c| {
            Ok(factors::enrol_totp(
                c,
                &sealer,
                &a,
                &id,
                &secret,
                &code,
                unix_now(),
            ))
        })
        .await
        .map_err(unavailable)?;
    match enrolled {
        Ok(()) => {
            render(
                &services,
                &req,
                &session,
                &user,
                StatusCode::OK,
                Some("Your authenticator app is set up."),
                None,
            )
            .await
        }
        Err(AppError::Store(e)) => Err(unavailable(e)),
        Err(_) => Ok(totp_page(
            &services,
            &req,
            &user,
            Some(&sealed),
            Some("That code is not right. Enter the code the app shows now."),
        )),
    }
}

#[derive(Template)]
#[template(path = "account_codes.html")]
struct CodesPage<'a> {
    codes: &'a [String],
    ui: Ui,
}

async fn recovery_codes(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (_, session, user) = signed_in_or_return!(services, req, payload);
    if !recent(&session) {
        return not_recent(&services, &req, &session, &user).await;
    }
    let (a, id) = (actor(&services, &req, &user), user.id.clone());
    let codes = services
        .db
        .run(move |c| factors::new_recovery_codes(c, &a, &id, unix_now()).map_err(store_error))
        .await
        .map_err(unavailable)?;
    Ok(pages::render(
        StatusCode::OK,
        &CodesPage {
            codes: &codes,
            ui: Ui::of(&services, &req, None),
        },
        &[],
    ))
}

async fn add_passkey(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    if !recent(&session) {
        return not_recent(&services, &req, &session, &user).await;
    }
    let now = unix_now();
    let purpose = format!("register:{}", user.id);
    let challenge = form
        .get("passkey_state")
        .and_then(|s| open_challenge(&services.sealer, &purpose, s, now));
    let field = |n: &str| form.get(n).and_then(b64url_decode);
    let (Some(challenge), Some(client_data), Some(attestation)) =
        (challenge, field("client_data"), field("attestation_object"))
    else {
        let m = "The passkey was not saved: the request expired or the browser sent nothing. Try again.";
        return render(
            &services,
            &req,
            &session,
            &user,
            StatusCode::BAD_REQUEST,
            None,
            Some(m),
        )
        .await;
    };
    let rp = relying_party(&services.settings);
    let registration = match crate::webauthn::verify_registration(
        &rp,
        &challenge,
        &client_data,
        &attestation,
        true,
    ) {
        Ok(r) => r,
        Err(e) => {
            let m = format!("The passkey was not saved: {e}.");
            return render(
                &services,
                &req,
                &session,
                &user,
                StatusCode::BAD_REQUEST,
                None,
                Some(&m),
            )
            .await;
        }
    };
    let name = form.get("name").unwrap_or("").to_string();
    let transports: Vec<String> = (form.get("transports").unwrap_or("").split(','))
        .filter(|t| !t.is_empty() && t.len() <= 16)
        .take(8)
        .map(str::to_string)
        .collect();
    let (a, id) = (actor(&services, &req, &user), user.id.clone());
    outcome(
        &services,
        &req,
        &session,
        &user,
        "Your passkey is saved.",
        move |c| factors::add_passkey(c, &a, &id, &name, &registration, transports, now),
    )
    .await
}

async fn remove_factor(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    if !recent(&session) {
        return not_recent(&services, &req, &session, &user).await;
    }
    let factor = form.get("id").unwrap_or("").to_string();
    let (a, id) = (actor(&services, &req, &user), user.id.clone());
    outcome(&services, &req, &session, &user, "Removed.", move |c| {
        factors::remove_factor(c, &a, &id, &factor, unix_now())
    })
    .await
}

async fn end_session(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    let sid = form.get("sid").unwrap_or("").to_string();
    if sid == session.sid {
        let m = "To end this browser's session, sign out.";
        return render(
            &services,
            &req,
            &session,
            &user,
            StatusCode::BAD_REQUEST,
            None,
            Some(m),
        )
        .await;
    }
    let (a, id) = (actor(&services, &req, &user), user.id.clone());
    outcome(
        &services,
        &req,
        &session,
        &user,
        "The session is ended.",
        move |c| account::end_own_session(c, &a, &id, &sid, unix_now()),
    )
    .await
}

async fn revoke_app(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (form, session, user) = signed_in_or_return!(services, req, payload);
    let client = form.get("client_id").unwrap_or("").to_string();
    let (a, id) = (actor(&services, &req, &user), user.id.clone());
    outcome(
        &services,
        &req,
        &session,
        &user,
        "The app no longer has access.",
        move |c| account::revoke_app(c, &a, &id, &client, unix_now()),
    )
    .await
}

//! `/account`: signed-in people manage themselves. Their name and e-mail, their
//! password, passkeys, authenticator app and recovery codes, their sessions and the
//! apps they allowed. Every form is CSRF-protected like the other pages; changing a
//! sign-in method needs a recent sign-in.

mod actions;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::admin_pages::see_other;
use super::authorize::{current_session, unavailable};
use super::cookies::Csrf;
use super::errors::Failure;
use super::passkeys::{new_challenge, relying_party, Challenge, PASSKEY_SCRIPT_PATH};
use super::ui::Ui;
use super::{pages, Data};
use crate::app::factors::{self, Enrolled};
use crate::cli::audit::format_rfc3339;
use crate::crypto::b64url;
use crate::db::unix_now;
use crate::domain::User;
use crate::oauth::store::SessionInfo;

pub const PATH: &str = "/account";
/// Seconds after a sign-in during which its sign-in methods may be changed.
pub const RECENT: i64 = 900;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(show));
    actions::configure(cfg);
}

/// The signed-in person, or the way to the login page.
pub(super) async fn signed_in(
    services: &Data,
    req: &HttpRequest,
) -> Result<Result<(SessionInfo, User), HttpResponse>, Failure> {
    let login = || see_other(&services.settings.url("/login?return_to=%2Faccount"));
    let Some((_, session)) = current_session(services, req).await? else {
        return Ok(Err(login()));
    };
    let id = session.user_id.clone();
    let user = services
        .db
        .run(move |c| c.find_user(&id))
        .await
        .map_err(unavailable)?;
    Ok(match user {
        Some(u) => Ok((session, u)),
        None => Err(login()),
    })
}

struct Row {
    id: String,
    name: String,
    detail: String,
}

struct SessionRow {
    id: String,
    name: String,
    detail: String,
    current: bool,
}

struct Register {
    challenge: Challenge,
    rp_id: String,
    user_id: String,
    exclude: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    name: &'a str,
    email: &'a str,
    csrf_token: &'a str,
    passkey_script: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    recent: bool,
    totp: Option<String>,
    passkeys: Vec<Row>,
    recovery_left: usize,
    register: Option<Register>,
    sessions: Vec<SessionRow>,
    apps: Vec<Row>,
    is_admin: bool,
    ui: Ui,
}

/// What the page shows besides the user: factors, sessions and allowed apps.
struct Facts {
    enrolled: Enrolled,
    sessions: Vec<SessionInfo>,
    apps: Vec<(String, String, String)>,
}

async fn facts(services: &Data, user_id: &str) -> Result<Facts, Failure> {
    let id = user_id.to_string();
    let now = unix_now();
    let (enrolled, sessions, consents) = services
        .db
        .run(move |c| {
            let factors = c.list_factors(&id)?;
            Ok((
                Enrolled::of(factors),
                c.list_user_sessions(&id, now)?,
                c.list_consents(&id)?,
            ))
        })
        .await
        .map_err(unavailable)?;
    let mut apps = Vec::new();
    for (client_id, scopes, _) in consents {
        let name = match services.clients.get(&client_id) {
            Some(c) => c.name.clone(),
            None => {
                let id = client_id.clone();
                (services.db.run(move |c| c.find_client(&id)).await)
                    .map_err(unavailable)?
                    .map_or_else(|| client_id.clone(), |c| c.name)
            }
        };
        apps.push((client_id, name, scopes.to_string()));
    }
    Ok(Facts {
        enrolled,
        sessions,
        apps,
    })
}

/// A time as people read it on the pages: `2026-12-02 18:30 UTC`.
pub(crate) fn when(ts: i64) -> String {
    let t = format_rfc3339(ts);
    format!("{} {} UTC", &t[..10], &t[11..16])
}

/// "synced; added …; last used …", in the page's language.
fn passkey_detail(ui: &Ui, p: &crate::oauth::store::factors::Factor) -> String {
    let mut parts = Vec::new();
    if factors::passkey_synced(p) {
        parts.push(ui.t("synced").to_string());
    }
    parts.push(ui.fill("added {}", when(p.created_at)));
    parts.push(match p.last_used_at {
        Some(t) => ui.fill("last used {}", when(t)),
        None => ui.t("never used").to_string(),
    });
    parts.join("; ")
}

fn methods(session: &SessionInfo) -> String {
    let names: Vec<&str> = session.amr.iter().map(|a| a.as_str()).collect();
    names.join(", ")
}

/// Renders the page; `notice` and `error` report the last action.
pub(super) async fn render(
    services: &Data,
    req: &HttpRequest,
    session: &SessionInfo,
    user: &User,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, Failure> {
    let f = facts(services, &user.id).await?;
    let now = unix_now();
    let recent = now - session.auth_time < RECENT;
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    let ui = Ui::of(services, req, None);
    let passkeys = (f.enrolled.passkeys.iter())
        .map(|p| Row {
            id: p.id.clone(),
            name: p.name.clone(),
            detail: passkey_detail(&ui, p),
        })
        .collect();
    let register = recent.then(|| Register {
        challenge: new_challenge(&services.sealer, &format!("register:{}", user.id), now),
        rp_id: relying_party(&services.settings).id,
        user_id: b64url(user.id.as_bytes()),
        exclude: f.enrolled.passkey_ids().join(","),
    });
    let sessions = (f.sessions.iter())
        .map(|s| SessionRow {
            id: s.sid.clone(),
            name: when(s.auth_time),
            detail: ui.fill("with {}", methods(s)),
            current: s.sid == session.sid,
        })
        .collect();
    let apps = (f.apps.into_iter())
        .map(|(id, name, scopes)| Row {
            id,
            name,
            detail: scopes,
        })
        .collect();
    let page = AccountPage {
        username: &user.username,
        name: user.name.as_deref().unwrap_or(""),
        email: user.email.as_deref().unwrap_or(""),
        csrf_token: &csrf.token,
        passkey_script: PASSKEY_SCRIPT_PATH,
        notice,
        error,
        recent,
        totp: f.enrolled.totp.as_ref().map(|t| when(t.created_at)),
        passkeys,
        recovery_left: f.enrolled.recovery_left,
        register,
        sessions,
        apps,
        is_admin: user.is_admin,
        ui,
    };
    let mut res = pages::render(status, &page, &[]);
    csrf.set_on(&mut res);
    Ok(res)
}

/// `GET /account`.
async fn show(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    match signed_in(&services, &req).await? {
        Ok((session, user)) => {
            render(&services, &req, &session, &user, StatusCode::OK, None, None).await
        }
        Err(login) => Ok(login),
    }
}

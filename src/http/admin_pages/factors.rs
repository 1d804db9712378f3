//! `/admin/users/factors?username=…`: one user's passkeys and authenticator app, each
//! removable (a lost security key), beside the count of recovery codes left. Resetting
//! them all is on the users list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{
    admin_url, notice, query, read_form, require_admin, respond, see_other, unavailable, Frame,
    Layout, Refusal, Section,
};
use crate::http::account::when;
use crate::http::errors::Failure;
use crate::http::Data;
use crate::oauth::store::factors::FactorKind;

pub struct FactorRow {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "admin/user_factors.html")]
struct FactorsPage {
    layout: Layout,
    notice: Option<&'static str>,
    username: String,
    rows: Vec<FactorRow>,
    recovery_codes_left: usize,
    remove_url: String,
    users_url: String,
}

fn no_such_user() -> Refusal {
    Failure::page(
        StatusCode::NOT_FOUND,
        "No such user",
        "There is no user by that name.",
    )
    .into()
}

fn row(f: crate::oauth::store::factors::Factor) -> FactorRow {
    FactorRow {
        kind: match f.kind {
            FactorKind::Passkey if crate::app::factors::passkey_synced(&f) => "Passkey (synced)",
            FactorKind::Passkey => "Passkey",
            _ => "Authenticator app",
        },
        id: f.id,
        name: f.name,
        added: when(f.created_at),
        last_used: f.last_used_at.map(when).unwrap_or_else(|| "never".into()),
    }
}

pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let username = query(&req).get("username").unwrap_or("").to_string();
    let name = username.clone();
    let found = services
        .db
        .run(move |s| match s.find_user_by_name(&name)? {
            Some(u) => Ok(Some(s.list_factors(&u.id)?)),
            None => Ok(None),
        })
        .await
        .map_err(unavailable)?;
    let enrolled = crate::app::factors::Enrolled::of(found.ok_or_else(no_such_user)?);
    let recovery_codes_left = enrolled.recovery_left;
    let rows = (enrolled.passkeys.into_iter())
        .chain(enrolled.totp)
        .map(row)
        .collect();
    let (layout, csrf) = Frame::new(&services, &req, &admin, Section::Users).take();
    let page = FactorsPage {
        layout,
        notice: notice(&req),
        username,
        rows,
        recovery_codes_left,
        remove_url: admin_url(&services, "/users/factors/remove"),
        users_url: admin_url(&services, "/users"),
    };
    Ok(respond(StatusCode::OK, &page, &csrf))
}

/// Removes one factor through the same operation as the admin API (audited).
pub async fn remove(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let form = read_form(&req, payload).await?;
    let username = form.get("username").unwrap_or("").to_string();
    let id = form.get("id").unwrap_or("").to_string();
    let actor = admin.actor(&req);
    let name = username.clone();
    let removed = services
        .db
        .run(move |s| {
            let Some(user) = s.find_user_by_name(&name)? else {
                return Ok(None);
            };
            let now = crate::db::unix_now();
            Ok(Some(crate::app::factors::remove_factor(
                s, &actor, &user.id, &id, now,
            )))
        })
        .await
        .map_err(unavailable)?;
    match removed.ok_or_else(no_such_user)? {
        Ok(()) => {
            let back = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("username", &username)
                .append_pair("notice", "factor-removed")
                .finish();
            Ok(see_other(&admin_url(
                &services,
                &format!("/users/factors?{back}"),
            )))
        }
        Err(e) => Err(super::api_failure(e.into()).into()),
    }
}

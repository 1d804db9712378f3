//! `/admin/users`: list and search, create, disable and enable users, through the admin
//! API's operations.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{
    admin_url, api_failure, notice, query, read_form, require_admin, respond, see_other,
    unavailable, Admin, FormError, Frame, Layout, Refusal, Section,
};
use crate::http::admin_api::users::{create_user, update_user, NewUserRequest};
use crate::http::errors::Failure;
use crate::http::Data;

/// At most this many users are listed; search to find others.
const LIMIT: i64 = 200;

/// The admin API's field names, and the form's field and label for each.
const FIELDS: &[(&str, &str, &str)] = &[
    ("username", "username", "Username"),
    ("password", "password", "Password"),
    ("email", "email", "E-mail"),
    ("name", "name", "Name"),
    ("phone_number", "phone_number", "Telephone"),
    ("address", "street_address", "Postal address"),
];

pub struct Row {
    pub username: String,
    pub name: String,
    pub email: String,
    pub admin: bool,
    pub disabled: bool,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    layout: Layout,
    notice: Option<&'static str>,
    new_url: String,
    search_url: String,
    q: String,
    rows: Vec<Row>,
    total: i64,
    disable_url: String,
    enable_url: String,
    reset_factors_url: String,
    factors_url: String,
}

/// The values entered (never the password, which is not shown again).
#[derive(Debug, Clone, Default)]
pub struct UserForm {
    pub username: String,
    pub email: String,
    pub name: String,
    pub phone_number: String,
    pub address: crate::domain::user::Address,
    pub admin: bool,
}

impl UserForm {
    /// A member of the address as the form shows it.
    fn part(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "admin/user_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    form: UserForm,
    error: Option<FormError>,
}

impl FormPage {
    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let q = query(&req).get("q").unwrap_or("").trim().to_string();
    let search = q.clone();
    let (total, users) = services
        .db
        .run(move |c| {
            let s = Some(search.as_str());
            Ok((c.count_users(s)?, c.list_users(s, 0, LIMIT)?))
        })
        .await
        .map_err(unavailable)?;
    let rows = users
        .into_iter()
        .map(|u| Row {
            is_me: u.id == admin.user_id,
            username: u.username,
            name: u.name.unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            admin: u.is_admin,
            disabled: u.disabled,
        })
        .collect();
    let (layout, csrf) = Frame::new(&services, &req, &admin, Section::Users).take();
    let page = ListPage {
        layout,
        notice: notice(&req),
        new_url: admin_url(&services, "/users/new"),
        search_url: admin_url(&services, "/users"),
        q,
        rows,
        total,
        disable_url: admin_url(&services, "/users/disable"),
        enable_url: admin_url(&services, "/users/enable"),
        reset_factors_url: admin_url(&services, "/users/reset-factors"),
        factors_url: admin_url(&services, "/users/factors"),
    };
    Ok(respond(StatusCode::OK, &page, &csrf))
}

fn form_page(
    services: &Data,
    req: &HttpRequest,
    admin: &Admin,
    status: StatusCode,
    form: UserForm,
    error: Option<FormError>,
) -> HttpResponse {
    let (layout, csrf) = Frame::new(services, req, admin, Section::Users).take();
    let page = FormPage {
        layout,
        action: admin_url(services, "/users"),
        form,
        error,
    };
    respond(status, &page, &csrf)
}

pub async fn new_form(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    Ok(form_page(
        &services,
        &req,
        &admin,
        StatusCode::OK,
        UserForm::default(),
        None,
    ))
}

pub async fn create(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let posted = read_form(&req, payload).await?;
    let text = |k: &str| posted.get(k).unwrap_or("").trim().to_string();
    let form = UserForm {
        username: text("username"),
        email: text("email"),
        name: text("name"),
        phone_number: text("phone_number"),
        address: crate::domain::user::Address {
            street_address: Some(text("street_address")),
            postal_code: Some(text("postal_code")),
            locality: Some(text("locality")),
            region: Some(text("region")),
            country: Some(text("country")),
            formatted: None,
        },
        admin: posted.get("admin").is_some(),
    };
    let input = NewUserRequest {
        username: form.username.clone(),
        password: posted.get("password").unwrap_or("").to_string(),
        email: Some(form.email.clone()),
        name: Some(form.name.clone()),
        phone_number: Some(form.phone_number.clone()),
        address: Some(form.address.clone()),
        admin: form.admin,
    };
    match create_user(&services, admin.actor(&req), input).await {
        Ok(_) => Ok(see_other(&admin_url(
            &services,
            "/users?notice=user-created",
        ))),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) => {
            let mut error = FormError::from_message(&e.message, FIELDS);
            if e.status == StatusCode::CONFLICT {
                error.field = "username";
            }
            Ok(form_page(
                &services,
                &req,
                &admin,
                e.status,
                form,
                Some(error),
            ))
        }
        Err(e) => Err(api_failure(e).into()),
    }
}

async fn set_disabled(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
    disabled: bool,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let form = read_form(&req, payload).await?;
    let username = form.get("username").unwrap_or("").to_string();
    if disabled && username == admin.username {
        return Err(Failure::page(
            StatusCode::CONFLICT,
            "Not disabled",
            "You cannot disable the account you are signed in with.",
        )
        .into());
    }
    let patch = crate::app::users::UserUpdate {
        disabled: Some(disabled),
        ..Default::default()
    };
    update_user(&services, admin.actor(&req), &username, patch)
        .await
        .map_err(api_failure)?;
    let notice = if disabled {
        "user-disabled"
    } else {
        "user-enabled"
    };
    Ok(see_other(&admin_url(
        &services,
        &format!("/users?notice={notice}"),
    )))
}

pub async fn disable(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    set_disabled(services, req, payload, true).await
}

pub async fn enable(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    set_disabled(services, req, payload, false).await
}

/// Removes every passkey, authenticator app and recovery code of a user who lost
/// theirs; they sign in with the password and set them up again.
pub async fn reset_factors(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let form = read_form(&req, payload).await?;
    let username = form.get("username").unwrap_or("").to_string();
    let actor = admin.actor(&req);
    let reset = services
        .db
        .run(move |c| {
            let now = crate::db::unix_now();
            Ok(crate::app::factors::reset_factors(
                c, &actor, &username, now,
            ))
        })
        .await
        .map_err(unavailable)?;
    match reset {
        Ok(_) => Ok(see_other(&admin_url(
            &services,
            "/users?notice=factors-reset",
        ))),
        Err(e) => Err(api_failure(e.into()).into()),
    }
}

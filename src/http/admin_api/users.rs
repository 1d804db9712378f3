//! `/admin/api/users`: list and search, create, show, update (and disable), delete, set a
//! password. Passwords are hashed with argon2 on the blocking pool, never on a worker
//! and never while a database connection is held.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{actor, admin, app, body, json, no_content, Paging, Refused};
use crate::app::users::{self as ops, UserUpdate};
use crate::app::Actor;
use crate::domain::user::{Address, Password, User};
use crate::http::errors::{ApiError, ApiErrorBody, Failure};
use crate::http::Data;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The stable subject identifier (`sub`).
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    /// The OpenID address claim: `formatted`, `street_address`, `locality`, `region`,
    /// `postal_code`, `country`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub address: Option<Address>,
    /// May administer gatehouse.
    pub admin: bool,
    /// May not log in; their refresh tokens were revoked when disabled.
    pub disabled: bool,
    /// Must sign in with a second factor.
    #[serde(default)]
    pub require_mfa: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            name: u.name.clone(),
            phone_number: u.phone_number.clone(),
            phone_number_verified: u.phone_number_verified,
            address: u.address.clone(),
            admin: u.is_admin,
            disabled: u.disabled,
            require_mfa: u.require_mfa,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// All users matching `q`, regardless of paging.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    /// 8 to 1024 characters.
    pub password: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone_number: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub address: Option<Address>,
    #[serde(default)]
    pub admin: bool,
}

/// Fields left out stay as they are; `null` removes an e-mail address or a name.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone_number: Option<Option<String>>,
    /// Replaces the whole address; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, nullable)]
    pub address: Option<Option<Address>>,
    pub email_verified: Option<bool>,
    pub phone_number_verified: Option<bool>,
    pub admin: Option<bool>,
    /// Disabling also revokes the user's refresh tokens.
    pub disabled: Option<bool>,
    /// The user must sign in with a second factor (or a verified passkey).
    pub require_mfa: Option<bool>,
}

// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// 8 to 1024 characters.
    pub password: String,
}

/// Tells a member given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl UserPatch {
    fn update(&self) -> UserUpdate {
        UserUpdate {
            email: self.email.clone(),
            name: self.name.clone(),
            phone_number: self.phone_number.clone(),
            address: self.address.clone(),
            email_verified: self.email_verified,
            phone_number_verified: self.phone_number_verified,
            admin: self.admin,
            disabled: self.disabled,
            require_mfa: self.require_mfa,
        }
    }
}

fn not_found(username: &str) -> ApiError {
    ApiError::not_found(format!("no user named '{username}'"))
}

/// argon2 on the blocking pool, with a hashing permit.
async fn hash(services: &Data, password: Password) -> Result<String, ApiError> {
    let wait = std::time::Duration::from_secs(5);
    crate::startup::hash_bounded(services, wait, move || password.hash())
        .await
        .ok_or_else(|| {
            ApiError::from(crate::oauth::store::StoreError::Unavailable(
                "password hashing is saturated; retry shortly".into(),
            ))
        })
}

pub(super) async fn find(services: &Data, username: &str) -> Result<User, ApiError> {
    let name = username.to_string();
    app(services, move |s| Ok(s.find_user_by_name(&name)?))
        .await?
        .ok_or_else(|| not_found(username))
}

/// List users by username; `q` searches usernames, e-mail addresses and names.
#[utoipa::path(
    get,
    path = "/admin/api/users",
    operation_id = "list_users",
    tag = "users",
    params(
        ("q" = Option<String>, Query, description = "Only users whose username, e-mail or name contains this"),
        ("offset" = Option<i64>, Query, description = "Users to skip (default 0)"),
        ("limit" = Option<i64>, Query, description = "At most this many, 1 to 200 (default 50)"),
    ),
    responses(
        (status = 200, description = "OK", body = UserPage),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
    )
)]
pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let paging = Paging::parse(req.query_string())?;
    let (offset, limit) = (paging.offset, paging.limit);
    let q = paging.params.get("q").map(str::to_string);
    let (total, users) = app(&services, move |c| {
        Ok((
            c.count_users(q.as_deref())?,
            c.list_users(q.as_deref(), offset, limit)?,
        ))
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &UserPage {
            items: users.iter().map(UserView::from).collect(),
            total,
            offset,
            limit,
        },
    ))
}

/// Create a user.
#[utoipa::path(
    post,
    path = "/admin/api/users",
    operation_id = "create_user",
    tag = "users",
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 409, description = "The username is taken (`conflict`)", body = ApiErrorBody),
    )
)]
pub async fn create(
    services: Data,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let input: NewUserRequest = body(&bytes)?;
    let created = create_user(&services, actor(&admin, &req), input).await?;
    Ok(json(StatusCode::CREATED, &UserView::from(&created)))
}

/// Creates a user for `actor`: what `POST /admin/api/users` and the admin pages do.
pub async fn create_user(
    services: &Data,
    actor: Actor,
    input: NewUserRequest,
) -> Result<User, ApiError> {
    let mut user = ops::parse_new_user(
        &input.username,
        input.password,
        input.email.as_deref(),
        input.name.as_deref(),
        input.admin,
    )?;
    (user.phone_number, user.address) =
        ops::parse_contact(input.phone_number.as_deref(), input.address)?;
    let phc = hash(services, user.password.clone()).await?;
    app(services, move |s| {
        ops::create_user(s, &actor, &user, phc, crate::db::unix_now())
    })
    .await
}

/// Show one user.
#[utoipa::path(
    get,
    path = "/admin/api/users/{username}",
    operation_id = "show_user",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    responses(
        (status = 200, description = "OK", body = UserView),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn show(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let user = find(&services, &path).await?;
    Ok(json(StatusCode::OK, &UserView::from(&user)))
}

/// Change a user's e-mail, name, telephone number, address, verified flags, admin flag, or disable (or enable) them. Disabling
/// revokes their refresh tokens; their access tokens stop passing introspection.
#[utoipa::path(
    patch,
    path = "/admin/api/users/{username}",
    operation_id = "update_user",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "OK", body = UserView),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn update(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let patch: UserPatch = body(&bytes)?;
    let updated = update_user(&services, actor(&admin, &req), &path, patch.update()).await?;
    Ok(json(StatusCode::OK, &UserView::from(&updated)))
}

/// Applies `update` for `actor`; disabling ends the user's access.
pub async fn update_user(
    services: &Data,
    actor: Actor,
    username: &str,
    update: UserUpdate,
) -> Result<User, ApiError> {
    let name = username.to_string();
    let user = app(services, move |s| {
        ops::update_user(s, &actor, &name, &update, crate::db::unix_now())
    })
    .await?;
    // Disabling may have queued logout tokens.
    services.logout_wake.now();
    Ok(user)
}

/// Delete a user and everything issued to them.
#[utoipa::path(
    delete,
    path = "/admin/api/users/{username}",
    operation_id = "delete_user",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    responses(
        (status = 204, description = "Deleted"),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let actor = actor(&admin(&services, &req).await?, &req);
    let username = path.into_inner();
    app(&services, move |s| {
        ops::delete_user(s, &actor, &username, crate::db::unix_now())
    })
    .await?;
    services.logout_wake.now();
    Ok(no_content())
}

/// Replace a user's password.
#[utoipa::path(
    post,
    path = "/admin/api/users/{username}/password",
    operation_id = "set_user_password",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn set_password(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let actor = actor(&admin(&services, &req).await?, &req);
    let username = path.into_inner();
    let input: PasswordRequest = body(&bytes)?;
    let password = ops::parse_password(input.password)?;
    find(&services, &username).await?;
    let phc = hash(&services, password).await?;
    app(&services, move |s| {
        ops::set_password(s, &actor, &username, phc, crate::db::unix_now())
    })
    .await?;
    services.logout_wake.now();
    Ok(no_content())
}

/// Remove every passkey, authenticator app and recovery code of a user who lost theirs.
#[utoipa::path(
    delete,
    path = "/admin/api/users/{username}/factors",
    operation_id = "reset_user_factors",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    responses(
        (status = 204, description = "Removed; the user signs in with the password and sets them up again"),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn reset_factors(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let actor = actor(&admin(&services, &req).await?, &req);
    let username = path.into_inner();
    find(&services, &username).await?;
    app(&services, move |s| {
        crate::app::factors::reset_factors(s, &actor, &username, crate::db::unix_now())
    })
    .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::registration::from_json;

    #[test]
    fn patch_tells_null_from_absent() {
        let p: UserPatch = from_json(br#"{"email": null, "disabled": true}"#).unwrap();
        let u = p.update();
        assert_eq!(u.email, Some(None));
        assert_eq!(u.name, None);
        assert_eq!(u.disabled, Some(true));
        let p: UserPatch = from_json(br#"{"name": "  Ada  ", "admin": false}"#).unwrap();
        let u = p.update();
        assert_eq!(u.name, Some(Some("  Ada  ".into())));
        assert_eq!(u.admin, Some(false));
    }
}

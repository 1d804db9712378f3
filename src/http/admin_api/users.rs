//! `/admin/api/users`: list and search, create, show, update (and disable), delete, set a
//! password. Passwords are hashed with argon2 on the blocking pool, never on a worker
//! and never while a database connection is held.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{admin, body, db, json, no_content, Paging};
use crate::db::grants::GrantStore;
use crate::db::unix_now;
use crate::db::users::{UserChanges, UserStore};
use crate::domain::user::{parse_email, NewUser, Password, User, Username};
use crate::http::audit::record;
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
    /// May administer gatehouse.
    pub admin: bool,
    /// May not log in; their refresh tokens were revoked when disabled.
    pub disabled: bool,
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
            admin: u.is_admin,
            disabled: u.disabled,
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
    pub admin: Option<bool>,
    /// Disabling also revokes the user's refresh tokens.
    pub disabled: Option<bool>,
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

/// A display name: trimmed, at most 200 characters, no control characters; empty is none.
fn parse_name(raw: &str) -> Result<Option<String>, String> {
    let n = raw.trim();
    if n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err("name: at most 200 characters, no control characters".into());
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

fn parse_optional_email(raw: Option<&str>) -> Result<Option<String>, String> {
    match raw.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => parse_email(e).map(Some).map_err(|m| format!("email: {m}")),
        None => Ok(None),
    }
}

impl UserPatch {
    /// The validated changes, and the names of the profile fields they touch.
    fn changes(&self) -> Result<(UserChanges, Vec<&'static str>), String> {
        let mut changes = UserChanges::default();
        let mut changed = Vec::new();
        if let Some(email) = &self.email {
            changes.email = Some(parse_optional_email(email.as_deref())?);
            changed.push("email");
        }
        if let Some(name) = &self.name {
            changes.name = Some(match name {
                Some(n) => parse_name(n)?,
                None => None,
            });
            changed.push("name");
        }
        if let Some(a) = self.admin {
            changes.is_admin = Some(a);
            changed.push("admin");
        }
        changes.disabled = self.disabled;
        if changed.is_empty() && self.disabled.is_none() {
            return Err("name at least one of email, name, admin, disabled".into());
        }
        Ok((changes, changed))
    }
}

fn not_found(username: &str) -> ApiError {
    ApiError::not_found(format!("no user named '{username}'"))
}

/// argon2 on the blocking pool.
async fn hash(password: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|_| ApiError::from(crate::db::StoreError::Blocking))
}

async fn find(services: &Data, username: &str) -> Result<User, ApiError> {
    let name = username.to_string();
    db(services, move |c| c.find_user_by_name(&name))
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
    )
)]
pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let paging = Paging::parse(req.query_string())?;
    let (offset, limit) = (paging.offset, paging.limit);
    let q = paging.params.get("q").map(str::to_string);
    let (total, users) = db(&services, move |c| {
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
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
    let created = create_user(&services, &req, &admin.actor, input).await?;
    Ok(json(StatusCode::CREATED, &UserView::from(&created)))
}

/// Creates a user for `actor` (as the audit log names them) and records it: what
/// `POST /admin/api/users` and the admin pages do.
pub async fn create_user(
    services: &Data,
    req: &HttpRequest,
    actor: &str,
    input: NewUserRequest,
) -> Result<User, ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    let username = Username::parse(&input.username).map_err(|m| bad(format!("username: {m}")))?;
    let password = Password::parse(input.password).map_err(|m| bad(format!("password: {m}")))?;
    let email = parse_optional_email(input.email.as_deref()).map_err(bad)?;
    let name = match input.name.as_deref() {
        Some(n) => parse_name(n).map_err(bad)?,
        None => None,
    };
    let phc = hash(password.clone()).await?;
    let user = NewUser {
        username,
        password,
        email,
        name,
        is_admin: input.admin,
    };
    let now = unix_now();
    let created = db(services, move |c| c.insert_user(&user, phc, now)).await?;
    record(
        services,
        super::audit_event(
            actor,
            req,
            "user.create",
            &created.username,
            json!({ "user_id": created.id, "admin": created.is_admin }),
        ),
    )
    .await;
    Ok(created)
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
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

/// Change a user's e-mail, name, admin flag, or disable (or enable) them. Disabling
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
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
    let updated = update_user(&services, &req, &admin.actor, &path, patch).await?;
    Ok(json(StatusCode::OK, &UserView::from(&updated)))
}

/// Applies `patch` to a user for `actor` and records it; disabling also revokes the
/// user's refresh tokens.
pub async fn update_user(
    services: &Data,
    req: &HttpRequest,
    actor: &str,
    username: &str,
    patch: UserPatch,
) -> Result<User, ApiError> {
    let (changes, changed) = patch.changes().map_err(ApiError::bad_request)?;
    let now = unix_now();
    let name = username.to_string();
    let disable = patch.disabled == Some(true);
    let updated = db(services, move |c| {
        // The change and the revocation together: a disabled user keeps no refresh token.
        diesel::Connection::transaction(c, |c| {
            if !c.update_user(&name, changes, now)? {
                return Ok(None);
            }
            let Some(user) = c.find_user_by_name(&name)? else {
                return Ok(None);
            };
            if disable {
                c.revoke_user_refresh_tokens(&user.id)?;
            }
            Ok(Some(user))
        })
    })
    .await?
    .ok_or_else(|| not_found(username))?;
    let detail = json!({ "user_id": updated.id });
    if !changed.is_empty() {
        let mut d = detail.clone();
        d["changed"] = json!(changed);
        let e = super::audit_event(actor, req, "user.update", username, d);
        record(services, e).await;
    }
    if let Some(disabled) = patch.disabled {
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        let e = super::audit_event(actor, req, action, username, detail);
        record(services, e).await;
    }
    Ok(updated)
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let username = path.into_inner();
    // Looked up first for the id the audit event names.
    let user = find(&services, &username).await?;
    let name = username.clone();
    if !db(&services, move |c| c.delete_user(&name)).await? {
        return Err(not_found(&username).into());
    }
    record(
        &services,
        super::audit_event(
            &admin.actor,
            &req,
            "user.delete",
            &username,
            json!({ "user_id": user.id }),
        ),
    )
    .await;
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
        (status = 401, description = "No valid token (`invalid_token`)", body = ApiErrorBody),
        (status = 403, description = "The token lacks gatehouse:admin (`insufficient_scope`)", body = ApiErrorBody),
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn set_password(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let username = path.into_inner();
    let input: PasswordRequest = body(&bytes)?;
    let password = Password::parse(input.password)
        .map_err(|m| ApiError::bad_request(format!("password: {m}")))?;
    let user = find(&services, &username).await?;
    let changes = UserChanges {
        password_hash: Some(hash(password).await?),
        ..Default::default()
    };
    let now = unix_now();
    let name = username.clone();
    if !db(&services, move |c| c.update_user(&name, changes, now)).await? {
        return Err(not_found(&username).into());
    }
    record(
        &services,
        super::audit_event(
            &admin.actor,
            &req,
            "user.password",
            &username,
            json!({ "user_id": user.id }),
        ),
    )
    .await;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::registration::from_json;

    #[test]
    fn patch_tells_null_from_absent() {
        let p: UserPatch = from_json(br#"{"email": null, "disabled": true}"#).unwrap();
        let (changes, changed) = p.changes().unwrap();
        assert_eq!(changes.email, Some(None));
        assert_eq!(changes.name, None);
        assert_eq!(changes.disabled, Some(true));
        assert_eq!(changed, ["email"]);
        let p: UserPatch = from_json(br#"{"name": "  Ada  ", "admin": false}"#).unwrap();
        let (changes, _) = p.changes().unwrap();
        assert_eq!(changes.name, Some(Some("Ada".into())));
        assert_eq!(changes.is_admin, Some(false));
        assert!(UserPatch::default().changes().is_err());
        let p: UserPatch = from_json(br#"{"email": "nope"}"#).unwrap();
        assert!(p.changes().unwrap_err().starts_with("email:"));
    }
}

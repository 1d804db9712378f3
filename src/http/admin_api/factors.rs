//! A user's sign-in factors for administrators: list them (never their secrets) and
//! remove one (a lost security key); `users::reset_factors` removes all.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::users::find;
use super::{actor, admin, app, json, no_content, Refused};
use crate::http::errors::{ApiErrorBody, Failure};
use crate::http::Data;
use crate::oauth::store::factors::FactorKind;

/// One factor, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorView {
    pub id: String,
    /// `totp` or `passkey` (recovery codes are counted, not listed).
    pub kind: String,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; absent when never used.
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorList {
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: usize,
}

/// List a user's passkeys and authenticator app.
#[utoipa::path(
    get,
    path = "/admin/api/users/{username}/factors",
    operation_id = "list_user_factors",
    tag = "users",
    params(("username" = String, Path, description = "The login name")),
    responses(
        (status = 200, description = "OK", body = FactorList),
        Refused,
        (status = 404, description = "No such user (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn list(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let user = find(&services, &path).await?;
    let all = app(&services, move |s| Ok(s.list_factors(&user.id)?)).await?;
    let recovery_codes_left = all
        .iter()
        .filter(|f| f.kind == FactorKind::Recovery)
        .count();
    let factors = (all.into_iter())
        .filter(|f| f.kind != FactorKind::Recovery)
        .map(|f| FactorView {
            id: f.id,
            kind: f.kind.as_str().into(),
            name: f.name,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        })
        .collect();
    let list = FactorList {
        factors,
        recovery_codes_left,
    };
    Ok(json(StatusCode::OK, &list))
}

/// Remove one passkey or the authenticator app of a user.
#[utoipa::path(
    delete,
    path = "/admin/api/users/{username}/factors/{id}",
    operation_id = "remove_user_factor",
    tag = "users",
    params(
        ("username" = String, Path, description = "The login name"),
        ("id" = String, Path, description = "The factor's id, from the list"),
    ),
    responses(
        (status = 204, description = "Removed"),
        Refused,
        (status = 404, description = "No such user or factor (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn remove(
    services: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Failure> {
    let actor = actor(&admin(&services, &req).await?, &req);
    let (username, id) = path.into_inner();
    let user = find(&services, &username).await?;
    app(&services, move |s| {
        crate::app::factors::remove_factor(s, &actor, &user.id, &id, crate::db::unix_now())
    })
    .await?;
    Ok(no_content())
}

//! The UserInfo endpoint (OpenID Connect Core §5.3): GET or POST, token in the header or
//! (POST) in the form body.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::errors::Failure;
use super::token::read_form;
use super::{bearer, Data};
use crate::domain::User;
use crate::oauth::error::{ErrorCode, OAuthError};

pub const PATH: &str = "/userinfo";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(userinfo))
        .route(PATH, web::post().to(userinfo));
}

/// `sub` plus the claims of each granted scope.
pub fn claims_for(user: &User, scopes: &crate::domain::Scopes) -> Value {
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    if scopes.contains("profile") {
        out.insert("preferred_username".into(), json!(user.username));
        if let Some(n) = &user.name {
            out.insert("name".into(), json!(n));
        }
        out.insert("updated_at".into(), json!(user.updated_at));
    }
    if scopes.contains("email") {
        if let Some(e) = &user.email {
            out.insert("email".into(), json!(e));
            out.insert("email_verified".into(), json!(user.email_verified));
        }
    }
    Value::Object(out)
}

async fn userinfo(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = if req.method() == Method::POST && req.headers().contains_key("content-type") {
        Some(read_form(&req, payload).await.map_err(Failure::Bearer)?)
    } else {
        None
    };
    let presented = bearer::read_access_token(&req, form.as_ref())?;
    let claims = bearer::verify_presented(&services, &req, &presented, PATH).await?;
    let scopes = claims.scopes();
    if !scopes.contains("openid") {
        return Err(Failure::Bearer(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the token was not issued with the openid scope",
        )));
    }
    let sub = claims.sub.clone();
    let user = services
        .db
        .run(move |c| c.find_user(&sub))
        .await
        .map_err(|e| Failure::Bearer(e.into()))?
        .filter(|u| !u.disabled && claims.is_user_token())
        .ok_or_else(|| {
            Failure::Bearer(OAuthError::invalid_token(
                "the token's user is not available",
            ))
        })?;
    let body = claims_for(&user, &scopes);
    let client = services
        .client(&claims.client_id)
        .await
        .map_err(|e| Failure::Bearer(e.into()))?;
    match client.and_then(|c| c.userinfo_alg) {
        Some(alg) => signed(&services, alg, &claims.client_id, body),
        None => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(body)),
    }
}

/// UserInfo as a JWT (OpenID Core §5.3.2), signed with the ID token keys, with `iss` and
/// `aud` (the client).
fn signed(
    services: &Data,
    alg: crate::keys::Alg,
    client_id: &str,
    mut body: Value,
) -> Result<HttpResponse, Failure> {
    let key = services
        .keys
        .current()
        .signer(alg)
        .ok_or_else(|| Failure::Json(OAuthError::server_error()))?;
    let now = crate::db::unix_now();
    body["iss"] = services.settings.issuer.clone().into();
    body["aud"] = client_id.into();
    body["iat"] = now.into();
    body["exp"] = (now + 300).into();
    Ok(HttpResponse::Ok()
        .content_type("application/jwt")
        .insert_header(("Cache-Control", "no-store"))
        .body(key.sign_jwt("JWT", &body)))
}

//! The UserInfo endpoint (OpenID Connect Core §5.3): GET or POST, token in the header or
//! (POST) in the form body.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::errors::Failure;
use super::token::read_form;
use super::{bearer, Data};
use crate::oauth::claims::claims_for;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::subject::token_user;

pub const PATH: &str = "/userinfo";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(userinfo))
        .route(PATH, web::post().to(userinfo));
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
    let sealer = services.sealer.clone();
    let token = claims.clone();
    let user = services
        .db
        .run(move |c| match token_user(c, &sealer, &token)? {
            Some(id) => c.find_user(&id),
            None => Ok(None),
        })
        .await
        .map_err(|e| Failure::Bearer(e.into()))?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            Failure::Bearer(OAuthError::invalid_token(
                "the token's user is not available",
            ))
        })?;
    let named = claims.userinfo_claims.iter().map(String::as_str);
    let body = Value::Object(claims_for(&user, &claims.sub, &scopes, named));
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

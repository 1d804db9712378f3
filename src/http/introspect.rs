//! Token introspection (RFC 7662) and revocation (RFC 7009). Both require client
//! authentication.

use actix_web::{web, HttpRequest, HttpResponse};

use super::errors::Failure;
use super::token::{authenticate_client, read_form};
use super::Data;
use crate::crypto::secret_hash;
use crate::oauth::error::OAuthError;
use crate::oauth::introspect::{
    access_token_response, inactive, may_see_access_token, refresh_is_active,
    refresh_token_response,
};
use crate::oauth::tokens::verify_access_token;

pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(INTROSPECT, web::post().to(introspect))
        .route(REVOKE, web::post().to(revoke));
}

fn json(v: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(v)
}

async fn introspect(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let form = read_form(&req, payload).await?;
    let caller =
        authenticate_client(&services, &ctx, &form, &services.settings.url(INTROSPECT)).await?;
    if caller.is_public() {
        // Introspection is for resource servers and confidential clients.
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens").into());
    }
    let token = form.require("token")?.to_string();
    let now = ctx.now;
    let keys = services.keys.current();
    if let Ok(claims) = verify_access_token(&keys, &token, &services.settings.issuer, now) {
        if !may_see_access_token(&caller, &claims) {
            return Ok(json(inactive()));
        }
        let (jti, sub, user_token) = (
            claims.jti.clone(),
            claims.sub.clone(),
            claims.is_user_token(),
        );
        let active = services
            .db
            .run(move |c| {
                if c.is_jti_revoked(&jti)? {
                    return Ok(false);
                }
                // A disabled or deleted user's tokens are no longer active.
                Ok(!user_token || c.find_user(&sub)?.is_some_and(|u| !u.disabled))
            })
            .await
            .map_err(OAuthError::from)?;
        return Ok(json(if active {
            access_token_response(&claims)
        } else {
            inactive()
        }));
    }
    let hash = secret_hash(&token);
    let record = services
        .db
        .run(move |c| {
            let Some(r) = c.find_refresh(&hash)? else {
                return Ok(None);
            };
            let user_ok = c.find_user(&r.user_id)?.is_some_and(|u| !u.disabled);
            Ok(user_ok.then_some(r))
        })
        .await
        .map_err(OAuthError::from)?;
    Ok(json(match record {
        Some(r) if r.client_id == caller.client_id && refresh_is_active(&r, now) => {
            refresh_token_response(&r, &services.settings.issuer)
        }
        _ => inactive(),
    }))
}

async fn revoke(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let form = read_form(&req, payload).await?;
    let caller =
        authenticate_client(&services, &ctx, &form, &services.settings.url(REVOKE)).await?;
    let token = form.require("token")?.to_string();
    let now = ctx.now;
    let keys = services.keys.current();
    let ok = HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    if let Ok(claims) = verify_access_token(&keys, &token, &services.settings.issuer, now) {
        if claims.client_id != caller.client_id {
            return Err(
                OAuthError::unauthorized_client("the token was issued to another client").into(),
            );
        }
        // Recorded until the token's own expiry, so every instance sees it at once.
        services
            .db
            .run(move |c| c.revoke_jti(&claims.jti, claims.exp))
            .await
            .map_err(OAuthError::from)?;
        return Ok(ok);
    }
    let hash = secret_hash(&token);
    let caller_id = caller.client_id.clone();
    let foreign = services
        .db
        .run(move |c| match c.find_refresh(&hash)? {
            Some(r) if r.client_id == caller_id => {
                c.revoke_family(&r.family_id, now)?;
                Ok(false)
            }
            Some(_) => Ok(true),
            None => Ok(false),
        })
        .await
        .map_err(OAuthError::from)?;
    if foreign {
        return Err(
            OAuthError::unauthorized_client("the token was issued to another client").into(),
        );
    }
    // Unknown tokens: 200, as RFC 7009 §2.2 says.
    Ok(ok)
}

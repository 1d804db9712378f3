//! Token introspection (RFC 7662) and revocation (RFC 7009). Both require client
//! authentication.

use actix_web::{web, HttpRequest, HttpResponse};

use super::errors::Failure;
use super::token::client_request;
use super::Data;
use crate::crypto::secret_hash;
use crate::oauth::error::OAuthError;
use crate::oauth::introspect;
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
    let (ctx, form, caller) = client_request(&services, &req, payload, INTROSPECT).await?;
    if caller.is_public() {
        // Introspection is for resource servers and confidential clients.
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens").into());
    }
    let token = form.require("token")?.to_string();
    let keys = services.keys.current();
    let issuer = services.settings.issuer.clone();
    let verified = services
        .verified
        .verify(&keys, &token, &issuer, ctx.now)
        .ok();
    let sealer = services.sealer.clone();
    let answer = services
        .db
        .run(move |s| match verified {
            Some(claims) => introspect::introspect_access(s, &sealer, &caller, &claims),
            None => {
                let hash = secret_hash(&token);
                introspect::introspect_refresh(s, &sealer, &caller, &hash, &issuer, ctx.now)
            }
        })
        .await
        .map_err(OAuthError::from)?;
    Ok(json(answer))
}

async fn revoke(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (ctx, form, caller) = client_request(&services, &req, payload, REVOKE).await?;
    let token = form.require("token")?.to_string();
    let keys = services.keys.current();
    let verified = verify_access_token(&keys, &token, &services.settings.issuer, ctx.now).ok();
    services
        .db
        .run(move |s| match verified {
            Some(claims) => introspect::revoke_access(s, &caller, &claims),
            None => introspect::revoke_refresh(s, &caller, &secret_hash(&token), ctx.now),
        })
        .await
        .map_err(OAuthError::from)??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

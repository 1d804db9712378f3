//! Bearer tokens at protected resources (RFC 6750): reading the token, checking it is
//! one of ours, unexpired and not revoked.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::errors::Failure;
use super::Data;
use crate::db::unix_now;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::tokens::{verify_access_token, AccessClaims};

/// The token from `Authorization: Bearer …`, or from a form body's `access_token` when
/// `form` is given (RFC 6750 §2.2). Using both is an error.
pub fn read_token(req: &HttpRequest, form: Option<&Params>) -> Result<String, Failure> {
    let header_token = match req.headers().get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().unwrap_or("");
            match v.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Some(token.trim().to_string())
                }
                _ => {
                    return Err(Failure::Bearer(OAuthError::invalid_request(
                        "use the Bearer scheme",
                    )))
                }
            }
        }
        None => None,
    };
    let body_token = form.and_then(|f| f.get("access_token")).map(str::to_string);
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(Failure::Bearer(OAuthError::invalid_request(
            "send the token only once",
        ))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(Failure::BearerMissing),
    }
}

/// Verifies an access token for gatehouse's own endpoints: issued by this server, for
/// this server (`aud` is the issuer, RFC 9068 §4), unexpired and not revoked.
pub async fn verify(services: &Data, token: &str) -> Result<AccessClaims, OAuthError> {
    let keys = services.keys.current();
    let issuer = &services.settings.issuer;
    let claims = verify_access_token(&keys, token, issuer, unix_now())?;
    if !claims.aud.is_only(issuer) {
        return Err(OAuthError::invalid_token(
            "the access token is not meant for this server",
        ));
    }
    // The client it was issued to must still exist, and its secret, method or scopes
    // must not have changed since.
    let client = services.client(&claims.client_id).await?;
    if client.is_none_or(|c| claims.iat < c.tokens_valid_after) {
        return Err(OAuthError::invalid_token(
            "the client of this access token is gone or has changed",
        ));
    }
    let jti = claims.jti.clone();
    if services.db.run(move |c| c.is_jti_revoked(&jti)).await? {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    Ok(claims)
}

/// A valid token carrying `scope`; 401 without a valid token, 403 without the scope.
pub async fn require_scope(
    services: &Data,
    req: &HttpRequest,
    scope: &str,
) -> Result<AccessClaims, Failure> {
    let token = read_token(req, None)?;
    let claims = verify(services, &token).await.map_err(Failure::Bearer)?;
    if !claims.scopes().contains(scope) {
        return Err(Failure::Bearer(OAuthError::new(
            ErrorCode::InsufficientScope,
            format!("the token lacks the '{scope}' scope"),
        )));
    }
    Ok(claims)
}

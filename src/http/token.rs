//! The token endpoint: HTTP in, `oauth::token` grants, HTTP out.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::errors::Failure;
use super::Data;
use crate::db::grants::GrantStore;
use crate::db::unix_now;
use crate::domain::Client;
use crate::domain::Scopes;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::token::{AuthCode, Issuer, RefreshToken, TokenRequest, TokenResponse};

pub const PATH: &str = "/token";
/// Token, introspection and revocation requests are small; anything larger is refused.
pub const MAX_BODY: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::post().to(token));
}

/// Reads a form-encoded body of at most [`MAX_BODY`] bytes into parameters.
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Params, OAuthError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = payload
        .to_bytes_limited(MAX_BODY)
        .await
        .map_err(|_| OAuthError::invalid_request("the request body is too large"))?
        .map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
    let pairs = url::form_urlencoded::parse(&body).into_owned().collect();
    Params::from_pairs(pairs)
}

/// Authenticates the calling client with its registered method. `endpoint` is the URL a
/// client assertion may name as its audience (besides the issuer).
pub async fn authenticate_client(
    services: &Data,
    req: &HttpRequest,
    form: &Params,
    endpoint: &str,
) -> Result<Arc<Client>, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let presented = client_auth::presented(authorization, form)?;
    let basic = presented.is_basic();
    let unknown =
        || OAuthError::invalid_client("client authentication failed").with_basic_challenge(basic);
    let client = services
        .client(presented.client_id())
        .await?
        .ok_or_else(unknown)?;
    let now = unix_now();
    let audiences = [
        endpoint.to_string(),
        services.settings.url(PATH),
        services.settings.issuer.clone(),
    ];
    let assertion = client_auth::verify(&presented, &client, &audiences, now)?;
    if let (Some(a), Presented::Assertion { client_id, .. }) = (assertion, &presented) {
        let key = format!("{client_id}:{}", a.jti);
        let fresh = services
            .db
            .run(move |c| c.use_assertion(&key, a.expires_at))
            .await?;
        if !fresh {
            return Err(OAuthError::invalid_client(
                "the client assertion was already used",
            ));
        }
    }
    Ok(client)
}

/// The grants that need storage.
enum StoredGrant {
    Code(AuthCode, Option<String>, Option<String>),
    Refresh(RefreshToken, Option<Scopes>),
}

fn token_response(body: &TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

async fn token(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_form(&req, payload).await?;
    let client = authenticate_client(&services, &req, &form, &services.settings.url(PATH)).await?;
    let now = unix_now();
    let grant = match TokenRequest::parse(&form)? {
        TokenRequest::ClientCredentials { scope, resource } => {
            // Stateless: no database work, so it stays on this worker.
            let keys = services.keys.current();
            let issuer = Issuer {
                settings: &services.settings,
                keys: &keys,
                sealer: &services.sealer,
                now,
            };
            return Ok(token_response(&issuer.client_credentials(
                &client,
                scope,
                resource.as_deref(),
            )?));
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => StoredGrant::Code(code, redirect_uri, code_verifier),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => StoredGrant::Refresh(refresh_token, scope),
    };
    let s = services.clone();
    let keys = services.keys.current();
    let (result, events) = services
        .db
        .run(move |conn| {
            let issuer = Issuer {
                settings: &s.settings,
                keys: &keys,
                sealer: &s.sealer,
                now,
            };
            let mut events = Vec::new();
            let result = match grant {
                StoredGrant::Code(code, redirect_uri, verifier) => issuer.authorization_code(
                    conn,
                    &client,
                    &code,
                    redirect_uri.as_deref(),
                    verifier.as_deref(),
                    &mut events,
                ),
                StoredGrant::Refresh(token, scope) => {
                    issuer.refresh(conn, &client, &token, scope, &mut events)
                }
            };
            Ok((result, events))
        })
        .await
        .map_err(OAuthError::from)?;
    for event in events {
        super::audit::security_event(&services, &req, event).await;
    }
    Ok(token_response(&result?))
}

//! The token endpoint: HTTP in, the grant registry's answer, HTTP out.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::context::RequestContext;
use super::errors::Failure;
use super::Data;
use crate::domain::client::Provenance;
use crate::domain::Client;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::OAuthError;
use crate::oauth::grants::{self, Issuer, TokenResponse};
use crate::oauth::params::Params;

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
    ctx: &RequestContext,
    form: &Params,
    endpoint: &str,
) -> Result<Arc<Client>, OAuthError> {
    let presented = client_auth::presented(ctx.authorization.as_deref(), form)?;
    let basic = presented.is_basic();
    let unknown =
        || OAuthError::invalid_client("client authentication failed").with_basic_challenge(basic);
    let client = services
        .client(presented.client_id())
        .await?
        .ok_or_else(unknown)?;
    let client = match &presented {
        Presented::Assertion { assertion, .. } => {
            let kid = jsonwebtoken::decode_header(assertion.secret())
                .ok()
                .and_then(|h| h.kid);
            services
                .with_client_keys(client, kid.as_deref())
                .await
                .map_err(|e| {
                    OAuthError::invalid_client(format!("the client's keys cannot be fetched: {e}"))
                })?
        }
        _ => client,
    };
    let audiences = [
        endpoint.to_string(),
        services.settings.url(PATH),
        services.settings.issuer.clone(),
    ];
    let assertion = client_auth::verify(&presented, &client, &audiences, ctx.now)?;
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

/// What the client-authenticated endpoints at `path` start with: the request's context,
/// its form, and the client that authenticated.
pub async fn client_request(
    services: &Data,
    req: &HttpRequest,
    payload: web::Payload,
    path: &str,
) -> Result<(RequestContext, Params, Arc<Client>), OAuthError> {
    let ctx = super::context(services, req);
    let form = read_form(req, payload).await?;
    let client = authenticate_client(services, &ctx, &form, &services.settings.url(path)).await?;
    Ok((ctx, form, client))
}

fn token_response(body: &TokenResponse) -> HttpResponse {
    super::no_store_json(actix_web::http::StatusCode::OK, body)
}

/// The token endpoint. A request with a DPoP proof gets the current nonce in
/// `DPoP-Nonce` with any answer (RFC 9449 §8), so a client can retry at once.
async fn token(services: Data, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let mut res = match answer(&services, &req, payload).await {
        Ok(res) => res,
        Err(failure) => actix_web::ResponseError::error_response(&failure),
    };
    if req.headers().contains_key("dpop") {
        let nonce = super::dpop::nonce(&services, crate::db::unix_now());
        if let Ok(v) = header::HeaderValue::from_str(&nonce) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("dpop-nonce"), v);
        }
    }
    res
}

/// The key of the request's DPoP proof, if it has one; required for a client registered
/// with `dpop_bound_access_tokens`.
async fn proof_key(
    services: &Data,
    ctx: &RequestContext,
    client: &Client,
) -> Result<Option<String>, OAuthError> {
    let url = services.settings.url(PATH);
    let jkt = super::dpop::check(services, ctx, "POST", &url, None)
        .await
        .map_err(super::dpop::Refused::for_token_endpoint)?;
    if jkt.is_none() && client.dpop_bound {
        return Err(OAuthError::invalid_request(
            "this client must send a DPoP proof (dpop_bound_access_tokens)",
        ));
    }
    Ok(jkt)
}

/// Authenticates the client, lets the registry pick the grant, and answers: on this
/// thread when the grant needs no storage, on the blocking pool otherwise.
async fn answer(
    services: &Data,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (ctx, form, client) = client_request(services, req, payload, PATH).await?;
    let (grant, request) = grants::parse_request(&form)?;
    let alg = client
        .access_token_alg
        .unwrap_or(services.settings.access_token_alg);
    let issued = |services: &Data| services.metrics.token(grant.as_str(), alg.as_str());
    let jkt = proof_key(services, &ctx, &client).await?;
    let keys = services.keys.current();
    let resources = services.resources().await.map_err(OAuthError::from)?;
    let issuer = Issuer {
        settings: &services.settings,
        keys: &keys,
        sealer: &services.sealer,
        resources: &resources,
        dpop_jkt: jkt.as_deref(),
        now: ctx.now,
    };
    if let Some(outcome) = request.answer_without_store(&issuer, &client) {
        let response = token_response(&outcome.result?);
        issued(services);
        return Ok(response);
    }
    let s = services.clone();
    let now = ctx.now;
    let outcome = services
        .db
        .run(move |store| {
            let issuer = Issuer {
                settings: &s.settings,
                keys: &keys,
                sealer: &s.sealer,
                resources: &resources,
                dpop_jkt: jkt.as_deref(),
                now,
            };
            let outcome = request.answer(&issuer, &client, store)?;
            if outcome.result.is_ok() && client.provenance == Provenance::SelfRegistered {
                store.mark_client_used(&client.client_id, now)?;
            }
            Ok(outcome)
        })
        .await
        .map_err(OAuthError::from)?;
    for event in outcome.events {
        services.metrics.security_event(match event {
            grants::SecurityEvent::CodeReplay { .. } => "code_replay",
            grants::SecurityEvent::RefreshReuse { .. } => "refresh_reuse",
        });
        super::audit::security_event(services, &ctx, event).await;
    }
    let response = token_response(&outcome.result?);
    issued(services);
    Ok(response)
}

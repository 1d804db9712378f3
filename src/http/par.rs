//! `POST /par` (RFC 9126): a client pushes its authorization request, which is checked
//! exactly as `/authorize` would check it, and gets a one-time `request_uri` for it.
//! `/authorize` then takes that `request_uri` ([`expand`]).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::authorize::bad_request_page;
use super::errors::Failure;
use super::token::client_request;
use super::Data;
use crate::crypto::secret_hash;
use crate::domain::Client;
use crate::oauth::authorize::AuthorizeRequest;
use crate::oauth::error::OAuthError;
use crate::oauth::par;
use crate::oauth::params::Params;
use crate::oauth::redirect;

pub const PATH: &str = "/par";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::post().to(push));
}

async fn push(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (ctx, form, client) = client_request(&services, &req, payload, PATH).await?;
    let pushed = super::request_object::expand(&services, form.clone(), &client).await?;
    // The client's credentials stay out of what is stored.
    let form = if form.get("request").is_some() {
        pushed
    } else {
        form
    };
    // A proof with the push binds the code to its key (RFC 9449 §10.1).
    let proved = super::dpop::check(&services, &ctx, "POST", &services.settings.url(PATH), None)
        .await
        .map_err(super::dpop::Refused::for_token_endpoint)?;
    let form = match (proved, form.get("dpop_jkt")) {
        (Some(jkt), Some(given)) if jkt != given => {
            return Err(OAuthError::new(
                crate::oauth::error::ErrorCode::InvalidDpopProof,
                "dpop_jkt is not the key of the DPoP proof",
            )
            .into())
        }
        (Some(jkt), _) => form.with("dpop_jkt", &jkt),
        (None, _) => form,
    };
    par::check_pushable(&form)?;
    // The same checks as /authorize, answered here as JSON (RFC 9126 §2.3).
    let target = redirect::target(&form, Some(&client))
        .map_err(|e| OAuthError::invalid_request(e.message()))?;
    let registered = services.resources().await.map_err(OAuthError::from)?;
    AuthorizeRequest::parse(
        &form,
        &client,
        &target,
        &services.settings.issuer,
        &registered,
    )?;
    let request_uri = par::new_request_uri();
    let (hash, id, stored) = (
        secret_hash(&request_uri),
        client.client_id.clone(),
        par::to_store(&form),
    );
    let expires_at = ctx.now + par::LIFETIME;
    services
        .db
        .run(move |c| c.push_request(&hash, &id, &stored, expires_at))
        .await
        .map_err(OAuthError::from)?;
    Ok(super::no_store_json(
        StatusCode::CREATED,
        &json!({"request_uri": request_uri, "expires_in": par::LIFETIME}),
    ))
}

/// A request object by reference (RFC 9101 §5.2): fetched, through the safe fetcher,
/// from one of the client's registered `request_uris` only; any other `request_uri` is
/// left for `/authorize` to refuse as `request_uri_not_supported`.
async fn by_reference(
    services: &Data,
    params: Params,
    client: &Client,
    uri: &str,
) -> Result<Params, Failure> {
    if !client.request_uris.iter().any(|r| r == uri) {
        return Ok(params);
    }
    if required(services, client) {
        return Err(bad_request_page(
            "This application must push its sign-in requests first (RFC 9126).",
        ));
    }
    let fetched = services
        .remote
        .documents
        .fetcher()
        .get(uri, 64 * 1024)
        .await
        .map_err(|e| bad_request_page(format!("The request object cannot be fetched: {e}.")))?;
    let jwt = String::from_utf8_lossy(&fetched.body).trim().to_string();
    Params::from_pairs(vec![
        ("client_id".into(), client.client_id.clone()),
        ("request".into(), jwt),
    ])
    .map_err(|_| bad_request_page("The request object is unreadable."))
}

/// Whether authorization requests of `client` must be pushed.
fn required(services: &Data, client: &Client) -> bool {
    services.settings.outbound.require_par || client.require_par
}

/// The authorization request's parameters: the pushed ones (sealed) for a `request_uri`,
/// the request itself otherwise. A request with a seal must carry a valid one; a client
/// that must push may not send its parameters directly.
pub async fn expand(services: &Data, params: Params, client: &Client) -> Result<Params, Failure> {
    let Some(uri) = params.get("request_uri").map(str::to_string) else {
        return match par::seal_valid(&services.sealer, &params) {
            Some(true) => Ok(params),
            Some(false) => Err(bad_request_page("The sign-in request was altered.")),
            None if required(services, client) => Err(bad_request_page(
                "This application must push its sign-in requests first (RFC 9126).",
            )),
            None => Ok(params),
        };
    };
    if !uri.starts_with(par::URN_PREFIX) {
        return by_reference(services, params, client, &uri).await;
    }
    let (hash, id) = (secret_hash(&uri), client.client_id.clone());
    let now = crate::db::unix_now();
    let taken = services
        .db
        .run(move |c| c.take_pushed_request(&hash, &id, now))
        .await
        .map_err(super::authorize::unavailable)?;
    let query = taken.ok_or_else(|| {
        bad_request_page("The pushed sign-in request has expired or was already used.")
    })?;
    let pushed = Params::parse_query(&query)
        .map_err(|_| bad_request_page("The pushed sign-in request is unreadable."))?;
    Ok(par::sealed(&services.sealer, pushed))
}

//! Dynamic client registration (RFC 7591) at `POST /register`, for a Bearer token with
//! `gatehouse:admin` (the "initial access token"), and client configuration (RFC 7592) at
//! `/register/{client_id}`, for the registration access token issued with the client.
//! The changes themselves are the application layer's (`app::clients`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::admin_api::require_admin;
use super::bearer::read_token;
use super::errors::Failure;
use super::Data;
use crate::app::clients::{self as ops, Via};
use crate::app::{Actor, AppError};
use crate::crypto::verify_secret;
use crate::domain::{Client, ClientId};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::registration::open as open_registration;
use crate::oauth::registration::{
    check_update_identity, from_json, update_may_keep_admin_scope, ClientMetadataRequest,
    OperatorSettings, RegistrationResponse,
};

pub const PATH: &str = "/register";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::post().to(register)).service(
        web::resource("/register/{client_id}")
            .route(web::get().to(read))
            .route(web::put().to(update))
            .route(web::delete().to(delete)),
    );
}

/// `registration_client_uri`: where the client reads, updates and deletes itself.
fn client_uri(services: &Data, client_id: &str) -> String {
    services.settings.url(&format!("{PATH}/{client_id}"))
}

fn parse(body: &[u8]) -> Result<ClientMetadataRequest, OAuthError> {
    from_json(body).map_err(|e| {
        let code = if e.field.is_some() {
            ErrorCode::InvalidClientMetadata
        } else {
            ErrorCode::InvalidRequest
        };
        OAuthError::new(code, e.to_string())
    })
}

fn respond(status: StatusCode, body: &RegistrationResponse) -> HttpResponse {
    super::no_store_json(status, body)
}

async fn register(
    services: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let policy = &services.settings.outbound.registration;
    let anonymous = policy.open && req.headers().get(header::AUTHORIZATION).is_none();
    let actor = match anonymous {
        true => ctx.actor("registration:open"),
        false => ctx.actor(require_admin(&services, &req).await?.actor),
    };
    let id = ClientId::generate();
    // Operator-only settings stay at their defaults, and gatehouse:admin is refused.
    let mut new = parse(&body)?
        .validate(id.as_str(), OperatorSettings::default(), false)
        .map_err(OAuthError::from)?;
    services
        .check_sector(&new)
        .await
        .map_err(OAuthError::from)?;
    if anonymous {
        limit_open_registration(&services, &ctx)?;
        open_registration::restrict(&mut new, &policy.scopes).map_err(OAuthError::from)?;
    }
    let created = super::run_app::<_, OAuthError, _>(&services, move |s| {
        ops::create_client(s, &actor, &id, &new, Via::Registration, ctx.now)
    })
    .await?;
    let client = &created.client;
    Ok(respond(
        StatusCode::CREATED,
        &RegistrationResponse {
            metadata: client.into(),
            client_secret: created.secret.as_ref().map(|s| s.secret().to_string()),
            client_secret_expires_at: created.secret.as_ref().map(|_| 0),
            registration_access_token: created
                .registration_token
                .as_ref()
                .map(|t| t.secret().to_string()),
            registration_client_uri: client_uri(&services, &client.client_id),
        },
    ))
}

/// At most the configured number of open registrations per client address per hour.
fn limit_open_registration(
    services: &Data,
    ctx: &super::context::RequestContext,
) -> Result<(), Failure> {
    let rate = services.settings.outbound.registration.rate;
    let key = crate::domain::throttle::ip_key(ctx.client_ip.as_deref().unwrap_or("unknown"));
    if services.registrations.allow(&key, rate) {
        return Ok(());
    }
    Err(Failure::TooMany(OAuthError::new(
        ErrorCode::InvalidRequest,
        format!("too many registrations from this address; at most {rate} an hour"),
    )))
}

/// The client whose registration access token the request carries, and the token. A
/// wrong token, a client without one and an unknown client all get the same 401, so the
/// answer does not tell whether a client id exists.
async fn authorize(
    services: &Data,
    req: &HttpRequest,
    client_id: &str,
) -> Result<(Client, String), Failure> {
    let token = read_token(req, None)?;
    let id = client_id.to_string();
    let client = services
        .db
        .run(move |c| c.find_client(&id))
        .await
        .map_err(|e| Failure::Bearer(e.into()))?;
    let valid = client
        .as_ref()
        .and_then(|c| c.registration_token_hash.as_deref())
        .is_some_and(|h| verify_secret(&token, h));
    match client {
        Some(c) if valid => Ok((c, token)),
        _ => Err(Failure::Bearer(OAuthError::invalid_token(
            "the registration access token is not valid for this client",
        ))),
    }
}

/// RFC 7592 §3: the client's metadata with `registration_access_token` and
/// `registration_client_uri`, both required.
async fn read(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let (client, token) = authorize(&services, &req, &path).await?;
    Ok(respond(
        StatusCode::OK,
        &RegistrationResponse {
            metadata: (&client).into(),
            client_secret: None,
            client_secret_expires_at: None,
            registration_access_token: Some(token),
            registration_client_uri: client_uri(&services, &client.client_id),
        },
    ))
}

/// RFC 7592 §2.2: the body replaces every field; what it leaves out takes its default.
/// Settings only an operator makes (consent skipping, audience, access token algorithm)
/// are kept, and `gatehouse:admin` is never added.
async fn update(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let (existing, token) = authorize(&services, &req, &path).await?;
    let input = parse(&body)?;
    check_update_identity(&input, &existing).map_err(OAuthError::from)?;
    let id = existing.client_id.clone();
    let new = input
        .validate(
            &id,
            OperatorSettings::of(&existing),
            update_may_keep_admin_scope(&existing),
        )
        .map_err(OAuthError::from)?;
    services
        .check_sector(&new)
        .await
        .map_err(OAuthError::from)?;
    let actor = ctx.actor(format!("client:{id}"));
    let cache = services.clients.clone();
    let replaced = services
        .db
        .run(move |s| {
            Ok(ops::replace_client(
                s,
                &cache,
                &actor,
                &existing,
                &new,
                Via::Registration,
                ctx.now,
            ))
        })
        .await
        .map_err(OAuthError::from)?;
    let (client, secret) = match replaced {
        Ok(v) => v,
        // Deleted meanwhile: the token no longer names a client.
        Err(AppError::NotFound(_)) => {
            return Err(Failure::Bearer(OAuthError::invalid_token(
                "the client is gone",
            )))
        }
        Err(e) => return Err(OAuthError::from(e).into()),
    };
    Ok(respond(
        StatusCode::OK,
        &RegistrationResponse {
            metadata: (&client).into(),
            client_secret: secret.as_ref().map(|s| s.secret().to_string()),
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            registration_access_token: Some(token),
            registration_client_uri: client_uri(&services, &id),
        },
    ))
}

async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let (client, _) = authorize(&services, &req, &path).await?;
    let id = client.client_id.clone();
    let actor: Actor = ctx.actor(format!("client:{id}"));
    let cache = services.clients.clone();
    super::run_app::<_, OAuthError, _>(&services, move |s| {
        ops::delete_client(s, &cache, &actor, &id, Via::Registration, ctx.now)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

//! Dynamic client registration (RFC 7591) at `POST /register`, for a Bearer token with
//! `gatehouse:admin` (the "initial access token"), and client configuration (RFC 7592) at
//! `/register/{client_id}`, for the registration access token issued with the client.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::admin_api::{audit_event, client_audit_detail, require_admin};
use super::audit::record;
use super::bearer::read_token;
use super::errors::Failure;
use super::Data;
use crate::crypto::{random_token, secret_hash, verify_secret};
use crate::db::clients::ClientStore;
use crate::db::unix_now;
use crate::domain::client::ClientSecret;
use crate::domain::{Client, ClientId};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::registration::{
    check_update_identity, from_json, secret_change, update_may_keep_admin_scope,
    ClientMetadataRequest, OperatorSettings, RegistrationResponse, SecretChange,
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
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

fn new_secret() -> ClientSecret {
    ClientSecret::new(random_token(32))
}

async fn register(
    services: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = require_admin(&services, &req).await?;
    let id = ClientId::generate();
    // Operator-only settings stay at their defaults, and gatehouse:admin is refused.
    let new = parse(&body)?
        .validate(id.as_str(), OperatorSettings::default(), false)
        .map_err(OAuthError::from)?;
    let secret = new.auth_method.uses_secret().then(new_secret);
    let hash = secret.as_ref().map(|s| secret_hash(s.secret()));
    let token = random_token(32);
    let token_hash = secret_hash(&token);
    let now = unix_now();
    let client = services
        .db
        .run(move |c| c.insert_client(id.as_str(), &new, hash, Some(token_hash), now))
        .await
        .map_err(OAuthError::from)?;
    let mut detail = client_audit_detail(&client);
    detail["via"] = json!("registration");
    let event = audit_event(
        &admin.actor,
        &req,
        "client.create",
        &client.client_id,
        detail,
    );
    record(&services, event).await;
    Ok(respond(
        StatusCode::CREATED,
        &RegistrationResponse {
            metadata: (&client).into(),
            client_secret: secret.as_ref().map(|s| s.secret().to_string()),
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            registration_access_token: Some(token),
            registration_client_uri: client_uri(&services, &client.client_id),
        },
    ))
}

/// The client whose registration access token the request carries. A wrong token, a
/// client without one and an unknown client all get the same 401, so the answer does
/// not tell whether a client id exists.
async fn authorize(services: &Data, req: &HttpRequest, client_id: &str) -> Result<Client, Failure> {
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
        Some(c) if valid => Ok(c),
        _ => Err(Failure::Bearer(OAuthError::invalid_token(
            "the registration access token is not valid for this client",
        ))),
    }
}

async fn read(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let client = authorize(&services, &req, &path).await?;
    Ok(respond(
        StatusCode::OK,
        &RegistrationResponse {
            metadata: (&client).into(),
            client_secret: None,
            client_secret_expires_at: None,
            registration_access_token: None,
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
    let existing = authorize(&services, &req, &path).await?;
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
    let (secret, hash) = match secret_change(existing.secret_hash.is_some(), new.auth_method) {
        SecretChange::Keep => (None, None),
        SecretChange::Clear => (None, Some(None)),
        SecretChange::Issue => {
            let s = new_secret();
            let h = secret_hash(s.secret());
            (Some(s), Some(Some(h)))
        }
    };
    let now = unix_now();
    let target = id.clone();
    let client = services
        .db
        .run(move |c| c.replace_client(&target, &new, hash, now))
        .await
        .map_err(OAuthError::from)?
        // Deleted meanwhile: the token no longer names a client.
        .ok_or_else(|| Failure::Bearer(OAuthError::invalid_token("the client is gone")))?;
    services.clients.forget(&id);
    let actor = format!("client:{id}");
    let mut detail = client_audit_detail(&client);
    detail["via"] = json!("registration");
    let event = audit_event(&actor, &req, "client.update", &id, detail);
    record(&services, event).await;
    Ok(respond(
        StatusCode::OK,
        &RegistrationResponse {
            metadata: (&client).into(),
            client_secret: secret.as_ref().map(|s| s.secret().to_string()),
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            registration_access_token: None,
            registration_client_uri: client_uri(&services, &id),
        },
    ))
}

async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let client = authorize(&services, &req, &path).await?;
    let id = client.client_id.clone();
    let target = id.clone();
    services
        .db
        .run(move |c| c.delete_client(&target))
        .await
        .map_err(OAuthError::from)?;
    services.clients.forget(&id);
    let actor = format!("client:{id}");
    let event = audit_event(
        &actor,
        &req,
        "client.delete",
        &id,
        json!({ "via": "registration" }),
    );
    record(&services, event).await;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

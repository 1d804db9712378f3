//! `/admin/api/clients`: list, create, show, replace, delete, rotate the secret.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{actor, admin, app, body, json, no_content, Paging, Refused};
use crate::app::clients::{self as ops, Via};
use crate::app::Actor;
use crate::domain::client::ClientSecret;
use crate::domain::{Client, ClientId};
use crate::http::errors::{ApiError, ApiErrorBody, Failure};
use crate::http::Data;
use crate::oauth::registration::{ClientMetadataRequest, ClientView, OperatorSettings};

/// A client as an operator registers it: RFC 7591 metadata (as for `POST /register`) plus
/// the settings only an operator may make. `gatehouse:admin` may be among the scopes.
#[derive(Deserialize, ToSchema)]
pub struct ClientRequest {
    #[serde(flatten)]
    pub metadata: ClientMetadataRequest,
    /// A first-party client: users are never asked for consent.
    #[serde(default)]
    pub skip_consent: bool,
    /// Space-separated audiences (`aud`) of the client's access tokens.
    pub audience: Option<String>,
    /// `ES256`, `RS256` or `EdDSA` (default: the server's setting).
    pub access_token_signed_response_alg: Option<String>,
}

impl ClientRequest {
    fn operator_settings(&self) -> OperatorSettings {
        OperatorSettings {
            skip_consent: self.skip_consent,
            audience: self.audience.clone(),
            access_token_alg: self.access_token_signed_response_alg.clone(),
        }
    }
}

/// A client and, when one was just issued, its secret (shown only this once). No
/// `Debug`: it holds a secret.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: ClientView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientPage {
    pub items: Vec<ClientView>,
    /// All clients, regardless of paging.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

/// No `Debug`: it holds a secret.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NewSecret {
    pub client_id: String,
    pub client_secret: String,
    /// 0: the secret does not expire.
    pub client_secret_expires_at: i64,
}

fn with_secret(c: &Client, secret: Option<&ClientSecret>) -> ClientWithSecret {
    ClientWithSecret {
        client: c.into(),
        client_secret: secret.map(|s| s.secret().to_string()),
        client_secret_expires_at: secret.map(|_| 0),
    }
}

/// List clients, oldest first.
#[utoipa::path(
    get,
    path = "/admin/api/clients",
    operation_id = "list_clients",
    tag = "clients",
    params(
        ("offset" = Option<i64>, Query, description = "Clients to skip (default 0)"),
        ("limit" = Option<i64>, Query, description = "At most this many, 1 to 200 (default 50)"),
    ),
    responses(
        (status = 200, description = "OK", body = ClientPage),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
    )
)]
pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let paging = Paging::parse(req.query_string())?;
    let (offset, limit) = (paging.offset, paging.limit);
    let (total, clients) = app(&services, move |c| {
        Ok((c.count_clients()?, c.list_clients(offset, limit)?))
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &ClientPage {
            items: clients.iter().map(ClientView::from).collect(),
            total,
            offset,
            limit,
        },
    ))
}

/// Register a client; the response shows its secret (if it uses one) this once only.
#[utoipa::path(
    post,
    path = "/admin/api/clients",
    operation_id = "create_client",
    tag = "clients",
    request_body = ClientRequest,
    responses(
        (status = 201, description = "Created", body = ClientWithSecret),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
    )
)]
pub async fn create(
    services: Data,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let input: ClientRequest = body(&bytes)?;
    let (client, secret) = create_client(&services, actor(&admin, &req), input).await?;
    Ok(json(
        StatusCode::CREATED,
        &with_secret(&client, secret.as_ref()),
    ))
}

/// Registers a client for `actor`: what `POST /admin/api/clients` and the admin pages
/// do. The secret, if the client uses one, is returned this once only.
pub async fn create_client(
    services: &Data,
    actor: Actor,
    input: ClientRequest,
) -> Result<(Client, Option<ClientSecret>), ApiError> {
    if input.metadata.client_secret.is_some() {
        return Err(ApiError::bad_request(
            "client_secret: secrets are generated",
        ));
    }
    let id = ClientId::generate();
    let operator = input.operator_settings();
    let new = input
        .metadata
        .validate(id.as_str(), operator, true)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    services
        .check_sector(&new)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let created = app(services, move |s| {
        ops::create_client(s, &actor, &id, &new, Via::Operator, crate::db::unix_now())
    })
    .await?;
    Ok((created.client, created.secret))
}

/// A client by id; `not_found` otherwise.
pub async fn find_client(services: &Data, client_id: &str) -> Result<Client, ApiError> {
    let id = client_id.to_string();
    app(services, move |s| ops::find_client(s, &id)).await
}

/// Show one client.
#[utoipa::path(
    get,
    path = "/admin/api/clients/{client_id}",
    operation_id = "show_client",
    tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "OK", body = ClientView),
        Refused,
        (status = 404, description = "No such client (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn show(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let client = find_client(&services, &path).await?;
    Ok(json(StatusCode::OK, &ClientView::from(&client)))
}

/// Replace a client's metadata (every field; what is left out takes its default). The
/// secret stays unless the new method needs one the client lacks (then it is issued and
/// shown once) or uses none (then it is dropped).
#[utoipa::path(
    put,
    path = "/admin/api/clients/{client_id}",
    operation_id = "replace_client",
    tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = ClientRequest,
    responses(
        (status = 200, description = "OK", body = ClientWithSecret),
        (status = 400, description = "Invalid request (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 404, description = "No such client (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn replace(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let input: ClientRequest = body(&bytes)?;
    let (client, secret) = replace_client(&services, actor(&admin, &req), &path, input).await?;
    Ok(json(StatusCode::OK, &with_secret(&client, secret.as_ref())))
}

/// Replaces a client's metadata for `actor`. The secret stays unless the new method
/// needs one the client lacks (then it is issued and returned, once) or uses none (then
/// it is dropped).
pub async fn replace_client(
    services: &Data,
    actor: Actor,
    id: &str,
    input: ClientRequest,
) -> Result<(Client, Option<ClientSecret>), ApiError> {
    if input.metadata.client_id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::bad_request("client_id: differs from the path"));
    }
    if input.metadata.client_secret.is_some() {
        return Err(ApiError::bad_request(
            "client_secret: use rotate-secret for a new secret",
        ));
    }
    let existing = find_client(services, id).await?;
    let operator = input.operator_settings();
    let new = input
        .metadata
        .validate(id, operator, true)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    services
        .check_sector(&new)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cache = services.clients.clone();
    app(services, move |s| {
        ops::replace_client(
            s,
            &cache,
            &actor,
            &existing,
            &new,
            Via::Operator,
            crate::db::unix_now(),
        )
    })
    .await
}

/// Delete a client and everything issued to it.
#[utoipa::path(
    delete,
    path = "/admin/api/clients/{client_id}",
    operation_id = "delete_client",
    tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Deleted"),
        Refused,
        (status = 404, description = "No such client (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    delete_client(&services, actor(&admin, &req), &path).await?;
    Ok(no_content())
}

/// Deletes a client (and everything issued to it) for `actor`.
pub async fn delete_client(services: &Data, actor: Actor, id: &str) -> Result<(), ApiError> {
    let (cache, id) = (services.clients.clone(), id.to_string());
    app(services, move |s| {
        ops::delete_client(s, &cache, &actor, &id, Via::Operator, crate::db::unix_now())
    })
    .await
}

/// Issue a new secret; the old one stops working at once. Shown this once only.
#[utoipa::path(
    post,
    path = "/admin/api/clients/{client_id}/rotate-secret",
    operation_id = "rotate_client_secret",
    tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "OK", body = NewSecret),
        Refused,
        (status = 404, description = "No such client (`not_found`)", body = ApiErrorBody),
        (status = 409, description = "The client authenticates without a secret (`conflict`)", body = ApiErrorBody),
    )
)]
pub async fn rotate_secret(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let id = path.into_inner();
    let secret = rotate_client_secret(&services, actor(&admin, &req), &id).await?;
    Ok(json(
        StatusCode::OK,
        &NewSecret {
            client_id: id,
            client_secret: secret.secret().to_string(),
            client_secret_expires_at: 0,
        },
    ))
}

/// Issues a new secret for `actor`; the old one stops working at once. A client that
/// authenticates without a secret is a `conflict`.
pub async fn rotate_client_secret(
    services: &Data,
    actor: Actor,
    id: &str,
) -> Result<ClientSecret, ApiError> {
    let (cache, id) = (services.clients.clone(), id.to_string());
    app(services, move |s| {
        ops::rotate_secret(s, &cache, &actor, &id, crate::db::unix_now())
    })
    .await
}

//! `/admin/api/resources`: the protected resources tokens are issued for. A resource is
//! named by its URL, so the one-resource routes take it as the `resource` query
//! parameter rather than as a path segment.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{actor, admin, app, body, json, no_content, Refused};
use crate::app::resources::{self as ops, ResourceInput};
use crate::app::Actor;
use crate::domain::ProtectedResource;
use crate::http::errors::{ApiError, ApiErrorBody, Failure};
use crate::http::Data;

/// A resource to register.
#[derive(Deserialize, ToSchema)]
pub struct ResourceRequest {
    /// The resource identifier (RFC 8707): https, no query or fragment.
    pub resource: String,
    /// Shown on consent pages; default: the metadata's `resource_name`, else the host.
    pub name: Option<String>,
    /// Scopes of the resource; default: the metadata's `scopes_supported`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Fetch the resource's RFC 9728 metadata, which must name this issuer (default true).
    #[serde(default = "yes")]
    pub fetch: bool,
}

fn yes() -> bool {
    true
}

/// A registered resource.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceView {
    pub resource: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// Its RFC 9728 metadata as last fetched.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Unix seconds; absent when registered without fetching.
    pub fetched_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&ProtectedResource> for ResourceView {
    fn from(r: &ProtectedResource) -> Self {
        ResourceView {
            resource: r.resource.clone(),
            name: r.name.clone(),
            scopes: r.scopes.iter().map(str::to_string).collect(),
            metadata: r.metadata.clone(),
            fetched_at: r.fetched_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The `resource` query parameter of a one-resource route, read after authentication
/// so that a request without a token gets its 401 first.
fn which(req: &HttpRequest) -> Result<String, ApiError> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad_request("resource: the query parameter is required"))
}

fn not_found(resource: &str) -> ApiError {
    ApiError::not_found(format!("no resource {resource}"))
}

/// List registered resources.
#[utoipa::path(
    get,
    path = "/admin/api/resources",
    operation_id = "list_resources",
    tag = "resources",
    responses((status = 200, description = "OK", body = Vec<ResourceView>), Refused)
)]
pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let all = app(&services, |s| Ok(s.list_resources()?)).await?;
    let views: Vec<ResourceView> = all.iter().map(ResourceView::from).collect();
    Ok(json(StatusCode::OK, &views))
}

/// Register a resource, from its RFC 9728 metadata unless `fetch` is false.
#[utoipa::path(
    post,
    path = "/admin/api/resources",
    operation_id = "create_resource",
    tag = "resources",
    request_body = ResourceRequest,
    responses(
        (status = 201, description = "Created", body = ResourceView),
        (status = 400, description = "Invalid, or its metadata unusable (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 409, description = "Registered already (`conflict`)", body = ApiErrorBody),
    )
)]
pub async fn create(
    services: Data,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let input: ResourceRequest = body(&bytes)?;
    let r = register_resource(&services, actor(&admin, &req), input).await?;
    Ok(json(StatusCode::CREATED, &ResourceView::from(&r)))
}

/// Registers a resource for `actor`, from its metadata unless the request says not to.
pub async fn register_resource(
    services: &Data,
    actor: Actor,
    input: ResourceRequest,
) -> Result<ProtectedResource, ApiError> {
    let wanted = ResourceInput {
        name: input.name,
        scopes: input.scopes,
    };
    let r = services
        .prepare_resource(&input.resource, &wanted, input.fetch)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let stored = r.clone();
    app(services, move |s| ops::register(s, &actor, &stored)).await?;
    services.resource_cache.forget();
    Ok(r)
}

/// Fetches a registered resource's metadata again, for `actor`.
pub async fn refresh_resource(
    services: &Data,
    actor: Actor,
    resource: &str,
) -> Result<ProtectedResource, ApiError> {
    let id = resource.to_string();
    if app(services, move |s| Ok(s.find_resource(&id)?))
        .await?
        .is_none()
    {
        return Err(not_found(resource));
    }
    let r = services
        .prepare_resource(resource, &ResourceInput::default(), true)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let updated = app(services, move |s| ops::update(s, &actor, &r)).await?;
    services.resource_cache.forget();
    Ok(updated)
}

/// Deletes a resource, for `actor`.
pub async fn delete_resource(
    services: &Data,
    actor: Actor,
    resource: &str,
) -> Result<(), ApiError> {
    let id = resource.to_string();
    app(services, move |s| {
        ops::delete(s, &actor, &id, crate::db::unix_now())
    })
    .await?;
    services.resource_cache.forget();
    Ok(())
}

/// Show one resource.
#[utoipa::path(
    get,
    path = "/admin/api/resource",
    operation_id = "show_resource",
    tag = "resources",
    params(("resource" = String, Query, description = "The resource identifier")),
    responses(
        (status = 200, description = "OK", body = ResourceView),
        Refused,
        (status = 404, description = "No such resource (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn show(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    admin(&services, &req).await?;
    let which = which(&req)?;
    let id = which.clone();
    let found = app(&services, move |s| Ok(s.find_resource(&id)?)).await?;
    let r = found.ok_or_else(|| not_found(&which))?;
    Ok(json(StatusCode::OK, &ResourceView::from(&r)))
}

/// Fetch the resource's metadata again and take its name and scopes from it.
#[utoipa::path(
    post,
    path = "/admin/api/resource/refresh",
    operation_id = "refresh_resource",
    tag = "resources",
    params(("resource" = String, Query, description = "The resource identifier")),
    responses(
        (status = 200, description = "OK", body = ResourceView),
        (status = 400, description = "Its metadata is unusable (`invalid_request`)", body = ApiErrorBody),
        Refused,
        (status = 404, description = "No such resource (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn refresh(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let which = which(&req)?;
    let updated = refresh_resource(&services, actor(&admin, &req), &which).await?;
    Ok(json(StatusCode::OK, &ResourceView::from(&updated)))
}

/// Delete a resource: tokens can no longer be requested for it.
#[utoipa::path(
    delete,
    path = "/admin/api/resource",
    operation_id = "delete_resource",
    tag = "resources",
    params(("resource" = String, Query, description = "The resource identifier")),
    responses(
        (status = 204, description = "Deleted"),
        Refused,
        (status = 404, description = "No such resource (`not_found`)", body = ApiErrorBody),
    )
)]
pub async fn delete(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let admin = admin(&services, &req).await?;
    let (actor, id) = (actor(&admin, &req), which(&req)?);
    app(&services, move |s| {
        ops::delete(s, &actor, &id, crate::db::unix_now())
    })
    .await?;
    services.resource_cache.forget();
    Ok(no_content())
}

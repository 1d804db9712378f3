//! `/admin/resources`: the protected resources tokens are issued for. Registering takes
//! the resource's URL; its name and scopes come from its RFC 9728 metadata unless given.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{
    admin_url, api_failure, notice, read_form, require_admin, respond, see_other, unavailable,
    Admin, FormError, Frame, Layout, Refusal, Section,
};
use crate::http::admin_api::resources::{
    delete_resource, refresh_resource, register_resource, ResourceRequest,
};
use crate::http::Data;

pub struct Row {
    pub resource: String,
    pub name: String,
    pub scopes: String,
    pub from_metadata: bool,
}

/// The values entered in the registration form.
#[derive(Debug, Clone, Default)]
pub struct ResourceForm {
    pub resource: String,
    pub name: String,
    pub scopes: String,
    pub no_fetch: bool,
}

#[derive(Template)]
#[template(path = "admin/resources.html")]
struct ListPage {
    layout: Layout,
    notice: Option<&'static str>,
    rows: Vec<Row>,
    action: String,
    refresh_url: String,
    delete_url: String,
    form: ResourceForm,
    error: Option<FormError>,
}

impl ListPage {
    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

async fn page(
    services: &Data,
    req: &HttpRequest,
    admin: &Admin,
    status: StatusCode,
    form: ResourceForm,
    error: Option<FormError>,
) -> Result<HttpResponse, Refusal> {
    let all = services
        .db
        .run(|c| c.list_resources())
        .await
        .map_err(unavailable)?;
    let rows = all
        .into_iter()
        .map(|r| Row {
            from_metadata: r.fetched_at.is_some(),
            scopes: r.scopes.to_string(),
            resource: r.resource,
            name: r.name,
        })
        .collect();
    let (layout, csrf) = Frame::new(services, req, admin, Section::Resources).take();
    let page = ListPage {
        layout,
        notice: notice(req),
        rows,
        action: admin_url(services, "/resources"),
        refresh_url: admin_url(services, "/resources/refresh"),
        delete_url: admin_url(services, "/resources/delete"),
        form,
        error,
    };
    Ok(respond(status, &page, &csrf))
}

pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    page(
        &services,
        &req,
        &admin,
        StatusCode::OK,
        Default::default(),
        None,
    )
    .await
}

/// The form's `resource` (forms are read like OAuth requests, where it may repeat).
fn resource_field(form: &crate::oauth::params::Params) -> String {
    form.resources()
        .first()
        .map_or_else(String::new, |r| r.trim().to_string())
}

fn done(services: &Data, notice: &str) -> HttpResponse {
    see_other(&admin_url(services, &format!("/resources?notice={notice}")))
}

pub async fn create(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let posted = read_form(&req, payload).await?;
    let text = |k: &str| posted.get(k).unwrap_or("").trim().to_string();
    let form = ResourceForm {
        resource: resource_field(&posted),
        name: text("name"),
        scopes: text("scopes"),
        no_fetch: posted.get("no_fetch").is_some(),
    };
    let input = ResourceRequest {
        resource: form.resource.clone(),
        name: Some(form.name.clone()).filter(|n| !n.is_empty()),
        scopes: form.scopes.split_whitespace().map(str::to_string).collect(),
        fetch: !form.no_fetch,
    };
    match register_resource(&services, admin.actor(&req), input).await {
        Ok(_) => Ok(done(&services, "resource-registered")),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) => {
            let fields = [
                ("resource", "resource", "Resource URL"),
                ("name", "name", "Name"),
                ("scope", "scopes", "Scopes"),
            ];
            let mut error = FormError::from_message(&e.message, &fields);
            if e.status == StatusCode::CONFLICT {
                error.field = "resource";
            }
            page(&services, &req, &admin, e.status, form, Some(error)).await
        }
        Err(e) => Err(api_failure(e).into()),
    }
}

/// The administrator and the resource a list-row button posted.
async fn posted_resource(
    services: &Data,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Admin, String), Refusal> {
    let admin = require_admin(services, req).await?;
    let form = read_form(req, payload).await?;
    Ok((admin, resource_field(&form)))
}

pub async fn refresh(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let (admin, resource) = posted_resource(&services, &req, payload).await?;
    refresh_resource(&services, admin.actor(&req), &resource)
        .await
        .map_err(api_failure)?;
    Ok(done(&services, "resource-refreshed"))
}

pub async fn delete(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let (admin, resource) = posted_resource(&services, &req, payload).await?;
    delete_resource(&services, admin.actor(&req), &resource)
        .await
        .map_err(api_failure)?;
    Ok(done(&services, "resource-deleted"))
}

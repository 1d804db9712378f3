//! `/admin/audit`: the most recent audit events, newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{require_admin, respond, unavailable, Frame, Layout, Refusal, Section};
use crate::cli::audit::format_rfc3339;
use crate::http::Data;

/// How many events the page shows.
pub const LIMIT: i64 = 100;

pub struct Row {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    limit: i64,
    rows: Vec<Row>,
}

pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let events = services
        .db
        .run(|c| c.list_events(None, LIMIT))
        .await
        .map_err(unavailable)?;
    let rows = events
        .into_iter()
        .map(|e| Row {
            time: format_rfc3339(e.created_at),
            actor: e.actor,
            action: e.action,
            target: e.target.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: match &e.detail {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                d => d.to_string(),
            },
        })
        .collect();
    let (layout, csrf) = Frame::new(&services, &req, &admin, Section::Audit).take();
    let page = AuditPage {
        layout,
        limit: LIMIT,
        rows,
    };
    Ok(respond(StatusCode::OK, &page, &csrf))
}

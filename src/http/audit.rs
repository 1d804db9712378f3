//! Appending security events seen over HTTP to the audit log.

use actix_web::HttpRequest;

use super::context::RequestContext;
use super::Data;
use crate::oauth::grants::SecurityEvent;
use crate::oauth::store::AuditEvent;

/// The client's address, as [`RequestContext`] reads it.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let trusted = req
        .app_data::<Data>()
        .map(|s| s.settings.trusted_proxies.clone())
        .unwrap_or_default();
    super::context::client_ip(req, &trusted).map(|ip| ip.to_string())
}

/// Records an event; a failure to record is logged, never shown to the client.
pub async fn record(services: &Data, event: AuditEvent) {
    let result = services.db.run(move |conn| conn.record(&event)).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not write an audit event");
    }
}

pub async fn security_event(services: &Data, ctx: &RequestContext, event: SecurityEvent) {
    let (action, client_id, family_id) = match &event {
        SecurityEvent::CodeReplay {
            client_id,
            family_id,
        } => ("code.replay", client_id, family_id),
        SecurityEvent::RefreshReuse {
            client_id,
            family_id,
        } => ("refresh.reuse_detected", client_id, family_id),
    };
    tracing::warn!(action, client_id, "security event: grant revoked");
    let e = AuditEvent::new(format!("client:{client_id}"), action, ctx.now)
        .target(family_id.clone())
        .ip_opt(ctx.client_ip.as_deref())
        .detail(serde_json::json!({ "revoked_family": family_id }));
    record(services, e).await;
}

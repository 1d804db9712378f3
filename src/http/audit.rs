//! Appending security events seen over HTTP to the audit log.

use actix_web::HttpRequest;

use super::Data;
use crate::db::audit::{AuditEvent, AuditStore};
use crate::db::unix_now;
use crate::oauth::token::SecurityEvent;

/// The client's address: the TCP peer, or with `GATEHOUSE_TRUST_FORWARDED` (behind a
/// reverse proxy that sets them) the `Forwarded` / `X-Forwarded-For` headers. Trusting
/// those headers from anyone would let a caller pick its own address and dodge
/// per-address throttling.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let trust = req
        .app_data::<Data>()
        .is_some_and(|s| s.settings.trust_forwarded);
    let info = req.connection_info();
    let raw = if trust {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    raw.map(|s| match s.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => s.trim_matches(|c| c == '[' || c == ']').to_string(),
    })
}

/// Records an event; a failure to record is logged, never shown to the client.
pub async fn record(services: &Data, event: AuditEvent) {
    let result = services.db.run(move |conn| conn.record(&event)).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not write an audit event");
    }
}

pub async fn security_event(services: &Data, req: &HttpRequest, event: SecurityEvent) {
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
    let e = AuditEvent::new(format!("client:{client_id}"), action, unix_now())
        .target(family_id.clone())
        .detail(serde_json::json!({ "revoked_family": family_id }));
    let e = match client_ip(req) {
        Some(ip) => e.ip(ip),
        None => e,
    };
    record(services, e).await;
}

//! Appending security events seen over HTTP to the audit log.

use actix_web::HttpRequest;

use super::Data;
use crate::db::audit::{AuditEvent, AuditStore};
use crate::db::unix_now;
use crate::oauth::token::SecurityEvent;

/// The client's address: the TCP peer, or, when the peer is one of the configured
/// `GATEHOUSE_TRUSTED_PROXIES`, what its `Forwarded` / `X-Forwarded-For` header says.
/// Believing those headers from anyone would let a caller pick its own address and
/// dodge per-address throttling.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = req
        .app_data::<Data>()
        .is_some_and(|s| peer.is_some_and(|p| s.settings.trusted_proxies.contains(&p)));
    if trusted {
        if let Some(forwarded) = req.connection_info().realip_remote_addr() {
            return Some(match forwarded.parse::<std::net::SocketAddr>() {
                Ok(addr) => addr.ip().to_string(),
                Err(_) => forwarded.trim_matches(|c| c == '[' || c == ']').to_string(),
            });
        }
    }
    peer.map(|p| p.to_string())
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

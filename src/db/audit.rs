//! `AuditLog` over diesel: an append-only record of who changed what (and of security-relevant
//! failures). Events never hold secrets or password hashes.

use diesel::prelude::*;

use super::schema::audit_events;
use super::DbConn;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{AuditEvent, AuditLog, StoreError};

#[derive(Queryable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: String,
    created_at: i64,
    actor: String,
    action: String,
    target: Option<String>,
    ip: Option<String>,
    detail: String,
}

impl AuditRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        let detail = serde_json::from_str(&self.detail).map_err(|e| {
            StoreError::Corrupt(format!("audit event {}: bad detail: {e}", self.id))
        })?;
        Ok(AuditEvent {
            id: self.id,
            created_at: self.created_at,
            actor: self.actor,
            action: self.action,
            target: self.target,
            ip: self.ip,
            detail,
        })
    }
}

impl AuditLog for DbConn {
    fn record(&mut self, event: &AuditEvent) -> StoreResult<()> {
        let row = AuditRow {
            id: event.id.clone(),
            created_at: event.created_at,
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.clone(),
            ip: event.ip.clone(),
            detail: event.detail.to_string(),
        };
        diesel::insert_into(audit_events::table)
            .values(&row)
            .execute(self)?;
        Ok(())
    }

    fn list_events(&mut self, since: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        let mut q = audit_events::table.into_boxed();
        if let Some(since) = since {
            q = q.filter(audit_events::created_at.ge(since));
        }
        q.order((audit_events::created_at.desc(), audit_events::id.desc()))
            .limit(limit.max(0))
            .load::<AuditRow>(self)?
            .into_iter()
            .map(AuditRow::into_event)
            .collect()
    }
}

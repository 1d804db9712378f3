//! `AuditStore`: an append-only record of who changed what (and of security-relevant
//! failures). Events never hold secrets or password hashes.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::audit_events;
use super::{DbConn, StoreError};

/// One audit record. `actor` is `cli`, `user:<username>`, `client:<client_id>` or
/// `anonymous`; `action` a dotted name such as `client.create` or `login.failure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// A UUID v7, so ids sort by creation time.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    /// Structured context; an empty object when there is none.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: impl Into<String>, now: i64) -> Self {
        AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: now,
            actor: actor.into(),
            action: action.into(),
            target: None,
            ip: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

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
    fn into_event(self) -> Result<AuditEvent, StoreError> {
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

pub trait AuditStore {
    fn record(&mut self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Events created at or after `since` (all when `None`), newest first, at most
    /// `limit` of them.
    fn list_events(
        &mut self,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

impl AuditStore for DbConn {
    fn record(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
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

    fn list_events(
        &mut self,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
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

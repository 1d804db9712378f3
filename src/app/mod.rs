//! The application layer: administration of clients and users, login attempts and
//! sessions. Every front door (the CLI, the admin API, the admin pages, RFC 7591/7592)
//! calls these operations; each takes an [`Actor`], writes its change and its audit event
//! in one transaction, and returns a typed [`AppError`]. No HTTP and no SQL here: the
//! operations work on any [`Store`](crate::oauth::store::Store).

pub mod account;
pub mod clients;
pub mod factors;
pub mod keys;
pub mod login;
pub mod resources;
pub mod sessions;
pub mod setup;
pub mod users;

use crate::domain::client::MetadataError;
use crate::oauth::store::{AuditEvent, StoreError};

/// Who is acting, as the audit log names them, and from which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `cli`, `user:<username>`, `client:<client_id>` or `anonymous`.
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, ip: Option<String>) -> Actor {
        Actor {
            name: name.into(),
            ip,
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Actor {
        Actor::new("cli", None)
    }

    /// An audit event by this actor.
    pub fn event(&self, action: &str, target: &str, now: i64) -> AuditEvent {
        AuditEvent::new(self.name.clone(), action, now)
            .target(target)
            .ip_opt(self.ip.as_deref())
    }
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The input is not valid; the message starts with the field at fault.
    #[error("{0}")]
    Invalid(String),
    /// Client metadata that is not valid (RFC 7591 `invalid_client_metadata`).
    #[error("{0}")]
    Metadata(MetadataError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            other => AppError::Store(other),
        }
    }
}

impl From<MetadataError> for AppError {
    fn from(e: MetadataError) -> Self {
        AppError::Metadata(e)
    }
}

impl From<AppError> for crate::oauth::error::OAuthError {
    /// The RFC 7591 form: metadata errors keep their codes, the rest are requests that
    /// cannot be done.
    fn from(e: AppError) -> Self {
        use crate::oauth::error::OAuthError;
        match e {
            AppError::Metadata(m) => m.into(),
            AppError::Store(s) => s.into(),
            other => OAuthError::invalid_request(other.to_string()),
        }
    }
}

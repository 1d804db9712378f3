//! The device authorization grant's storage (RFC 8628): a request waiting for a person
//! to approve it on another device, found by the device code (the polling client) or by
//! the user code (the person). Both codes are stored only as hashes.

use super::records::Amr;
use super::StoreResult;
use crate::domain::Scopes;

/// Where a device request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Tokens were issued for it; it cannot be used again.
    Used,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Used => "used",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceStatus> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Used]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A device authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scopes: Scopes,
    pub resources: Vec<String>,
    pub status: DeviceStatus,
    /// Who approved (or denied) it, and the login they approved with.
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Vec<Amr>,
    pub sid: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds the client must wait between polls (raised by `slow_down`).
    pub interval: i64,
    pub last_poll_at: Option<i64>,
}

/// A person's answer to a device request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDecision {
    pub approved: bool,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<Amr>,
    pub sid: Option<String>,
}

pub trait DeviceStore {
    fn insert_device(&mut self, record: &DeviceRecord) -> StoreResult<()>;
    fn find_device_by_user_code(
        &mut self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceRecord>>;
    fn find_device(&mut self, device_code_hash: &str) -> StoreResult<Option<DeviceRecord>>;
    /// Records the answer, only while the request is pending and unexpired.
    fn decide_device(
        &mut self,
        user_code_hash: &str,
        d: &DeviceDecision,
        now: i64,
    ) -> StoreResult<bool>;
    /// Records a poll at `now` and the interval the next poll must wait.
    fn record_device_poll(
        &mut self,
        device_code_hash: &str,
        now: i64,
        interval: i64,
    ) -> StoreResult<()>;
    /// Marks an approved request used. Of concurrent callers, exactly one gets `true`.
    fn consume_device(&mut self, device_code_hash: &str) -> StoreResult<bool>;
}

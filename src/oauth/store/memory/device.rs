//! `DeviceStore` in memory.

use super::MemoryStore;
use crate::oauth::store::device::{DeviceDecision, DeviceRecord, DeviceStatus, DeviceStore};
use crate::oauth::store::StoreResult;

impl DeviceStore for MemoryStore {
    fn insert_device(&mut self, r: &DeviceRecord) -> StoreResult<()> {
        self.state
            .devices
            .insert(r.device_code_hash.clone(), r.clone());
        Ok(())
    }

    fn find_device_by_user_code(&mut self, hash: &str) -> StoreResult<Option<DeviceRecord>> {
        Ok(self
            .state
            .devices
            .values()
            .find(|d| d.user_code_hash == hash)
            .cloned())
    }

    fn find_device(&mut self, hash: &str) -> StoreResult<Option<DeviceRecord>> {
        Ok(self.state.devices.get(hash).cloned())
    }

    fn decide_device(&mut self, hash: &str, d: &DeviceDecision, now: i64) -> StoreResult<bool> {
        let Some(r) = self
            .state
            .devices
            .values_mut()
            .find(|r| r.user_code_hash == hash)
        else {
            return Ok(false);
        };
        if r.status != DeviceStatus::Pending || r.expires_at <= now {
            return Ok(false);
        }
        r.status = if d.approved {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        r.user_id = Some(d.user_id.clone());
        r.auth_time = Some(d.auth_time);
        r.amr = d.amr.clone();
        r.sid = d.sid.clone();
        Ok(true)
    }

    fn record_device_poll(&mut self, hash: &str, now: i64, interval: i64) -> StoreResult<()> {
        if let Some(r) = self.state.devices.get_mut(hash) {
            r.last_poll_at = Some(now);
            r.interval = interval;
        }
        Ok(())
    }

    fn consume_device(&mut self, hash: &str) -> StoreResult<bool> {
        Ok(match self.state.devices.get_mut(hash) {
            Some(r) if r.status == DeviceStatus::Approved => {
                r.status = DeviceStatus::Used;
                true
            }
            _ => false,
        })
    }
}

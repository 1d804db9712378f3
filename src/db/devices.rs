//! `DeviceStore` over diesel: device authorization requests (RFC 8628).

use diesel::prelude::*;

use super::grants::{amr, encode, resources, scopes};
use super::schema::device_codes as dc;
use super::DbConn;
use crate::oauth::store::device::{DeviceDecision, DeviceRecord, DeviceStatus, DeviceStore};
use crate::oauth::store::{Amr, StoreError, StoreResult};

#[derive(Queryable, Insertable)]
#[diesel(table_name = dc)]
struct DeviceRow {
    device_code_hash: String,
    user_code_hash: String,
    client_id: String,
    scopes: String,
    resources: String,
    status: String,
    user_id: Option<String>,
    auth_time: Option<i64>,
    amr: String,
    sid: Option<String>,
    created_at: i64,
    expires_at: i64,
    poll_interval: i64,
    last_poll_at: Option<i64>,
}

impl DeviceRow {
    fn of(r: &DeviceRecord) -> DeviceRow {
        DeviceRow {
            device_code_hash: r.device_code_hash.clone(),
            user_code_hash: r.user_code_hash.clone(),
            client_id: r.client_id.clone(),
            scopes: r.scopes.to_string(),
            resources: encode(&r.resources),
            status: r.status.as_str().to_string(),
            user_id: r.user_id.clone(),
            auth_time: r.auth_time,
            amr: Amr::encode_list(&r.amr),
            sid: r.sid.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            poll_interval: r.interval,
            last_poll_at: r.last_poll_at,
        }
    }

    fn parse(self) -> StoreResult<DeviceRecord> {
        let what = "device code";
        Ok(DeviceRecord {
            scopes: scopes(what, &self.scopes)?,
            resources: resources(what, &self.resources)?,
            // Empty until someone answers.
            amr: match self.amr.as_str() {
                "[]" => Vec::new(),
                raw => amr(what, raw)?,
            },
            status: DeviceStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("{what}: bad status")))?,
            device_code_hash: self.device_code_hash,
            user_code_hash: self.user_code_hash,
            client_id: self.client_id,
            user_id: self.user_id,
            auth_time: self.auth_time,
            sid: self.sid,
            created_at: self.created_at,
            expires_at: self.expires_at,
            interval: self.poll_interval,
            last_poll_at: self.last_poll_at,
        })
    }
}

impl DeviceStore for DbConn {
    fn insert_device(&mut self, r: &DeviceRecord) -> StoreResult<()> {
        diesel::insert_into(dc::table)
            .values(DeviceRow::of(r))
            .execute(self)
            .map_err(|e| super::conflict_on_unique(e, "this user code is taken"))?;
        Ok(())
    }

    fn find_device_by_user_code(&mut self, hash: &str) -> StoreResult<Option<DeviceRecord>> {
        dc::table
            .filter(dc::user_code_hash.eq(hash))
            .first::<DeviceRow>(self)
            .optional()?
            .map(DeviceRow::parse)
            .transpose()
    }

    fn find_device(&mut self, hash: &str) -> StoreResult<Option<DeviceRecord>> {
        dc::table
            .filter(dc::device_code_hash.eq(hash))
            .first::<DeviceRow>(self)
            .optional()?
            .map(DeviceRow::parse)
            .transpose()
    }

    fn decide_device(&mut self, hash: &str, d: &DeviceDecision, now: i64) -> StoreResult<bool> {
        let status = if d.approved {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        let n = diesel::update(
            dc::table
                .filter(dc::user_code_hash.eq(hash))
                .filter(dc::status.eq(DeviceStatus::Pending.as_str()))
                .filter(dc::expires_at.gt(now)),
        )
        .set((
            dc::status.eq(status.as_str()),
            dc::user_id.eq(&d.user_id),
            dc::auth_time.eq(d.auth_time),
            dc::amr.eq(Amr::encode_list(&d.amr)),
            dc::sid.eq(&d.sid),
        ))
        .execute(self)?;
        Ok(n == 1)
    }

    fn record_device_poll(&mut self, hash: &str, now: i64, interval: i64) -> StoreResult<()> {
        diesel::update(dc::table.filter(dc::device_code_hash.eq(hash)))
            .set((dc::last_poll_at.eq(now), dc::poll_interval.eq(interval)))
            .execute(self)?;
        Ok(())
    }

    fn consume_device(&mut self, hash: &str) -> StoreResult<bool> {
        let n = diesel::update(
            dc::table
                .filter(dc::device_code_hash.eq(hash))
                .filter(dc::status.eq(DeviceStatus::Approved.as_str())),
        )
        .set(dc::status.eq(DeviceStatus::Used.as_str()))
        .execute(self)?;
        Ok(n == 1)
    }
}

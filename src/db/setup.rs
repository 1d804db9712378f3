//! `SetupStore` over diesel.

use diesel::prelude::*;

use super::schema::{setup_tokens as st, users};
use super::DbConn;
use crate::oauth::store::setup::SetupStore;
use crate::oauth::store::StoreResult;

impl SetupStore for DbConn {
    fn insert_setup_token(&mut self, hash: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        diesel::delete(st::table.filter(st::expires_at.le(now))).execute(self)?;
        diesel::insert_into(st::table)
            .values((
                st::token_hash.eq(hash),
                st::expires_at.eq(expires_at),
                st::used_at.eq(None::<i64>),
            ))
            .execute(self)?;
        Ok(())
    }

    fn setup_token_valid(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        let n: i64 = st::table
            .filter(st::token_hash.eq(hash))
            .filter(st::used_at.is_null())
            .filter(st::expires_at.gt(now))
            .count()
            .get_result(self)?;
        Ok(n == 1)
    }

    fn consume_setup_token(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        let n = diesel::update(
            st::table
                .filter(st::token_hash.eq(hash))
                .filter(st::used_at.is_null())
                .filter(st::expires_at.gt(now)),
        )
        .set(st::used_at.eq(Some(now)))
        .execute(self)?;
        Ok(n == 1)
    }

    fn count_admins(&mut self) -> StoreResult<i64> {
        Ok(users::table
            .filter(users::is_admin.eq(true))
            .filter(users::disabled.eq(false))
            .count()
            .get_result(self)?)
    }
}

//! `LoginThrottle` over diesel: login-attempt counters in the database, so the limits
//! hold across instances. The policy is `domain::throttle`'s.

use diesel::prelude::*;

use super::schema::login_failures;
use super::DbConn;
use crate::domain::throttle::count_attempt;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{LoginThrottle, StoreError};

impl DbConn {
    fn count_attempt_once(&mut self, key: &str, now: i64) -> StoreResult<(i64, i32)> {
        super::transaction(self, |conn| {
            let row = login_failures::table.filter(login_failures::throttle_key.eq(key));
            // A write first, so SQLite takes its write lock (and PostgreSQL the row lock)
            // at once: concurrent attempts are counted one after another.
            let n = diesel::update(row)
                .set(login_failures::failures.eq(login_failures::failures))
                .execute(conn)?;
            let state = if n == 0 {
                None
            } else {
                Some(
                    row.select((
                        login_failures::failures,
                        login_failures::last_failure_at,
                        login_failures::blocked_until,
                    ))
                    .first::<(i32, i64, i64)>(conn)?,
                )
            };
            let ((failures, last, blocked), wait) = count_attempt(key, state, now);
            if state.is_none() {
                diesel::insert_into(login_failures::table)
                    .values((
                        login_failures::throttle_key.eq(key),
                        login_failures::failures.eq(failures),
                        login_failures::last_failure_at.eq(last),
                        login_failures::blocked_until.eq(blocked),
                    ))
                    .execute(conn)?;
            } else if wait == 0 {
                diesel::update(row)
                    .set((
                        login_failures::failures.eq(failures),
                        login_failures::last_failure_at.eq(last),
                        login_failures::blocked_until.eq(blocked),
                    ))
                    .execute(conn)?;
            }
            Ok((wait, failures))
        })
    }
}

impl LoginThrottle for DbConn {
    fn count_login_attempt(&mut self, key: &str, now: i64) -> StoreResult<(i64, i32)> {
        match self.count_attempt_once(key, now) {
            // A concurrent first attempt inserted the row first: count again as an update.
            Err(StoreError::Conflict(_)) => self.count_attempt_once(key, now),
            other => other,
        }
    }

    fn forgive_login_attempt(&mut self, key: &str) -> StoreResult<()> {
        diesel::update(
            login_failures::table
                .filter(login_failures::throttle_key.eq(key))
                .filter(login_failures::failures.gt(0)),
        )
        .set(login_failures::failures.eq(login_failures::failures - 1))
        .execute(self)?;
        Ok(())
    }

    fn clear_login_failures(&mut self, key: &str) -> StoreResult<()> {
        diesel::delete(login_failures::table.filter(login_failures::throttle_key.eq(key)))
            .execute(self)?;
        Ok(())
    }
}

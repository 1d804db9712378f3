//! Login throttling. Failed logins are counted per account (`user:<name>`) and per client
//! address (`ip:<addr>`) in the database, so the backoff holds across instances: after
//! [`FREE_FAILURES`] failures of an account (or [`FREE_FAILURES_PER_ADDRESS`] from one
//! address) each further attempt waits 1 s, doubling up to 5 minutes.

use diesel::prelude::*;

use super::schema::login_failures;
use super::{DbConn, StoreError};

/// Failures of one account allowed before any waiting.
pub const FREE_FAILURES: i32 = 5;
/// Failures from one address allowed before any waiting: higher, because many people
/// can share an address (NAT, a company proxy) and one of them should not lock out all.
pub const FREE_FAILURES_PER_ADDRESS: i32 = 20;
/// The longest wait between attempts.
pub const MAX_BACKOFF: i64 = 300;
/// A key whose last failure is older than this starts counting afresh.
pub const FAILURE_WINDOW: i64 = 900;

pub fn user_key(username: &str) -> String {
    format!("user:{username}")
}

pub fn ip_key(addr: &str) -> String {
    format!("ip:{addr}")
}

fn free_failures(key: &str) -> i32 {
    if key.starts_with("ip:") {
        FREE_FAILURES_PER_ADDRESS
    } else {
        FREE_FAILURES
    }
}

/// Seconds to wait after `failures` failures with `free` allowed: 0 below that, then
/// 1, 2, 4 … 300.
pub fn backoff(failures: i32, free: i32) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(16) as u32;
    (1i64 << doublings).min(MAX_BACKOFF)
}

/// The clock counts whole seconds: a failure at second `t` with backoff `d` blocks every
/// second up to and including `t + d`, so the block lasts at least `d` real seconds.
fn wait_for(blocked_until: i64, now: i64) -> i64 {
    if blocked_until > 0 && now <= blocked_until {
        blocked_until - now + 1
    } else {
        0
    }
}

pub trait ThrottleStore {
    /// Seconds until any of `keys` may try again; 0 when none is blocked.
    fn login_wait(&mut self, keys: &[String], now: i64) -> Result<i64, StoreError>;
    /// Counts a failure for `key`; returns the seconds it must now wait.
    fn record_login_failure(&mut self, key: &str, now: i64) -> Result<i64, StoreError>;
    fn clear_login_failures(&mut self, key: &str) -> Result<(), StoreError>;
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

impl DbConn {
    fn count_failure(&mut self, key: &str, now: i64) -> Result<i64, StoreError> {
        self.transaction(|conn| {
            let row = login_failures::table.filter(login_failures::throttle_key.eq(key));
            // The increment comes first so SQLite takes its write lock (and PostgreSQL the
            // row lock) at once; concurrent failures are then counted one after another.
            let n = diesel::update(row)
                .set(login_failures::failures.eq(login_failures::failures + 1))
                .execute(conn)?;
            if n == 0 {
                diesel::insert_into(login_failures::table)
                    .values((
                        login_failures::throttle_key.eq(key),
                        login_failures::failures.eq(1),
                        login_failures::last_failure_at.eq(now),
                        login_failures::blocked_until.eq(0i64),
                    ))
                    .execute(conn)?;
                return Ok(0);
            }
            let (failures, last): (i32, i64) = row
                .select((login_failures::failures, login_failures::last_failure_at))
                .first(conn)?;
            let failures = if now - last > FAILURE_WINDOW {
                1
            } else {
                failures
            };
            let delay = backoff(failures, free_failures(key));
            let blocked_until = if delay > 0 { now + delay } else { 0 };
            diesel::update(row)
                .set((
                    login_failures::failures.eq(failures),
                    login_failures::last_failure_at.eq(now),
                    login_failures::blocked_until.eq(blocked_until),
                ))
                .execute(conn)?;
            Ok(delay)
        })
    }
}

impl ThrottleStore for DbConn {
    fn login_wait(&mut self, keys: &[String], now: i64) -> Result<i64, StoreError> {
        let until: Option<i64> = login_failures::table
            .filter(login_failures::throttle_key.eq_any(keys))
            .select(diesel::dsl::max(login_failures::blocked_until))
            .first(self)?;
        Ok(wait_for(until.unwrap_or(0), now))
    }

    fn record_login_failure(&mut self, key: &str, now: i64) -> Result<i64, StoreError> {
        match self.count_failure(key, now) {
            // A concurrent first failure inserted the row first: count again as an update.
            Err(e) if is_unique_violation(&e) => self.count_failure(key, now),
            other => other,
        }
    }

    fn clear_login_failures(&mut self, key: &str) -> Result<(), StoreError> {
        diesel::delete(login_failures::table.filter(login_failures::throttle_key.eq(key)))
            .execute(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_after_five_failures_and_doubles_to_five_minutes() {
        let b = |n| backoff(n, FREE_FAILURES);
        assert_eq!((0..5).map(b).collect::<Vec<_>>(), [0, 0, 0, 0, 0]);
        assert_eq!((5..10).map(b).collect::<Vec<_>>(), [1, 2, 4, 8, 16]);
        assert_eq!(b(13), 256);
        assert_eq!(b(14), 300);
        assert_eq!(b(1000), 300);
    }

    #[test]
    fn an_address_may_fail_more_often_than_an_account() {
        assert_eq!(free_failures(&user_key("kim")), FREE_FAILURES);
        assert_eq!(
            free_failures(&ip_key("192.0.2.1")),
            FREE_FAILURES_PER_ADDRESS
        );
        assert_eq!(backoff(19, FREE_FAILURES_PER_ADDRESS), 0);
        assert_eq!(backoff(20, FREE_FAILURES_PER_ADDRESS), 1);
    }

    #[test]
    fn a_block_lasts_its_whole_last_second() {
        // A one-second backoff from a failure during second 100: blocked through 101.
        assert_eq!(wait_for(101, 100), 2);
        assert_eq!(wait_for(101, 101), 1);
        assert_eq!(wait_for(101, 102), 0);
        assert_eq!(wait_for(0, 5), 0);
    }
}

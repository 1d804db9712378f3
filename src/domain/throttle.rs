//! The login-throttling policy. Failed logins are counted per account (`user:<name>`) and
//! per client address (`ip:<addr>`): after [`FREE_FAILURES`] failures of an account (or
//! [`FREE_FAILURES_PER_ADDRESS`] from one address) each further attempt waits 1 s,
//! doubling up to 5 minutes. The stores keep the counters; this module decides.

/// Failures of one account allowed before any waiting.
pub const FREE_FAILURES: i32 = 5;
/// Failures from one address allowed before any waiting: higher, because many people
/// can share an address (NAT, a company proxy) and one of them should not lock out all.
pub const FREE_FAILURES_PER_ADDRESS: i32 = 20;
/// The longest wait between attempts.
pub const MAX_BACKOFF: i64 = 300;
/// A key whose last failure is older than this starts counting afresh.
pub const FAILURE_WINDOW: i64 = 900;

/// The counter of an account: a hash of the name, so whatever is typed into the form
/// writes a key of one fixed size.
pub fn user_key(username: &str) -> String {
    format!(
        "user:{}",
        crate::crypto::b64url(&crate::crypto::sha256(username.as_bytes()))
    )
}

/// The counter of a client address, hashed like [`user_key`].
pub fn ip_key(addr: &str) -> String {
    format!(
        "ip:{}",
        crate::crypto::b64url(&crate::crypto::sha256(addr.as_bytes()))
    )
}

/// Whether the `count`th failure of an account in a row is written to the audit log:
/// each of the free ones, then the 8th, 16th, 32nd…, so a flood writes a few events.
pub fn audited(count: i32) -> bool {
    count <= FREE_FAILURES || (count > 0 && (count as u32).is_power_of_two())
}

pub fn free_failures(key: &str) -> i32 {
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
pub fn wait_for(blocked_until: i64, now: i64) -> i64 {
    if blocked_until > 0 && now <= blocked_until {
        blocked_until - now + 1
    } else {
        0
    }
}

/// One more failure of `key`, which had `failures` (already counting this one) with the
/// last at `last`: the count to keep, the wait it earns, and until when it blocks.
pub fn next_failure(key: &str, failures: i32, last: i64, now: i64) -> (i32, i64, i64) {
    let failures = if now - last > FAILURE_WINDOW {
        1
    } else {
        failures.max(1)
    };
    let delay = backoff(failures, free_failures(key));
    let blocked_until = if delay > 0 { now + delay } else { 0 };
    (failures, delay, blocked_until)
}

/// A counter's state: failures, the last failure, blocked until (0: not blocked).
pub type Counter = (i32, i64, i64);

/// One attempt on a counter (`None`: a fresh one): the state to keep and the seconds the
/// attempt must wait, 0 when it may be checked. The attempt counts as a failure until a
/// success clears it, so concurrent attempts are limited before any is checked.
pub fn count_attempt(key: &str, state: Option<Counter>, now: i64) -> (Counter, i64) {
    match state {
        Some((f, l, b)) if wait_for(b, now) > 0 => ((f, l, b), wait_for(b, now)),
        Some((f, l, _)) => {
            let (f, _, b) = next_failure(key, f + 1, l, now);
            ((f, now, b), 0)
        }
        None => {
            let (f, _, b) = next_failure(key, 1, now, now);
            ((f, now, b), 0)
        }
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

    #[test]
    fn a_blocked_attempt_is_not_counted() {
        let mut state = None;
        for _ in 0..FREE_FAILURES {
            let (s, wait) = count_attempt("user:a", state, 10);
            assert_eq!(wait, 0);
            state = Some(s);
        }
        let (s, wait) = count_attempt("user:a", state, 10);
        assert_eq!((s, wait), ((FREE_FAILURES, 10, 11), 2));
    }

    #[test]
    fn keys_have_one_size_and_floods_write_a_few_events() {
        assert_eq!(user_key(&"x".repeat(10_000)).len(), user_key("kim").len());
        assert_ne!(user_key("kim"), user_key("Kim"));
        let written = (1..=1000).filter(|n| audited(*n)).count();
        assert_eq!(written, 5 + 7, "1-5, then 8, 16 … 512");
    }

    #[test]
    fn an_old_count_starts_afresh() {
        assert_eq!(next_failure("user:a", 9, 0, FAILURE_WINDOW + 1), (1, 0, 0));
        assert_eq!(next_failure("user:a", 5, 100, 110), (5, 1, 111));
    }
}

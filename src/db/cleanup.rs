//! Deleting expired rows: codes, sessions, refresh tokens, revocations, used assertion
//! and DPoP proof ids, pushed authorization requests, device requests, stale login-failure counters and
//! audit events past their retention. Deletes run in small batches, each its own short
//! statement, so requests never wait long on a lock held by the clean-up.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::{
    audit_events, authorization_codes, device_codes, login_failures, login_sessions,
    pushed_requests, refresh_tokens, revoked_tokens, session_clients, token_exchanges,
    used_assertions,
};
use super::DbConn;
use crate::oauth::store::StoreResult;

/// Authorization codes stay this long after expiring, so a late replay of a code is still
/// recognised as a replay (and its tokens revoked) rather than as an unknown code.
pub const CODE_REPLAY_WINDOW: i64 = 3600;

/// A login-failure counter is forgotten once it has been quiet (and unblocked) this long.
pub const LOGIN_FAILURE_RETENTION: i64 = 86400;

/// How many rows each table lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    pub authorization_codes: u64,
    pub login_sessions: u64,
    pub refresh_tokens: u64,
    pub revoked_tokens: u64,
    pub used_assertions: u64,
    pub pushed_requests: u64,
    pub device_codes: u64,
    pub token_exchanges: u64,
    /// The clients of sessions that expired (back-channel logout bookkeeping).
    pub session_clients: u64,
    pub login_failures: u64,
    pub audit_events: u64,
}

impl CleanupReport {
    pub fn total(&self) -> u64 {
        self.authorization_codes
            + self.login_sessions
            + self.refresh_tokens
            + self.revoked_tokens
            + self.used_assertions
            + self.pushed_requests
            + self.device_codes
            + self.session_clients
            + self.token_exchanges
            + self.login_failures
            + self.audit_events
    }
}

/// Deletes rows of `$table` matching `$cond`, at most `$batch` per statement, until a
/// statement deletes fewer than `$batch`; evaluates to the number deleted. The statement
/// is `DELETE FROM t WHERE pk IN (SELECT doomed.pk FROM t AS doomed WHERE cond LIMIT n)`,
/// valid on both backends. The subselect reads the table under an alias (`$t` in `$cond`)
/// so diesel can tell it from the table being deleted from.
macro_rules! delete_batched {
    ($conn:expr, $table:ident, $pk:ident, |$t:ident| $cond:expr, $batch:expr) => {{
        let $t = diesel::alias!($table as doomed);
        let mut deleted: u64 = 0;
        loop {
            let doomed = $t.select($t.field($table::$pk)).filter($cond).limit($batch);
            let n = diesel::delete($table::table.filter($table::$pk.eq_any(doomed)))
                .execute(&mut *$conn)?;
            deleted += n as u64;
            if (n as i64) < $batch {
                break deleted;
            }
        }
    }};
}

/// Expired pushed authorization requests, device requests, exchange records and the
/// clients of expired sessions: how many of each.
fn expired_requests(conn: &mut DbConn, now: i64, batch: i64) -> StoreResult<(u64, u64, u64, u64)> {
    let pushed = delete_batched!(
        conn,
        pushed_requests,
        request_uri_hash,
        |t| t.field(pushed_requests::expires_at).lt(now),
        batch
    );
    let devices = delete_batched!(
        conn,
        device_codes,
        device_code_hash,
        |t| t.field(device_codes::expires_at).lt(now),
        batch
    );
    let exchanges = delete_batched!(
        conn,
        token_exchanges,
        issued_jti,
        |t| t.field(token_exchanges::expires_at).lt(now),
        batch
    );
    // By session: every client row of a session shares its expiry.
    let session_clients = delete_batched!(
        conn,
        session_clients,
        sid,
        |t| t.field(session_clients::expires_at).lt(now),
        batch
    );
    Ok((pushed, devices, exchanges, session_clients))
}

/// Refresh tokens of revoked families whose last access token has expired: nothing can
/// use them any more (an unknown refresh token is refused as a revoked one is, and the
/// family's access tokens are revoked by id), so they need not wait for the family's
/// absolute expiry.
fn revoked_refresh_tokens(conn: &mut DbConn, now: i64, batch: i64) -> StoreResult<u64> {
    Ok(delete_batched!(
        conn,
        refresh_tokens,
        token_hash,
        |t| t.field(refresh_tokens::revoked).eq(true).and(
            t.field(refresh_tokens::access_expires_at)
                .is_null()
                .or(t.field(refresh_tokens::access_expires_at).lt(now))
        ),
        batch
    ))
}

/// Deletes what expired before `now`, `batch` rows per statement at most.
/// `audit_retention` is how long audit events are kept, in seconds; 0 keeps them forever.
pub fn cleanup_expired(
    conn: &mut DbConn,
    now: i64,
    batch: i64,
    audit_retention: i64,
) -> StoreResult<CleanupReport> {
    let batch = batch.max(1);
    let code_cutoff = now.saturating_sub(CODE_REPLAY_WINDOW);
    let failure_cutoff = now.saturating_sub(LOGIN_FAILURE_RETENTION);
    let (pushed_requests, device_codes, token_exchanges, session_clients) =
        expired_requests(conn, now, batch)?;
    Ok(CleanupReport {
        pushed_requests,
        device_codes,
        token_exchanges,
        session_clients,
        authorization_codes: delete_batched!(
            conn,
            authorization_codes,
            code_hash,
            |t| t.field(authorization_codes::expires_at).lt(code_cutoff),
            batch
        ),
        login_sessions: delete_batched!(
            conn,
            login_sessions,
            id_hash,
            |t| t.field(login_sessions::expires_at).lt(now),
            batch
        ),
        refresh_tokens: delete_batched!(
            conn,
            refresh_tokens,
            token_hash,
            |t| t.field(refresh_tokens::expires_at).lt(now),
            batch
        ) + revoked_refresh_tokens(conn, now, batch)?,
        revoked_tokens: delete_batched!(
            conn,
            revoked_tokens,
            jti,
            |t| t.field(revoked_tokens::expires_at).lt(now),
            batch
        ),
        used_assertions: delete_batched!(
            conn,
            used_assertions,
            jti_key,
            |t| t.field(used_assertions::expires_at).lt(now),
            batch
        ),
        login_failures: delete_batched!(
            conn,
            login_failures,
            throttle_key,
            |t| t
                .field(login_failures::blocked_until)
                .lt(failure_cutoff)
                .and(t.field(login_failures::last_failure_at).lt(failure_cutoff)),
            batch
        ),
        audit_events: if audit_retention > 0 {
            let audit_cutoff = now.saturating_sub(audit_retention);
            delete_batched!(
                conn,
                audit_events,
                id,
                |t| t.field(audit_events::created_at).lt(audit_cutoff),
                batch
            )
        } else {
            0
        },
    })
}

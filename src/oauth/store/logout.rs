//! Storage for logout notifications (OpenID Back-Channel Logout 1.0): which clients took
//! part in each browser session, and the durable queue of logout tokens still to be
//! delivered.

use super::StoreResult;

/// A client that got a code in a session: it is told when the session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClient {
    pub sid: String,
    pub client_id: String,
    pub user_id: String,
    /// When the session would have expired; the row is pruned after that.
    pub expires_at: i64,
}

/// Which sessions an ending concerns: one, or every session of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended<'a> {
    Session(&'a str),
    User(&'a str),
}

/// A logout token to deliver. The token is signed at each attempt (with a fresh `iat`
/// and `exp`); its `jti` is the delivery's id, so a receiver can tell a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub last_error: Option<String>,
}

pub trait LogoutQueue {
    /// Remembers that `client_id` took part in session `sid` (idempotent).
    fn record_session_client(&mut self, sc: &SessionClient) -> StoreResult<()>;

    /// The clients of the ended sessions.
    fn session_clients(&mut self, ended: Ended<'_>) -> StoreResult<Vec<SessionClient>>;

    /// Forgets the clients of the ended sessions.
    fn forget_session_clients(&mut self, ended: Ended<'_>) -> StoreResult<usize>;

    fn queue_logout(&mut self, d: &LogoutDelivery) -> StoreResult<()>;

    /// Deliveries due at `now`, oldest first.
    fn due_logouts(&mut self, now: i64, max: i64) -> StoreResult<Vec<LogoutDelivery>>;

    /// Takes delivery `id` for this caller until `until`: succeeds for exactly one of
    /// concurrent callers that saw it due at `seen` (instances share the queue).
    fn lease_logout(&mut self, id: &str, seen: i64, until: i64) -> StoreResult<bool>;

    /// Schedules another attempt.
    fn retry_logout(&mut self, id: &str, attempts: i32, at: i64, error: &str) -> StoreResult<()>;

    /// Removes a delivery that succeeded or was given up.
    fn finish_logout(&mut self, id: &str) -> StoreResult<()>;

    /// Deliveries waiting.
    fn count_logouts(&mut self) -> StoreResult<i64>;
}

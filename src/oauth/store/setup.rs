//! First-run setup: single-use tokens that let a person create the first administrator
//! in the browser, only while no administrator exists.

use super::StoreResult;

pub trait SetupStore {
    /// Stores a token (by its hash) valid until `expires_at`, and forgets expired ones.
    fn insert_setup_token(&mut self, hash: &str, expires_at: i64, now: i64) -> StoreResult<()>;
    /// Whether the token is unused and unexpired.
    fn setup_token_valid(&mut self, hash: &str, now: i64) -> StoreResult<bool>;
    /// Uses the token up: true for exactly one of concurrent callers, while it is valid.
    fn consume_setup_token(&mut self, hash: &str, now: i64) -> StoreResult<bool>;
    /// How many enabled administrators exist.
    fn count_admins(&mut self) -> StoreResult<i64>;
}

//! `SetupStore` in memory.

use super::MemoryStore;
use crate::oauth::store::setup::SetupStore;
use crate::oauth::store::StoreResult;

impl SetupStore for MemoryStore {
    fn insert_setup_token(&mut self, hash: &str, expires_at: i64, now: i64) -> StoreResult<()> {
        let tokens = &mut self.state.setup_tokens;
        tokens.retain(|_, (exp, _)| *exp > now);
        tokens.insert(hash.to_string(), (expires_at, false));
        Ok(())
    }

    fn setup_token_valid(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        Ok(self
            .state
            .setup_tokens
            .get(hash)
            .is_some_and(|(exp, used)| !used && *exp > now))
    }

    fn consume_setup_token(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        match self.state.setup_tokens.get_mut(hash) {
            Some((exp, used)) if !*used && *exp > now => {
                *used = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn count_admins(&mut self) -> StoreResult<i64> {
        Ok(self
            .state
            .users
            .values()
            .filter(|u| u.is_admin && !u.disabled)
            .count() as i64)
    }
}

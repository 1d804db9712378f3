//! `LogoutQueue` in memory.

use super::MemoryStore;
use crate::oauth::store::logout::{Ended, LogoutDelivery, LogoutQueue, SessionClient};
use crate::oauth::store::StoreResult;

fn concerns(sc: &SessionClient, ended: Ended<'_>) -> bool {
    match ended {
        Ended::Session(sid) => sc.sid == sid,
        Ended::User(user_id) => sc.user_id == user_id,
    }
}

impl LogoutQueue for MemoryStore {
    fn record_session_client(&mut self, sc: &SessionClient) -> StoreResult<()> {
        let list = &mut self.state.session_clients;
        if !list
            .iter()
            .any(|s| s.sid == sc.sid && s.client_id == sc.client_id)
        {
            list.push(sc.clone());
        }
        Ok(())
    }

    fn session_clients(&mut self, ended: Ended<'_>) -> StoreResult<Vec<SessionClient>> {
        Ok(self
            .state
            .session_clients
            .iter()
            .filter(|s| concerns(s, ended))
            .cloned()
            .collect())
    }

    fn forget_session_clients(&mut self, ended: Ended<'_>) -> StoreResult<usize> {
        let before = self.state.session_clients.len();
        self.state.session_clients.retain(|s| !concerns(s, ended));
        Ok(before - self.state.session_clients.len())
    }

    fn queue_logout(&mut self, d: &LogoutDelivery) -> StoreResult<()> {
        self.state.logouts.insert(d.id.clone(), d.clone());
        Ok(())
    }

    fn due_logouts(&mut self, now: i64, max: i64) -> StoreResult<Vec<LogoutDelivery>> {
        let mut due: Vec<_> = self
            .state
            .logouts
            .values()
            .filter(|d| d.next_attempt_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|d| (d.next_attempt_at, d.created_at));
        due.truncate(max.max(0) as usize);
        Ok(due)
    }

    fn lease_logout(&mut self, id: &str, seen: i64, until: i64) -> StoreResult<bool> {
        match self.state.logouts.get_mut(id) {
            Some(d) if d.next_attempt_at == seen => {
                d.next_attempt_at = until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn retry_logout(&mut self, id: &str, attempts: i32, at: i64, error: &str) -> StoreResult<()> {
        if let Some(d) = self.state.logouts.get_mut(id) {
            d.attempts = attempts;
            d.next_attempt_at = at;
            d.last_error = Some(error.to_string());
        }
        Ok(())
    }

    fn finish_logout(&mut self, id: &str) -> StoreResult<()> {
        self.state.logouts.remove(id);
        Ok(())
    }

    fn count_logouts(&mut self) -> StoreResult<i64> {
        Ok(self.state.logouts.len() as i64)
    }
}

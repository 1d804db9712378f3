//! `FactorStore` in memory.

use super::MemoryStore;
use crate::oauth::store::factors::{Factor, FactorKind, FactorStore};
use crate::oauth::store::{StoreError, StoreResult};

impl FactorStore for MemoryStore {
    fn insert_factor(&mut self, factor: &Factor) -> StoreResult<()> {
        let taken = factor.lookup.is_some()
            && self
                .state
                .factors
                .iter()
                .any(|f| f.kind == factor.kind && f.lookup == factor.lookup);
        if taken || self.state.factors.iter().any(|f| f.id == factor.id) {
            return Err(StoreError::Conflict(
                "this factor is registered already".into(),
            ));
        }
        self.state.factors.push(factor.clone());
        Ok(())
    }

    fn list_factors(&mut self, user_id: &str) -> StoreResult<Vec<Factor>> {
        let mut all: Vec<Factor> = (self.state.factors.iter())
            .filter(|f| f.user_id == user_id)
            .cloned()
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    fn find_factor(&mut self, kind: FactorKind, lookup: &str) -> StoreResult<Option<Factor>> {
        Ok((self.state.factors.iter())
            .find(|f| f.kind == kind && f.lookup.as_deref() == Some(lookup))
            .cloned())
    }

    fn use_factor(
        &mut self,
        id: &str,
        counter: i64,
        increasing: bool,
        now: i64,
    ) -> StoreResult<bool> {
        match self.state.factors.iter_mut().find(|f| f.id == id) {
            Some(f) if !increasing || f.counter < counter => {
                f.counter = counter;
                f.last_used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn take_recovery_code(&mut self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let before = self.state.factors.len();
        self.state.factors.retain(|f| {
            !(f.kind == FactorKind::Recovery
                && f.user_id == user_id
                && f.lookup.as_deref() == Some(hash))
        });
        Ok(self.state.factors.len() < before)
    }

    fn delete_factor(&mut self, user_id: &str, id: &str) -> StoreResult<bool> {
        let before = self.state.factors.len();
        (self.state.factors).retain(|f| !(f.user_id == user_id && f.id == id));
        Ok(self.state.factors.len() < before)
    }

    fn delete_factors(&mut self, user_id: &str, kind: Option<FactorKind>) -> StoreResult<usize> {
        let before = self.state.factors.len();
        (self.state.factors)
            .retain(|f| !(f.user_id == user_id && kind.is_none_or(|k| f.kind == k)));
        Ok(before - self.state.factors.len())
    }
}

//! Signing-key administration.

use serde_json::json;

use super::{Actor, AppError};
use crate::crypto::Sealer;
use crate::keys::Alg;
use crate::oauth::store::{atomically, Store};

/// Makes a new key active for each of `algs`; the rotation and its audit events commit
/// together. Returns the new key ids, in the order of `algs`.
pub fn rotate_keys(
    store: &mut dyn Store,
    sealer: &Sealer,
    actor: &Actor,
    algs: &[Alg],
    now: i64,
) -> Result<Vec<String>, AppError> {
    atomically(store, |s| {
        let kids = s.rotate_keys(sealer, algs, now)?;
        for (kid, alg) in kids.iter().zip(algs) {
            s.record(
                &actor
                    .event("key.rotate", kid, now)
                    .detail(json!({ "alg": alg.as_str() })),
            )?;
        }
        Ok(kids)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::memory::MemoryStore;
    use crate::oauth::store::KeyStore;

    #[test]
    fn rotation_keeps_the_old_key_published_and_audits_each_key() {
        let mut store = MemoryStore::new();
        let sealer = Sealer::from_secret("a test secret that is long enough");
        store.ensure_keys(&sealer, 1).unwrap();
        let kids = rotate_keys(&mut store, &sealer, &Actor::cli(), &[Alg::ES256], 2).unwrap();
        let set = store.load_key_set(&sealer, 3, 600).unwrap();
        assert_eq!(set.signer(Alg::ES256).unwrap().kid, kids[0]);
        let keys = store.list_keys(3, 600).unwrap();
        let es: Vec<_> = keys.iter().filter(|k| k.alg == "ES256").collect();
        assert_eq!(es.len(), 2);
        assert!(
            es.iter().all(|k| k.published),
            "the retired key is still published"
        );
        assert_eq!(store.audit_events()[0].action, "key.rotate");
    }
}

//! Signing-key administration.

use serde_json::json;

use super::{Actor, AppError};
use crate::crypto::Sealer;
use crate::keys::Alg;
use crate::oauth::store::{atomically, Store};

/// Adds a key for each of `algs` that signs from `activates_at` (the keys before it
/// retire then); the rotation and its audit events commit together. Returns the new key
/// ids, in the order of `algs`.
pub fn rotate_keys(
    store: &mut dyn Store,
    sealer: &Sealer,
    actor: &Actor,
    algs: &[Alg],
    now: i64,
    activates_at: i64,
) -> Result<Vec<String>, AppError> {
    atomically(store, |s| {
        let kids = s.rotate_keys(sealer, algs, now, activates_at)?;
        for (kid, alg) in kids.iter().zip(algs) {
            s.record(
                &actor
                    .event("key.rotate", kid, now)
                    .detail(json!({ "alg": alg.as_str(), "activates_at": activates_at })),
            )?;
        }
        Ok(kids)
    })
}

/// The scheduled rotation: for each algorithm whose active key has signed for
/// `rotation - prepublish` seconds, a successor published now that signs `prepublish`
/// seconds later. Each claim is its own transaction, so instances never rotate twice.
pub fn rotate_due(
    store: &mut dyn Store,
    sealer: &Sealer,
    rotation: i64,
    prepublish: i64,
    now: i64,
) -> Result<Vec<String>, AppError> {
    let mut kids = Vec::new();
    if rotation <= 0 {
        return Ok(kids);
    }
    let actor = Actor::new("gatehouse", None);
    let (due_before, at) = (now - (rotation - prepublish), now + prepublish);
    for alg in Alg::ALL {
        let kid = atomically(store, |s| {
            let kid = s.rotate_due(sealer, alg, now, due_before, at)?;
            if let Some(kid) = &kid {
                s.record(&actor.event("key.rotate", kid, now).detail(
                    json!({ "alg": alg.as_str(), "activates_at": at, "scheduled": true }),
                ))?;
            }
            Ok::<_, AppError>(kid)
        })?;
        kids.extend(kid);
    }
    Ok(kids)
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
        let kids = rotate_keys(&mut store, &sealer, &Actor::cli(), &[Alg::ES256], 2, 2).unwrap();
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

    #[test]
    fn a_scheduled_key_is_published_before_it_signs_and_rotation_happens_once() {
        let mut store = MemoryStore::new();
        let sealer = Sealer::from_secret("a test secret that is long enough");
        store.ensure_keys(&sealer, 0).unwrap();
        let old = store.load_key_set(&sealer, 0, 600).unwrap();
        let old_kid = old.signer(Alg::ES256).unwrap().kid.clone();
        // Not due yet at 50 (rotation 100, pre-publication 20: due at 80).
        assert!(rotate_due(&mut store, &sealer, 100, 20, 50)
            .unwrap()
            .is_empty());
        let kids = rotate_due(&mut store, &sealer, 100, 20, 80).unwrap();
        assert_eq!(kids.len(), 3, "one per algorithm");
        assert!(
            rotate_due(&mut store, &sealer, 100, 20, 81)
                .unwrap()
                .is_empty(),
            "once"
        );
        let during = store.load_key_set(&sealer, 90, 600).unwrap();
        assert_eq!(
            during.signer(Alg::ES256).unwrap().kid,
            old_kid,
            "the old key signs"
        );
        let es = store.list_keys(90, 600).unwrap();
        let next = es.iter().find(|k| k.kid == kids[1]).unwrap();
        assert_eq!((next.state, next.published), ("next", true));
        let after = store.load_key_set(&sealer, 100, 600).unwrap();
        assert_ne!(
            after.signer(Alg::ES256).unwrap().kid,
            old_kid,
            "the new key signs"
        );
        let states: Vec<_> = store
            .list_keys(100, 600)
            .unwrap()
            .iter()
            .map(|k| k.state)
            .collect();
        assert_eq!(states.iter().filter(|s| **s == "retired").count(), 3);
        assert!(
            rotate_due(&mut store, &sealer, 0, 20, 1000)
                .unwrap()
                .is_empty(),
            "off"
        );
    }
}

//! `KeyStore` in memory, with the same states as the database: next, active, retired.

use super::{MemoryStore, StoredKey};
use crate::crypto::{Purpose, Sealer};
use crate::keys::{Alg, KeySet, SigningKey};
use crate::oauth::store::{KeyInfo, KeyStore, StoreError, StoreResult};

impl MemoryStore {
    fn new_key(&mut self, sealer: &Sealer, alg: Alg, now: i64, at: i64) -> StoreResult<String> {
        let (key, der) =
            SigningKey::generate(alg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let kid = key.kid.clone();
        self.state.keys.push(StoredKey {
            sealed: sealer.seal(Purpose::SigningKey, &der, kid.as_bytes()),
            public_jwk: key.public_jwk(),
            info: KeyInfo {
                kid: kid.clone(),
                alg: alg.as_str().into(),
                created_at: now,
                activates_at: at,
                retired_at: None,
                state: "next",
                published: true,
            },
        });
        Ok(kid)
    }
}

impl KeyStore for MemoryStore {
    fn ensure_keys(&mut self, sealer: &Sealer, now: i64) -> StoreResult<Vec<String>> {
        let mut created = Vec::new();
        for alg in Alg::ALL {
            let active = self.state.keys.iter().any(|k| {
                k.info.alg == alg.as_str()
                    && KeyInfo::signs_at(k.info.activates_at, k.info.retired_at, now)
            });
            if !active {
                created.push(self.new_key(sealer, alg, now, now)?);
            }
        }
        Ok(created)
    }

    fn rotate_keys(
        &mut self,
        sealer: &Sealer,
        algs: &[Alg],
        now: i64,
        at: i64,
    ) -> StoreResult<Vec<String>> {
        let mut created = Vec::new();
        for alg in algs {
            for k in self.state.keys.iter_mut() {
                if k.info.alg == alg.as_str() && k.info.retired_at.is_none_or(|r| r > at) {
                    k.info.retired_at = Some(at);
                }
            }
            created.push(self.new_key(sealer, *alg, now, at)?);
        }
        Ok(created)
    }

    fn rotate_due(
        &mut self,
        sealer: &Sealer,
        alg: Alg,
        now: i64,
        due_before: i64,
        at: i64,
    ) -> StoreResult<Option<String>> {
        let mut claimed = false;
        for k in self.state.keys.iter_mut() {
            let i = &mut k.info;
            if i.alg == alg.as_str() && i.retired_at.is_none() && i.activates_at <= due_before {
                i.retired_at = Some(at);
                claimed = true;
            }
        }
        match claimed {
            true => self.new_key(sealer, alg, now, at).map(Some),
            false => Ok(None),
        }
    }

    fn load_key_set(&mut self, sealer: &Sealer, now: i64, keep: i64) -> StoreResult<KeySet> {
        let mut active = Vec::new();
        let mut published = Vec::new();
        let mut keys: Vec<&StoredKey> = self.state.keys.iter().collect();
        keys.sort_by_key(|k| std::cmp::Reverse((k.info.activates_at, k.info.created_at)));
        for k in keys {
            if !KeyInfo::published_at(k.info.retired_at, now, keep) {
                continue;
            }
            published.push(k.public_jwk.clone());
            let alg = Alg::parse(&k.info.alg).ok_or_else(|| StoreError::Corrupt("alg".into()))?;
            let signs = KeyInfo::signs_at(k.info.activates_at, k.info.retired_at, now);
            if signs && !active.iter().any(|a: &SigningKey| a.alg == alg) {
                let der = sealer
                    .open(Purpose::SigningKey, &k.sealed, k.info.kid.as_bytes())
                    .ok_or_else(|| StoreError::Corrupt("cannot open a signing key".into()))?;
                let key = SigningKey::from_pkcs8(Some(k.info.kid.clone()), alg, &der)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                active.push(key);
            }
        }
        Ok(KeySet::new(active, published))
    }

    fn list_keys(&mut self, now: i64, publish_after_retire: i64) -> StoreResult<Vec<KeyInfo>> {
        Ok(self
            .state
            .keys
            .iter()
            .map(|k| KeyInfo {
                published: KeyInfo::published_at(k.info.retired_at, now, publish_after_retire),
                state: KeyInfo::state_at(k.info.activates_at, k.info.retired_at, now),
                ..k.info.clone()
            })
            .collect())
    }
}

//! `KeyStore` over diesel: signing keys, private parts sealed under the key-encryption secret.

use diesel::prelude::*;
use serde_json::Value;

use super::schema::signing_keys;
use super::DbConn;
use crate::crypto::{Purpose, Sealer};
use crate::keys::{Alg, KeySet, SigningKey};
use crate::oauth::store::StoreResult;
use crate::oauth::store::{KeyInfo, KeyStore, StoreError};

#[derive(Queryable, Insertable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    alg: String,
    private_key: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    retired_at: Option<i64>,
    activates_at: i64,
}

/// A new key of `alg` that signs from `activates_at`.
fn insert_new(
    conn: &mut DbConn,
    sealer: &Sealer,
    alg: Alg,
    now: i64,
    activates_at: i64,
) -> StoreResult<String> {
    let (key, der) = SigningKey::generate(alg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = KeyRow {
        private_key: sealer.seal(Purpose::SigningKey, &der, key.kid.as_bytes()),
        public_jwk: key.public_jwk().to_string(),
        kid: key.kid,
        alg: alg.as_str().to_string(),
        created_at: now,
        retired_at: None,
        activates_at,
    };
    diesel::insert_into(signing_keys::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.kid)
}

impl KeyStore for DbConn {
    fn ensure_keys(&mut self, sealer: &Sealer, now: i64) -> StoreResult<Vec<String>> {
        let mut created = Vec::new();
        for alg in Alg::ALL {
            let active: i64 = signing_keys::table
                .filter(signing_keys::alg.eq(alg.as_str()))
                .filter(signing_keys::activates_at.le(now))
                .filter(
                    signing_keys::retired_at
                        .is_null()
                        .or(signing_keys::retired_at.gt(now)),
                )
                .count()
                .get_result(self)?;
            if active == 0 {
                created.push(insert_new(self, sealer, alg, now, now)?);
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
            // The write comes first: the keys before the new one retire when it signs.
            diesel::update(
                signing_keys::table
                    .filter(signing_keys::alg.eq(alg.as_str()))
                    .filter(
                        signing_keys::retired_at
                            .is_null()
                            .or(signing_keys::retired_at.gt(at)),
                    ),
            )
            .set(signing_keys::retired_at.eq(Some(at)))
            .execute(self)?;
            created.push(insert_new(self, sealer, *alg, now, at)?);
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
        // The claim: only a key with no successor scheduled has `retired_at` unset.
        let claimed = diesel::update(
            signing_keys::table
                .filter(signing_keys::alg.eq(alg.as_str()))
                .filter(signing_keys::retired_at.is_null())
                .filter(signing_keys::activates_at.le(due_before)),
        )
        .set(signing_keys::retired_at.eq(Some(at)))
        .execute(self)?;
        match claimed {
            0 => Ok(None),
            _ => insert_new(self, sealer, alg, now, at).map(Some),
        }
    }

    fn load_key_set(&mut self, sealer: &Sealer, now: i64, keep: i64) -> StoreResult<KeySet> {
        let rows: Vec<KeyRow> = signing_keys::table
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(now - keep)),
            )
            .order((
                signing_keys::activates_at.desc(),
                signing_keys::created_at.desc(),
            ))
            .load(self)?;
        let mut active: Vec<SigningKey> = Vec::new();
        let mut published: Vec<Value> = Vec::new();
        for row in rows {
            let jwk: Value = serde_json::from_str(&row.public_jwk)
                .map_err(|e| StoreError::Corrupt(format!("key {}: public JWK: {e}", row.kid)))?;
            published.push(jwk);
            let Some(alg) = Alg::parse(&row.alg) else {
                continue;
            };
            // Latest activation first: the first key of each algorithm that signs now.
            let signs = KeyInfo::signs_at(row.activates_at, row.retired_at, now);
            if signs && !active.iter().any(|k| k.alg == alg) {
                let der = sealer.open(Purpose::SigningKey, &row.private_key, row.kid.as_bytes()).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "cannot decrypt signing key {}: GATEHOUSE_SECRET_KEY is not the secret it was stored with",
                        row.kid
                    ))
                })?;
                let key = SigningKey::from_pkcs8(Some(row.kid.clone()), alg, &der)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                active.push(key);
            }
        }
        Ok(KeySet::new(active, published))
    }

    fn list_keys(&mut self, now: i64, publish_after_retire: i64) -> StoreResult<Vec<KeyInfo>> {
        let rows: Vec<KeyRow> = signing_keys::table
            .order((signing_keys::alg.asc(), signing_keys::created_at.desc()))
            .load(self)?;
        Ok(rows
            .into_iter()
            .map(|r| KeyInfo {
                published: KeyInfo::published_at(r.retired_at, now, publish_after_retire),
                state: KeyInfo::state_at(r.activates_at, r.retired_at, now),
                kid: r.kid,
                alg: r.alg,
                created_at: r.created_at,
                activates_at: r.activates_at,
                retired_at: r.retired_at,
            })
            .collect())
    }
}

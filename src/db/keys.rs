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
}

fn insert_new(conn: &mut DbConn, sealer: &Sealer, alg: Alg, now: i64) -> StoreResult<String> {
    let (key, der) = SigningKey::generate(alg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = KeyRow {
        private_key: sealer.seal(Purpose::SigningKey, &der, key.kid.as_bytes()),
        public_jwk: key.public_jwk().to_string(),
        kid: key.kid,
        alg: alg.as_str().to_string(),
        created_at: now,
        retired_at: None,
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
                .filter(signing_keys::retired_at.is_null())
                .count()
                .get_result(self)?;
            if active == 0 {
                created.push(insert_new(self, sealer, alg, now)?);
            }
        }
        Ok(created)
    }

    fn rotate_keys(&mut self, sealer: &Sealer, algs: &[Alg], now: i64) -> StoreResult<Vec<String>> {
        let mut created = Vec::new();
        for alg in algs {
            let kid = insert_new(self, sealer, *alg, now)?;
            diesel::update(
                signing_keys::table
                    .filter(signing_keys::alg.eq(alg.as_str()))
                    .filter(signing_keys::retired_at.is_null())
                    .filter(signing_keys::kid.ne(&kid)),
            )
            .set(signing_keys::retired_at.eq(Some(now)))
            .execute(self)?;
            created.push(kid);
        }
        Ok(created)
    }

    fn load_key_set(&mut self, sealer: &Sealer, now: i64, keep: i64) -> StoreResult<KeySet> {
        let rows: Vec<KeyRow> = signing_keys::table
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(now - keep)),
            )
            .order(signing_keys::created_at.desc())
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
            // Newest first: the first non-retired key of each algorithm signs.
            if row.retired_at.is_none() && !active.iter().any(|k| k.alg == alg) {
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
                published: r.retired_at.is_none_or(|t| t > now - publish_after_retire),
                kid: r.kid,
                alg: r.alg,
                created_at: r.created_at,
                retired_at: r.retired_at,
            })
            .collect())
    }
}

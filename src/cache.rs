//! A short-lived cache of client records. Client authentication is on the hot path of
//! machine-to-machine traffic; an entry lives under a second, so a deleted client or a
//! rotated secret stops working within a second on every instance. While the database
//! cannot be reached, an entry serves for up to a minute.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::Client;

pub const CLIENT_TTL: Duration = Duration::from_millis(900);
/// How long an entry may still serve while the database cannot be reached, so machine
/// clients keep getting tokens through a short outage.
pub const CLIENT_STALE_TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 10_000;

/// A client record and when it was read.
type Entry = (Arc<Client>, Instant);

#[derive(Debug, Default, Clone)]
pub struct ClientCache {
    inner: Arc<RwLock<HashMap<String, Entry>>>,
    /// Lookups answered from the cache, and those that were not (for the metrics).
    pub hits: prometheus_client::metrics::counter::Counter,
    pub misses: prometheus_client::metrics::counter::Counter,
}

impl ClientCache {
    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        let map = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let found = map
            .get(client_id)
            .filter(|(_, at)| at.elapsed() < CLIENT_TTL)
            .map(|(c, _)| c.clone());
        match found {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        };
        found
    }

    /// An entry up to [`CLIENT_STALE_TTL`] old: only for when the database cannot answer.
    pub fn get_stale(&self, client_id: &str) -> Option<Arc<Client>> {
        let map = self.inner.read().unwrap_or_else(|e| e.into_inner());
        map.get(client_id)
            .filter(|(_, at)| at.elapsed() < CLIENT_STALE_TTL)
            .map(|(c, _)| c.clone())
    }

    pub fn put(&self, client: Arc<Client>) {
        let mut map = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, at)| at.elapsed() < CLIENT_STALE_TTL);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(client.client_id.clone(), (client, Instant::now()));
    }

    /// Drops an entry at once (this instance changed or deleted the client).
    pub fn forget(&self, client_id: &str) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(client_id);
    }
}

/// Counts events per key in fixed one-hour windows, in this instance's memory: cheap
/// enough to sit in front of work an anonymous caller can ask for (open registration).
#[derive(Debug, Default, Clone)]
pub struct HourlyLimit {
    inner: Arc<std::sync::Mutex<HashMap<String, (Instant, u32)>>>,
}

impl HourlyLimit {
    /// Counts one event for `key`; false (and not counted) once `max` were counted in the
    /// current hour.
    pub fn allow(&self, key: &str, max: u32) -> bool {
        const HOUR: Duration = Duration::from_secs(3600);
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (start, _)| start.elapsed() < HOUR);
        }
        let entry = map.entry(key.to_string()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= HOUR {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= max {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod limit_tests {
    use super::HourlyLimit;

    #[test]
    fn counts_per_key_up_to_the_limit() {
        let l = HourlyLimit::default();
        assert!(l.allow("a", 2));
        assert!(l.allow("a", 2));
        assert!(!l.allow("a", 2));
        assert!(l.allow("b", 2));
    }
}

/// Access tokens that verified (signature, issuer, `typ`), by the SHA-256 of the token:
/// a resource server that introspects one token many times pays for its signature once.
/// Only verification is cached: revocation and the user are checked on every call, in
/// the database, so a revocation shows at once on every instance. An entry counts while
/// its token is unexpired and its key still published; at most [`VERIFIED_MAX`] entries.
#[derive(Debug, Default, Clone)]
pub struct VerifiedTokens {
    inner: Arc<std::sync::Mutex<HashMap<[u8; 32], Verified>>>,
}

/// The key that signed a token, and its claims.
type Verified = (String, Arc<crate::oauth::tokens::AccessClaims>);

pub const VERIFIED_MAX: usize = 10_000;

impl VerifiedTokens {
    /// [`crate::oauth::tokens::verify_access_token`], through the cache.
    pub fn verify(
        &self,
        keys: &crate::keys::KeySet,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<Arc<crate::oauth::tokens::AccessClaims>, crate::oauth::error::OAuthError> {
        let id = crate::crypto::sha256(token.as_bytes());
        {
            let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((kid, claims)) = map.get(&id) {
                if claims.exp > now && keys.publishes(kid) && claims.iss == issuer {
                    return Ok(claims.clone());
                }
            }
        }
        let claims = Arc::new(crate::oauth::tokens::verify_access_token(
            keys, token, issuer, now,
        )?);
        let kid = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .unwrap_or_default();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= VERIFIED_MAX {
            map.retain(|_, (_, c)| c.exp > now);
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
        }
        map.insert(id, (kid, claims.clone()));
        Ok(claims)
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use crate::keys::{Alg, KeySet, SigningKey};
    use crate::oauth::tokens::{new_jti, sign_access_token, AccessClaims};

    #[test]
    fn a_cached_token_still_expires_and_needs_its_key_published() {
        let (key, der) = SigningKey::generate(Alg::ES256).unwrap();
        let signer = SigningKey::from_pkcs8(Some(key.kid.clone()), Alg::ES256, &der).unwrap();
        let keys = KeySet::new(vec![signer], vec![key.public_jwk()]);
        let claims = AccessClaims {
            iss: "https://id.example".into(),
            sub: "c".into(),
            aud: crate::oauth::resource::Audience::one("https://api.example"),
            client_id: "c".into(),
            scope: String::new(),
            jti: new_jti(),
            iat: 0,
            exp: 100,
            auth_time: None,
            sid: None,
            cnf: None,
            act: None,
            may_act: None,
            userinfo_claims: Vec::new(),
        };
        let token = sign_access_token(&key, &claims);
        let cache = VerifiedTokens::default();
        assert!(cache
            .verify(&keys, &token, "https://id.example", 10)
            .is_ok());
        assert!(
            cache
                .verify(&keys, &token, "https://id.example", 11)
                .is_ok(),
            "cached"
        );
        assert!(cache
            .verify(&keys, &token, "https://other.example", 11)
            .is_err());
        assert!(
            cache
                .verify(&keys, &token, "https://id.example", 100)
                .is_err(),
            "expired"
        );
        let unpublished = KeySet::new(vec![], vec![]);
        assert!(cache
            .verify(&unpublished, &token, "https://id.example", 12)
            .is_err());
        let mut forged = token.clone();
        forged.push('x');
        assert!(cache
            .verify(&keys, &forged, "https://id.example", 12)
            .is_err());
    }
}

//! Scheduled signing-key rotation with pre-publication: a relying party that keeps a
//! JWKS copy for as long as `Cache-Control` allows verifies every token issued across a
//! rotation with a copy fetched before the token; concurrent schedulers rotate once.

use std::time::{Duration, Instant};

use gatehouse::crypto::Sealer;
use gatehouse::db::unix_now;
use gatehouse::oauth::store::prelude::*;
use serde_json::Value;

use crate::both_backends_on;
use crate::fixtures::{cc_token, machine};
use crate::helpers::{spawn_on, Backend, TestApp, TestDb, SECRET};

/// Rotation every 6 s with 3 s of pre-publication (keys re-read every second).
pub async fn rotating_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(
        spawn_on(backend, db, |s| {
            s.lifetimes.key_rotation = 6;
            s.lifetimes.key_prepublish = 3;
        })
        .await,
    )
}

/// A relying party's JWKS cache: refetched when `Cache-Control` says it is stale.
struct JwksCache {
    set: jsonwebtoken::jwk::JwkSet,
    fresh_until: Instant,
}

async fn fetch_jwks(app: &TestApp) -> JwksCache {
    let res = app.http.get(app.url("/jwks.json")).send().await.unwrap();
    let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
    let max_age: u64 = cc
        .split("max-age=")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a max-age");
    assert!(
        max_age < 3,
        "the cache is younger than the pre-publication: {cc}"
    );
    JwksCache {
        set: res.json().await.unwrap(),
        fresh_until: Instant::now() + Duration::from_secs(max_age),
    }
}

async fn tokens_verify_with_an_earlier_jwks(app: TestApp) {
    let c = machine(&app, "reports:read", &[]);
    let mut cache = fetch_jwks(&app).await;
    let mut kids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(14);
    while Instant::now() < deadline {
        if Instant::now() >= cache.fresh_until {
            cache = fetch_jwks(&app).await;
        }
        let token = cc_token(&app, &c.id, c.secret.as_deref().unwrap()).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        let kid = header.kid.clone().unwrap();
        let jwk = cache.set.find(&kid).unwrap_or_else(|| {
            panic!("token signed with {kid}, which the cached JWKS does not have yet")
        });
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.validate_aud = false;
        jsonwebtoken::decode::<Value>(&token, &key, &v).expect("the signature verifies");
        if kids.last() != Some(&kid) {
            kids.push(kid);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        kids.len() >= 2,
        "a rotation happened during the run: {kids:?}"
    );
    let out = app.cli(&["keys", "list", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let es: Vec<&Value> = listed.iter().filter(|k| k["alg"] == "ES256").collect();
    assert!(es.iter().any(|k| k["state"] == "active"), "{es:?}");
    assert!(es
        .iter()
        .any(|k| k["state"] == "retired" && k["published"] == true));
    assert!(es.iter().all(|k| k["activates_at"].is_i64()));
    let events = crate::authorize::with_db(&app, |c| c.list_events(None, 1000).unwrap()).await;
    assert!(events
        .iter()
        .any(|e| e.action == "key.rotate" && e.actor == "gatehouse"));
}
both_backends_on!(
    rotation_with_prepublication,
    tokens_verify_with_an_earlier_jwks,
    crate::key_rotation::rotating_app
);

async fn concurrent_schedulers_rotate_once(app: TestApp) {
    let db = app.services.db.clone();
    let now = unix_now();
    let before = crate::authorize::with_db(&app, move |c| c.list_keys(now, 0).unwrap().len()).await;
    // Four schedulers on their own connections, all due at once.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                let sealer = Sealer::from_secret(SECRET);
                let mut conn = db.conn().unwrap();
                let later = now + 100;
                gatehouse::app::keys::rotate_due(&mut *conn, &sealer, 50, 10, later)
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        // A scheduler that lost a race to the database's locks is fine: it rotates
        // nothing; what may not happen is two successors.
        if let Ok(kids) = t.await.unwrap() {
            created += kids.len();
        }
    }
    let after = crate::authorize::with_db(&app, move |c| c.list_keys(now, 0).unwrap().len()).await;
    assert_eq!(created, 3, "one successor per algorithm");
    assert_eq!(after - before, 3);
}
both_backends_on!(
    rotation_once,
    concurrent_schedulers_rotate_once,
    crate::helpers::spawn_app
);

//! Issuing one client-credentials access token in-process (client lookup from the cache,
//! secret check, claims, signature; no HTTP), beside the bare signature of the same
//! algorithm. Compare the two lines of each algorithm: issuance should reach at least
//! 80 % of the bare signing rate.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gatehouse::cache::ClientCache;
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::crypto::{random_token, secret_hash, Sealer};
use gatehouse::domain::client::{AuthMethod, Client, ClientSecret};
use gatehouse::domain::Scopes;
use gatehouse::keys::{Alg, KeySet, SigningKey};
use gatehouse::oauth::client_auth::{self, Presented};
use gatehouse::oauth::grants::{self, client_credentials, Issuer};
use gatehouse::oauth::params::Params;

fn machine_client(secret: &str, alg: Alg) -> Client {
    Client {
        client_id: "bench-client".into(),
        name: "bench".into(),
        secret_hash: Some(secret_hash(secret)),
        auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![client_credentials::ID],
        scopes: Scopes::parse("read write").unwrap(),
        skip_consent: false,
        jwks: None,
        jwks_uri: None,
        provenance: Default::default(),
        dpop_bound: false,
        require_par: false,
        fapi2: false,
        request_object_alg: None,
        request_uris: vec![],
        userinfo_alg: None,
        openid: Default::default(),
        used_at: None,
        id_token_alg: None,
        access_token_alg: Some(alg),
        audience: Some("https://api.example".into()),
        client_uri: None,
        logo_uri: None,
        contacts: vec![],
        registration_token_hash: None,
        created_at: 0,
        updated_at: 0,
        ceiling: None,
        tokens_valid_after: 0,
    }
}

fn bench(c: &mut Criterion) {
    let settings = Settings::resolve(&SettingsArgs {
        issuer: Some("https://id.example".into()),
        secret_key: Some("bench-secret-key-that-is-long-enough-123456".into()),
        ..Default::default()
    })
    .unwrap();
    let sealer = Sealer::from_secret("bench-secret-key-that-is-long-enough-123456");
    let resources = gatehouse::domain::ResourceSet::default();
    let keys: Vec<SigningKey> = Alg::ALL
        .iter()
        .map(|a| SigningKey::generate(*a).unwrap().0)
        .collect();
    let published = keys.iter().map(|k| k.public_jwk()).collect();
    let keyset = KeySet::new(keys, published);
    let secret = random_token(32);
    let now = 1_800_000_000;
    let form = Params::parse_query("grant_type=client_credentials").unwrap();

    let mut group = c.benchmark_group("client_credentials");
    group.throughput(Throughput::Elements(1));
    for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
        let cache = ClientCache::default();
        let record = Arc::new(machine_client(&secret, alg));
        let key = keyset.signer(alg).unwrap();
        // The same header.payload size as an access token, so only the work around the
        // signature differs.
        let message = vec![b'a'; 420];
        group.bench_function(format!("{alg}/bare_signature"), |b| {
            b.iter(|| black_box(key.sign(black_box(&message))))
        });
        group.bench_function(format!("{alg}/issue"), |b| {
            b.iter(|| {
                let presented = Presented::Basic {
                    client_id: "bench-client".into(),
                    secret: ClientSecret::new(secret.clone()),
                };
                // An entry lives under a second; a server reloads it from the database
                // then, which is amortised over every request in that second.
                let client = cache.get(presented.client_id()).unwrap_or_else(|| {
                    cache.put(record.clone());
                    record.clone()
                });
                client_auth::verify(&presented, &client, &[], now).unwrap();
                let issuer = Issuer {
                    settings: &settings,
                    keys: &keyset,
                    sealer: &sealer,
                    resources: &resources,
                    dpop_jkt: None,
                    now,
                };
                let (_, request) = grants::parse_request(&form).unwrap();
                let outcome = request.answer_without_store(&issuer, &client).unwrap();
                black_box(outcome.result.unwrap())
            })
        });
    }
    group.finish();
    dpop(c, &settings, &sealer, &keyset, &secret);
}

/// A DPoP-bound token request against a plain one, side by side: the server's extra
/// work is checking the proof (its signature, claims and nonce; the replay store is a
/// database write, left out here) and adding `cnf` to the token.
fn dpop(c: &mut Criterion, settings: &Settings, sealer: &Sealer, keyset: &KeySet, secret: &str) {
    use gatehouse::oauth::dpop::{self as dp, Expect};
    let now = 1_800_000_000;
    let resources = gatehouse::domain::ResourceSet::default();
    let record = machine_client(secret, Alg::ES256);
    let form = Params::parse_query("grant_type=client_credentials").unwrap();
    let (client_key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let url = "https://id.example/token";
    let nonce = dp::nonce(sealer, now);
    let proof = {
        let mut jwk = client_key.public_jwk();
        jwk.as_object_mut()
            .unwrap()
            .retain(|k, _| !matches!(k.as_str(), "kid" | "use" | "alg"));
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let claims =
            serde_json::json!({"jti": "j", "htm": "POST", "htu": url, "iat": now, "nonce": nonce});
        let b64 = gatehouse::crypto::b64url;
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        format!("{input}.{}", b64(&client_key.sign(input.as_bytes())))
    };
    let issue = |jkt: Option<&str>| {
        let presented = Presented::Basic {
            client_id: "bench-client".into(),
            secret: ClientSecret::new(secret.to_string()),
        };
        client_auth::verify(&presented, &record, &[], now).unwrap();
        let issuer = Issuer {
            settings,
            keys: keyset,
            sealer,
            resources: &resources,
            dpop_jkt: jkt,
            now,
        };
        let (_, request) = grants::parse_request(&form).unwrap();
        request
            .answer_without_store(&issuer, &record)
            .unwrap()
            .result
            .unwrap()
    };
    let mut group = c.benchmark_group("dpop");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ES256/plain", |b| b.iter(|| black_box(issue(None))));
    group.bench_function("ES256/dpop_bound", |b| {
        b.iter(|| {
            let expect = Expect {
                method: "POST",
                url,
                access_token: None,
                now,
                require_nonce: true,
            };
            let checked = dp::verify(black_box(&proof), &expect, |n| {
                dp::nonce_valid(sealer, n, now)
            })
            .unwrap();
            black_box(issue(Some(&checked.jkt)))
        })
    });
    group.finish();
}

/// Verifying an access token for introspection: the bare signature check, the full check
/// (`verify_access_token`: header, key lookup, signature, claims), and a repeated token
/// through the verification cache. The revocation and user checks that follow in the
/// database are the same either way and are not measured here.
fn introspect(c: &mut Criterion) {
    let (key, der) = SigningKey::generate(Alg::ES256).unwrap();
    let signer = SigningKey::from_pkcs8(Some(key.kid.clone()), Alg::ES256, &der).unwrap();
    let keys = KeySet::new(vec![signer], vec![key.public_jwk()]);
    let now = 1_800_000_000;
    let claims = gatehouse::oauth::tokens::AccessClaims {
        iss: "https://id.example".into(),
        sub: "bench-client".into(),
        aud: gatehouse::oauth::resource::Audience::one("https://api.example"),
        client_id: "bench-client".into(),
        scope: "reports:read".into(),
        jti: gatehouse::oauth::tokens::new_jti(),
        iat: now,
        exp: now + 600,
        auth_time: None,
        sid: None,
        cnf: None,
        act: None,
        may_act: None,
        userinfo_claims: Vec::new(),
    };
    let token = gatehouse::oauth::tokens::sign_access_token(&key, &claims);
    let (decoding, _) = keys.decoding_key(&key.kid).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.validate_aud = false;
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let cache = gatehouse::cache::VerifiedTokens::default();
    let mut group = c.benchmark_group("introspect");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ES256/bare_verification", |b| {
        b.iter(|| {
            black_box(jsonwebtoken::decode::<serde_json::Value>(&token, decoding, &v).unwrap())
        })
    });
    group.bench_function("ES256/verify", |b| {
        b.iter(|| {
            black_box(
                gatehouse::oauth::tokens::verify_access_token(
                    &keys,
                    &token,
                    "https://id.example",
                    now,
                )
                .unwrap(),
            )
        })
    });
    group.bench_function("ES256/verify_cached", |b| {
        b.iter(|| {
            black_box(
                cache
                    .verify(&keys, &token, "https://id.example", now)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench, introspect);
criterion_main!(benches);

//! Shared set-up for the token tests: clients and users made through the real CLI,
//! and refresh tokens seeded through the grant store.

use gatehouse::crypto::{random_token, secret_hash};
use gatehouse::db::unix_now;
use gatehouse::oauth::store::prelude::*;
use gatehouse::oauth::store::{Amr, RefreshRecord};
use serde_json::Value;

use crate::helpers::TestApp;

pub struct Registered {
    pub id: String,
    pub secret: Option<String>,
}

/// `gatehouse clients create … --json`.
pub fn client(app: &TestApp, args: &[&str]) -> Registered {
    let mut all = vec!["clients", "create", "--json"];
    all.extend_from_slice(args);
    if !args.contains(&"--name") {
        all.extend_from_slice(&["--name", "test client"]);
    }
    let out = app.cli(&all, None);
    assert_eq!(out.code, 0, "clients create {args:?}: {}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    Registered {
        id: v["client_id"].as_str().unwrap().to_string(),
        secret: v["client_secret"].as_str().map(str::to_string),
    }
}

/// A machine client with `client_credentials` and the given scopes.
pub fn machine(app: &TestApp, scopes: &str, extra: &[&str]) -> Registered {
    let mut args = vec!["--grant-type", "client_credentials", "--scope", scopes];
    args.extend_from_slice(extra);
    client(app, &args)
}

/// `gatehouse users add NAME --password-stdin`; returns the user's id.
pub fn user(app: &TestApp, name: &str, password: &str) -> String {
    let out = app.cli(
        &[
            "users",
            "add",
            name,
            "--password-stdin",
            "--email",
            &format!("{name}@example.com"),
            "--name",
            name,
        ],
        Some(&format!("{password}\n")),
    );
    assert_eq!(out.code, 0, "users add: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// A refresh token as if issued by an authorization-code exchange, for `client_id`.
pub async fn seed_refresh(app: &TestApp, client_id: &str, user_id: &str, scopes: &str) -> String {
    let token = random_token(32);
    let now = unix_now();
    let rec = RefreshRecord {
        token_hash: secret_hash(&token),
        family_id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_string(),
        user_id: user_id.to_string(),
        scopes: gatehouse::domain::Scopes::parse(scopes).unwrap(),
        amr: vec![Amr::Pwd],
        resources: Vec::new(),
        sid: Some("test-sid".into()),
        auth_time: now - 10,
        created_at: now,
        expires_at: now + 3600,
        idle_expires_at: now + 3600,
        used_at: None,
        replaced_by: None,
        grace_response: None,
        access_jti: None,
        access_expires_at: None,
        revoked: false,
        dpop_jkt: None,
        claims: None,
    };
    let db = app.services.db.clone();
    tokio::task::spawn_blocking(move || db.conn().unwrap().insert_refresh(&rec).unwrap())
        .await
        .unwrap();
    token
}

/// The unverified header and claims of a JWT.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let dec = |s: &str| -> Value {
        serde_json::from_slice(&gatehouse::crypto::b64url_decode(s).unwrap()).unwrap()
    };
    (dec(it.next().unwrap()), dec(it.next().unwrap()))
}

/// Verifies a JWT against the server's published JWKS, like a resource server would.
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_aud = false;
    v.set_issuer(&[&app.issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .expect("signature verifies")
        .claims
}

/// POSTs a form to an endpoint with optional Basic credentials.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app.http.post(app.url(path)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// An access token from a client-credentials request (asserting it succeeds).
pub async fn cc_token(app: &TestApp, id: &str, secret: &str) -> String {
    let (status, body, _) = post_form(
        app,
        "/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

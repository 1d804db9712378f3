//! The admin REST API: client and user round trips, the error shape, the audit trail,
//! and the OpenAPI document against the routes actually served.

use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use gatehouse::crypto::secret_hash;
use gatehouse::domain::user::verify_password;
use gatehouse::keys::Alg;
use gatehouse::oauth::store::prelude::*;
use gatehouse::oauth::tokens::{new_jti, sign_access_token, AccessClaims};

use crate::both_backends;
use crate::fixtures::{cc_token, client, machine, post_form, seed_refresh};
use crate::helpers::TestApp;

/// An access token carrying `gatehouse:admin`, the usual way: a client created with the
/// CLI and a client-credentials request. Returns the token and that client's id.
pub async fn admin_token(app: &TestApp) -> (String, String) {
    let ops = machine(app, "gatehouse:admin", &[]);
    let token = cc_token(app, &ops.id, ops.secret.as_deref().unwrap()).await;
    (token, ops.id)
}

/// A JSON request with an optional Bearer token: status, body (`Null` when empty) and
/// headers.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body, headers)
}

/// The admin API's one error shape, with the code expected.
#[track_caller]
fn assert_error(body: &Value, code: &str) {
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["error", "message"]), "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// The audit log as the CLI prints it, newest first.
pub fn audit_log(app: &TestApp) -> Vec<Value> {
    let out = app.cli(&["audit", "--json", "--limit", "500"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The one event with this action and target.
#[track_caller]
pub fn event<'a>(log: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "{action} {target} in {log:?}");
    found[0]
}

async fn clients_round_trip(app: TestApp) {
    let (token, admin_id) = admin_token(&app).await;
    let t = Some(token.as_str());
    let actor = format!("client:{admin_id}");

    // Create: an operator may grant gatehouse:admin and operator-only settings.
    let (status, created, headers) = call(
        &app,
        Method::POST,
        "/admin/api/clients",
        t,
        Some(json!({
            "client_name": "Reporting",
            "grant_types": ["client_credentials"],
            "scope": "gatehouse:admin read",
            "audience": "https://api.example",
            "skip_consent": true,
            "contacts": ["ops@example.com"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["cache-control"], "no-store");
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(created["client_secret_expires_at"], 0);
    assert_eq!(created["scope"], "gatehouse:admin read");
    assert_eq!(created["audience"], "https://api.example");
    assert_eq!(created["skip_consent"], true);
    assert_eq!(created["contacts"], json!(["ops@example.com"]));
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    // It works at once.
    cc_token(&app, &id, &secret).await;

    // Invalid metadata: the stable shape, the field named.
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/admin/api/clients",
        t,
        Some(json!({"client_name": "Bad", "redirect_uris": ["http://evil.example/cb"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("redirect_uris"));

    // A public client, for the secret rotation refusal below.
    let (status, public, _) = call(
        &app,
        Method::POST,
        "/admin/api/clients",
        t,
        Some(json!({
            "client_name": "SPA",
            "redirect_uris": ["https://spa.example/cb"],
            "token_endpoint_auth_method": "none",
        })),
    )
    .await;
    assert_eq!(status, 201, "{public}");
    assert!(public.get("client_secret").is_none());
    let public_id = public["client_id"].as_str().unwrap().to_string();

    // List with paging: the ops client, Reporting, SPA.
    let (status, page, _) = call(
        &app,
        Method::GET,
        "/admin/api/clients?offset=0&limit=2",
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, rest, _) = call(&app, Method::GET, "/admin/api/clients?offset=2", t, None).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let mut seen: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|c| c["client_id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    let mut expected = vec![admin_id.clone(), id.clone(), public_id.clone()];
    expected.sort();
    assert_eq!(seen, expected, "pages neither overlap nor miss a client");
    assert!(
        page["items"][0].get("client_secret").is_none(),
        "lists never show secrets"
    );

    // Show.
    let (status, shown, _) = call(
        &app,
        Method::GET,
        &format!("/admin/api/clients/{id}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown["client_name"], "Reporting");
    assert!(shown.get("client_secret").is_none());

    // Replace: full replacement; the secret stays.
    let (status, replaced, _) = call(
        &app,
        Method::PUT,
        &format!("/admin/api/clients/{id}"),
        t,
        Some(json!({
            "client_id": id,
            "client_name": "Reporting v2",
            "grant_types": ["client_credentials"],
            "scope": "read write",
        })),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["client_name"], "Reporting v2");
    assert_eq!(replaced["scope"], "read write");
    assert_eq!(replaced["skip_consent"], false, "left out: the default");
    assert_eq!(replaced["contacts"], json!([]));
    assert!(replaced.get("client_secret").is_none());
    let tok = cc_token(&app, &id, &secret).await;
    let (_, claims) = crate::fixtures::jwt_parts(&tok);
    assert_eq!(
        claims["scope"], "read write",
        "the new metadata applies at once"
    );
    let (status, body, _) = call(
        &app,
        Method::PUT,
        &format!("/admin/api/clients/{id}"),
        t,
        Some(json!({"client_id": "someone-else", "grant_types": ["client_credentials"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_request");

    // Rotate: the new secret works, the old one stops at once.
    let (status, rotated, _) = call(
        &app,
        Method::POST,
        &format!("/admin/api/clients/{id}/rotate-secret"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["client_secret_expires_at"], 0);
    cc_token(&app, &id, &new_secret).await;
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401, "the old secret is refused");
    let (status, body, _) = call(
        &app,
        Method::POST,
        &format!("/admin/api/clients/{public_id}/rotate-secret"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 409);
    assert_error(&body, "conflict");

    // Delete.
    let path = format!("/admin/api/clients/{id}");
    let (status, body, _) = call(&app, Method::DELETE, &path, t, None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body, _) = call(&app, Method::GET, &path, t, None).await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    let (status, body, _) = call(&app, Method::DELETE, &path, t, None).await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&id, &new_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401, "a deleted client is refused at once");

    // Audited, by the admin client, from the loopback address, without secrets.
    let log = audit_log(&app);
    for action in [
        "client.create",
        "client.update",
        "client.secret_rotate",
        "client.delete",
    ] {
        let e = event(&log, action, &id);
        assert_eq!(e["actor"], actor.as_str());
        assert_eq!(e["ip"], "127.0.0.1");
    }
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(&secret) && !text.contains(&new_secret));
}
both_backends!(admin_clients, clients_round_trip);

async fn users_round_trip(app: TestApp) {
    let (token, admin_id) = admin_token(&app).await;
    let t = Some(token.as_str());
    let password = "correct horse battery";

    let (status, alice, _) = call(
        &app,
        Method::POST,
        "/admin/api/users",
        t,
        Some(json!({
            "username": "alice",
            "password": password,
            "email": "alice@example.com",
            "name": "Alice",
        })),
    )
    .await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["admin"], false);
    assert_eq!(alice["disabled"], false);
    assert!(alice.get("password").is_none() && alice.get("password_hash").is_none());
    let alice_id = alice["id"].as_str().unwrap().to_string();
    for (name, email) in [("bob", "bob@example.com"), ("carol", "carol@corp.example")] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/admin/api/users",
            t,
            Some(json!({"username": name, "password": password, "email": email, "admin": name == "carol"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    // Refusals in the stable shape.
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/admin/api/users",
        t,
        Some(json!({"username": "alice", "password": password})),
    )
    .await;
    assert_eq!(status, 409);
    assert_error(&body, "conflict");
    for (bad, field) in [
        (json!({"username": "dave", "password": "short"}), "password"),
        (
            json!({"username": "da ve", "password": password}),
            "username",
        ),
        (
            json!({"username": "dave", "password": password, "email": "nope"}),
            "email",
        ),
        (json!({"password": password}), "username"),
        (
            json!({"username": "dave", "password": 12345678}),
            "password",
        ),
    ] {
        let (status, body, _) = call(&app, Method::POST, "/admin/api/users", t, Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert_error(&body, "invalid_request");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{body}"
        );
    }

    // List, page and search.
    let (status, page, _) = call(&app, Method::GET, "/admin/api/users?limit=2", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let (_, found, _) = call(
        &app,
        Method::GET,
        "/admin/api/users?q=corp.example",
        t,
        None,
    )
    .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["username"], "carol");
    assert_eq!(found["items"][0]["admin"], true);

    // Show and update.
    let (status, shown, _) = call(&app, Method::GET, "/admin/api/users/alice", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(shown["email"], "alice@example.com");
    let (status, patched, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/alice",
        t,
        Some(json!({"email": "ada@example.com", "name": null, "admin": true})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["email"], "ada@example.com");
    assert_eq!(patched["name"], Value::Null);
    assert_eq!(patched["admin"], true);
    let (status, body, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/alice",
        t,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_request");
    let (status, body, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/nobody",
        t,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");

    // Disabling revokes the user's refresh tokens.
    let rp = client(&app, &["--redirect-uri", "https://rp.example/cb"]);
    let rp_secret = rp.secret.clone().unwrap();
    let before = seed_refresh(&app, &rp.id, &alice_id, "openid offline_access").await;
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&rp.id, &rp_secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &before)],
    )
    .await;
    assert_eq!(status, 200, "refresh works before: {body}");
    let kept = seed_refresh(&app, &rp.id, &alice_id, "openid offline_access").await;
    let (status, disabled, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/alice",
        t,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(disabled["disabled"], true);
    let db = app.services.db.clone();
    let hash = secret_hash(&kept);
    let record = tokio::task::spawn_blocking(move || db.conn().unwrap().find_refresh(&hash))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(record.revoked, "disabling revoked the refresh token");
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&rp.id, &rp_secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &kept)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // Enabling again does not bring the tokens back.
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/alice",
        t,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&rp.id, &rp_secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &kept)],
    )
    .await;
    assert_eq!(status, 400);

    // A new password.
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/admin/api/users/alice/password",
        t,
        Some(json!({"password": "another horse battery"})),
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    let db = app.services.db.clone();
    let stored = tokio::task::spawn_blocking(move || db.conn().unwrap().find_user_by_name("alice"))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(verify_password(
        "another horse battery",
        &stored.password_hash
    ));
    assert!(!verify_password(password, &stored.password_hash));
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/admin/api/users/alice/password",
        t,
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_request");

    // Delete.
    let (status, _, _) = call(&app, Method::DELETE, "/admin/api/users/bob", t, None).await;
    assert_eq!(status, 204);
    let (status, body, _) = call(&app, Method::GET, "/admin/api/users/bob", t, None).await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");

    let log = audit_log(&app);
    let actor = format!("client:{admin_id}");
    for (action, target) in [
        ("user.create", "alice"),
        ("user.update", "alice"),
        ("user.disable", "alice"),
        ("user.enable", "alice"),
        ("user.password", "alice"),
        ("user.delete", "bob"),
    ] {
        let e = event(&log, action, target);
        assert_eq!(e["actor"], actor.as_str());
        assert_eq!(e["ip"], "127.0.0.1");
    }
    assert_eq!(
        event(&log, "user.update", "alice")["detail"]["changed"],
        json!(["email", "name", "admin"])
    );
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(password) && !text.contains("another horse"));
    assert!(!text.contains("$argon2"));
}
both_backends!(admin_users, users_round_trip);

async fn authorization_and_error_shape(app: TestApp) {
    let (token, _) = admin_token(&app).await;

    // No token: 401, a bare challenge.
    let (status, body, headers) = call(&app, Method::GET, "/admin/api/clients", None, None).await;
    assert_eq!(status, 401);
    assert_error(&body, "invalid_token");
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"gatehouse\"");

    // Not a token of ours.
    let (status, body, headers) = call(
        &app,
        Method::GET,
        "/admin/api/users",
        Some("nonsense"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_error(&body, "invalid_token");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));

    // A valid token without gatehouse:admin: 403.
    let reader = machine(&app, "read", &[]);
    let weak = cc_token(&app, &reader.id, reader.secret.as_deref().unwrap()).await;
    let (status, body, headers) = call(
        &app,
        Method::POST,
        "/admin/api/users",
        Some(&weak),
        Some(json!({"username": "mallory", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_error(&body, "insufficient_scope");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"insufficient_scope\""));

    // A revoked admin token stops working.
    let ops = machine(&app, "gatehouse:admin", &[]);
    let ops_secret = ops.secret.clone().unwrap();
    let revoked = cc_token(&app, &ops.id, &ops_secret).await;
    let (status, _, _) = post_form(
        &app,
        "/revoke",
        Some((&ops.id, &ops_secret)),
        &[("token", &revoked)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body, _) = call(&app, Method::GET, "/admin/api/users", Some(&revoked), None).await;
    assert_eq!(status, 401);
    assert_error(&body, "invalid_token");

    let t = Some(token.as_str());
    // A body that is not JSON, or not an object.
    let res = app
        .http
        .post(app.url("/admin/api/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_error(&res.json().await.unwrap(), "invalid_request");
    let (status, body, _) = call(&app, Method::POST, "/admin/api/users", t, Some(json!([1]))).await;
    assert_eq!(status, 400);
    assert_error(&body, "invalid_request");

    // Bad paging.
    for q in ["limit=0", "limit=1000", "offset=-1", "offset=x"] {
        let (status, body, _) = call(
            &app,
            Method::GET,
            &format!("/admin/api/clients?{q}"),
            t,
            None,
        )
        .await;
        assert_eq!(status, 400, "{q}");
        assert_error(&body, "invalid_request");
    }

    // Unknown routes and methods, in the same shape.
    let (status, body, _) = call(&app, Method::GET, "/admin/api/nothing", t, None).await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    let (status, body, headers) = call(&app, Method::PATCH, "/admin/api/clients/x", t, None).await;
    assert_eq!(status, 405);
    assert_error(&body, "method_not_allowed");
    assert_eq!(headers["allow"], "GET, PUT, DELETE");
}
both_backends!(admin_errors, authorization_and_error_shape);

/// An access token as if issued to user `sub` through `client_id` with `scope`. Consent
/// never grants gatehouse:admin, so a real one cannot be had; the check must hold anyway.
fn user_token(app: &TestApp, sub: &str, client_id: &str, scope: &str) -> String {
    let now = gatehouse::db::unix_now();
    let claims = AccessClaims {
        iss: app.issuer.clone(),
        sub: sub.to_string(),
        aud: gatehouse::oauth::resource::Audience::one(app.issuer.clone()),
        client_id: client_id.to_string(),
        scope: scope.to_string(),
        jti: new_jti(),
        iat: now,
        exp: now + 300,
        auth_time: Some(now - 5),
        sid: Some("test-sid".into()),
        cnf: None,
        act: None,
        may_act: None,
        userinfo_claims: Vec::new(),
    };
    let key = app.services.keys.current().signer(Alg::ES256).unwrap();
    sign_access_token(&key, &claims)
}

async fn user_tokens_need_an_enabled_admin(app: TestApp) {
    let (token, _) = admin_token(&app).await;
    // The client a user's admin token is issued to must hold the scope itself.
    let rp = client(
        &app,
        &[
            "--redirect-uri",
            "https://rp.example/cb",
            "--scope",
            "openid gatehouse:admin",
        ],
    );
    let mut ids = Vec::new();
    for (name, admin) in [("root", true), ("plain", false)] {
        let (status, u, _) = call(
            &app,
            Method::POST,
            "/admin/api/users",
            Some(&token),
            Some(json!({"username": name, "password": "correct horse battery", "admin": admin})),
        )
        .await;
        assert_eq!(status, 201, "{u}");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let root = user_token(&app, &ids[0], &rp.id, "openid gatehouse:admin");
    let plain = user_token(&app, &ids[1], &rp.id, "openid gatehouse:admin");

    let (status, body, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/plain",
        Some(&root),
        Some(json!({"name": "Plain"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let e = event(&audit_log(&app), "user.update", "plain").clone();
    assert_eq!(
        e["actor"], "user:root",
        "the same actor name as the admin pages use"
    );

    let (status, body, _) = call(&app, Method::GET, "/admin/api/users", Some(&plain), None).await;
    assert_eq!(status, 403, "a user who is not an administrator");
    assert_error(&body, "insufficient_scope");

    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/root",
        Some(&token),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body, _) = call(&app, Method::GET, "/admin/api/users", Some(&root), None).await;
    assert_eq!(status, 401, "a disabled administrator");
    assert_error(&body, "invalid_token");
}
both_backends!(admin_user_tokens, user_tokens_need_an_enabled_admin);

/// Every (METHOD, path) the document lists.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

async fn openapi_lists_every_route(app: TestApp) {
    let res = app
        .http
        .get(app.url("/admin/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], app.issuer.as_str());
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));

    // The document and the list the routes are registered from agree exactly.
    let listed = documented(&doc);
    let registered: BTreeSet<(String, String)> = gatehouse::http::admin_api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, registered);

    // And each documented operation is really served: without a token it is refused as
    // unauthenticated, never "no such route" or "method not allowed".
    for (method, path) in &listed {
        let concrete = path
            .replace("{client_id}", "some-client")
            .replace("{username}", "some-user");
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body, _) = call(&app, m, &concrete, None, None).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
    }
    // A path or method the document does not list is not served.
    let (status, _, _) = call(&app, Method::POST, "/admin/api/clients/x", None, None).await;
    assert_eq!(status, 405);
    let (status, _, _) = call(&app, Method::GET, "/admin/api/groups", None, None).await;
    assert_eq!(status, 404);
}
both_backends!(admin_openapi, openapi_lists_every_route);

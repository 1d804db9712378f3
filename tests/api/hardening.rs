//! Security hardening, each finding with the test that failed before its fix.

use reqwest::Method;
use serde_json::{json, Value};

use gatehouse::keys::{Alg, SigningKey};

use crate::admin_api::{admin_token, call};
use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{cc_token, client, machine, post_form, seed_refresh, user};
use crate::helpers::{
    browser, code_request, hidden_field, is_consent_page, login_flow, page_of, spawn_on, Backend,
    TestApp, TestDb,
};

/// F1: concurrent guesses on one account are counted before any is checked, so no more
/// than the free attempts are evaluated, and a right password inside a burst is refused.
async fn a_burst_of_guesses_is_counted_before_it_is_checked(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "lee", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let browsers: Vec<_> = (0..30).map(|_| browser()).collect();
    let mut pages = Vec::new();
    for b in &browsers {
        let page = page_of(b, &req.url).await;
        pages.push(page);
    }
    let login = app.url("/login");
    let attempts = browsers.iter().zip(&pages).map(|(b, page)| {
        let form = vec![
            ("request", hidden_field(page, "request").unwrap()),
            ("csrf_token", hidden_field(page, "csrf_token").unwrap()),
            ("username", "lee".to_string()),
            ("password", "a wrong guess!".to_string()),
        ];
        let b = b.clone();
        let login = login.clone();
        async move {
            b.post(&login)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_join_all(attempts.collect()).await;
    let evaluated = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        evaluated <= 5,
        "{evaluated} of 30 were checked: {statuses:?}"
    );
    // Right after the burst, the right password is not even checked.
    let b = &browsers[0];
    let page = page_of(b, &req.url).await;
    let form = [
        ("request", hidden_field(&page, "request").unwrap()),
        ("csrf_token", hidden_field(&page, "csrf_token").unwrap()),
        ("username", "lee".to_string()),
        ("password", PW.to_string()),
    ];
    let res = b.post(&login).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}
both_backends!(
    throttle_burst,
    a_burst_of_guesses_is_counted_before_it_is_checked
);

/// All futures at once, in order.
async fn futures_join_all<T: Send + 'static>(
    futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// F7: with every hashing permit taken, a login is answered 503 with `Retry-After` at
/// once, before any argon2 work; it works again when a permit frees.
async fn saturated_hashing_answers_503(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "max", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let http = browser();
    let page = page_of(&http, &req.url).await;
    let permits = app.services.hashing.available_permits() as u32;
    let held = app
        .services
        .hashing
        .clone()
        .acquire_many_owned(permits)
        .await
        .unwrap();
    let form = [
        ("request", hidden_field(&page, "request").unwrap()),
        ("csrf_token", hidden_field(&page, "csrf_token").unwrap()),
        ("username", "max".to_string()),
        ("password", PW.to_string()),
    ];
    let res = http
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    drop(held);
    let callback = login_flow(&http, &req.url, "max", PW).await;
    assert!(callback.contains("code="), "{callback}");
}
both_backends!(hashing_bound, saturated_hashing_answers_503);

/// F10: gatehouse's own endpoints take only tokens whose audience is gatehouse.
async fn tokens_for_other_audiences_are_refused_here(app: TestApp) {
    let m = machine(
        &app,
        "gatehouse:admin",
        &["--audience", "https://billing.internal"],
    );
    let token = cc_token(&app, &m.id, m.secret.as_deref().unwrap()).await;
    let (status, body, _) = call(&app, Method::GET, "/admin/api/users", Some(&token), None).await;
    assert_eq!(status, 401, "{body}");
    let res = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let basic = Some((m.id.as_str(), m.secret.as_deref().unwrap()));
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", app.issuer.as_str()),
    ];
    let (_, own, _) = post_form(&app, "/token", basic, &form).await;
    let own = own["access_token"].as_str().unwrap();
    let (status, _, _) = call(&app, Method::GET, "/admin/api/users", Some(own), None).await;
    assert_eq!(status, 200, "a token for gatehouse itself");
}
both_backends!(own_audience, tokens_for_other_audiences_are_refused_here);

/// F12: a client assertion's `aud` is one string: this server's issuer or endpoint.
async fn assertion_audiences_are_single_strings(app: TestApp) {
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks = json!({ "keys": [key.public_jwk()] });
    let file = std::env::temp_dir()
        .join(format!("jwks-{}.json", gatehouse::crypto::random_token(6)))
        .to_string_lossy()
        .into_owned();
    std::fs::write(&file, jwks.to_string()).unwrap();
    let c = client(
        &app,
        &[
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            &file,
        ],
    );
    let assertion = |aud: Value| {
        let now = gatehouse::db::unix_now();
        key.sign_jwt(
            "JWT",
            &json!({"iss": c.id, "sub": c.id, "aud": aud, "iat": now, "exp": now + 60,
                    "jti": gatehouse::crypto::random_token(8)}),
        )
    };
    let ask = |jwt: String| {
        let form = vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", jwt),
        ];
        let http = app.http.clone();
        let url = app.url("/token");
        async move { http.post(url).form(&form).send().await.unwrap().status() }
    };
    let mixed = json!(["https://attacker.example", app.url("/token")]);
    assert_eq!(
        ask(assertion(mixed)).await,
        401,
        "an array naming us among others"
    );
    let alone = json!([app.issuer]);
    assert_eq!(ask(assertion(alone)).await, 401, "even an array of one");
    assert_eq!(ask(assertion(json!(app.issuer))).await, 200, "the issuer");
    assert_eq!(
        ask(assertion(json!(app.url("/token")))).await,
        200,
        "the endpoint"
    );
}
both_backends!(assertion_aud, assertion_audiences_are_single_strings);

/// F13: within the grace window a rotated-out refresh token is answered once; a second
/// replay is reuse, which revokes the family.
async fn the_grace_window_replays_once(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let app = spawn_on(backend, db, |s| s.lifetimes.refresh_grace = 30).await;
    let c = client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let uid = user(&app, "gil", PW);
    let t0 = seed_refresh(&app, &c.id, &uid, "openid offline_access").await;
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let refresh = |t: String| {
        let app = &app;
        async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", t.as_str()),
            ];
            let (status, body, _) = post_form(app, "/token", basic, &form).await;
            (status, body)
        }
    };
    let (s1, first) = refresh(t0.clone()).await;
    assert_eq!(s1, 200, "{first}");
    let (s2, again) = refresh(t0.clone()).await;
    assert_eq!((s2, &again), (200, &first), "one retry gets the same pair");
    let (s3, _) = refresh(t0.clone()).await;
    assert_eq!(s3, 400, "a second retry is reuse");
    let t1 = first["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh(t1).await.0, 400, "and the family is revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_once_sqlite() {
    the_grace_window_replays_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_once_postgres() {
    the_grace_window_replays_once(Backend::Postgres).await;
}

/// I1 and I4: client keys must be public, and `localhost` is no loopback redirect URI.
async fn registration_refuses_private_keys_and_localhost(app: TestApp) {
    let (token, _) = admin_token(&app).await;
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let mut jwk = key.public_jwk();
    jwk["d"] = json!("cHJpdmF0ZQ");
    for (metadata, code) in [
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks": {"keys": [jwk]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["http://localhost:8000/cb"]}),
            "invalid_redirect_uri",
        ),
    ] {
        let (status, body, _) = call(
            &app,
            Method::POST,
            "/register",
            Some(&token),
            Some(metadata),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{body}"
        );
        assert!(!body.to_string().contains("cHJpdmF0ZQ"), "never echoed");
    }
}
both_backends!(
    registration_refusals,
    registration_refuses_private_keys_and_localhost
);

/// I5: `prompt=consent` shows the consent page even for a first-party client.
async fn prompt_consent_asks_even_first_party(app: TestApp) {
    let c = web_client(&app, &["--skip-consent"]);
    user(&app, "ora", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    assert!(login_flow(&app.http, &req.url, "ora", PW)
        .await
        .contains("code="));
    let req = code_request(&app, &c.id, RP, "openid", &[("prompt", "consent")]);
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(is_consent_page(&res.text().await.unwrap()));
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 303, "without prompt=consent, no consent page");
}
both_backends!(prompt_consent, prompt_consent_asks_even_first_party);

/// I2: a new SQLite database and its WAL files are readable by their owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let path = db.url.trim_start_matches("sqlite://").to_string();
    let app = spawn_on(Backend::Sqlite, db, |_| {}).await;
    user(&app, "pia", PW);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}: {mode:o}");
    }
}

/// I8: with an https issuer, every response asks browsers to stay on https.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_issuers_send_hsts() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = spawn_on(Backend::Sqlite, db, |s| {
        s.issuer = s.issuer.replace("http://", "https://")
    })
    .await;
    let plain = app.issuer.replace("https://", "http://");
    let res = app
        .http
        .get(format!("{plain}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let app = spawn_on(Backend::Sqlite, db, |_| {}).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
}

/// F2: a client that manages itself (RFC 7592) cannot go beyond what the registering
/// administrator approved.
async fn self_updates_stay_within_the_approved_metadata(app: TestApp) {
    let (admin, _) = admin_token(&app).await;
    let approved = json!({
        "client_name": "Ledger",
        "redirect_uris": ["https://ledger.example/cb"],
        "scope": "openid read",
    });
    let (status, reg, _) = call(
        &app,
        Method::POST,
        "/register",
        Some(&admin),
        Some(approved.clone()),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let path = format!("/register/{}", reg["client_id"].as_str().unwrap());
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let with = |k: &str, v: Value| {
        let mut m = approved.clone();
        m["client_id"] = reg["client_id"].clone();
        m[k] = v;
        m
    };
    for (body, code, field) in [
        (
            with("scope", json!("openid read invoices:write")),
            "invalid_client_metadata",
            "scope",
        ),
        (
            with(
                "grant_types",
                json!(["authorization_code", "client_credentials"]),
            ),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            with("token_endpoint_auth_method", json!("none")),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            with("redirect_uris", json!(["https://evil.example/cb"])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
    ] {
        let (status, res, _) = call(&app, Method::PUT, &path, Some(&rat), Some(body)).await;
        assert_eq!((status, res["error"].as_str()), (400, Some(code)), "{res}");
        let d = res["error_description"].as_str().unwrap();
        assert!(d.contains(field), "{d}");
    }
    let narrower = with("scope", json!("openid"));
    let (status, res, _) = call(&app, Method::PUT, &path, Some(&rat), Some(narrower)).await;
    assert_eq!(status, 200, "narrowing is allowed: {res}");
    assert_eq!(res["scope"], "openid");
}
both_backends!(
    self_update_ceiling,
    self_updates_stay_within_the_approved_metadata
);

/// F9: an admin token counts only while its client exists with the admin scope and the
/// same secret; after a deletion, a secret rotation or a removed scope, older tokens fail.
async fn admin_tokens_end_with_their_clients_rights(app: TestApp) {
    let (root, _) = admin_token(&app).await;
    let list = |t: String| {
        let app = &app;
        async move {
            call(app, Method::GET, "/admin/api/users", Some(&t), None)
                .await
                .0
        }
    };
    // Rotation.
    let a = machine(&app, "gatehouse:admin", &[]);
    let t = cc_token(&app, &a.id, a.secret.as_deref().unwrap()).await;
    assert_eq!(list(t.clone()).await, 200);
    // Token times are whole seconds: rotate in a later second than the token's.
    let iat = crate::fixtures::jwt_parts(&t).1["iat"].as_i64().unwrap();
    while gatehouse::db::unix_now() <= iat {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let path = format!("/admin/api/clients/{}/rotate-secret", a.id);
    assert_eq!(
        call(&app, Method::POST, &path, Some(&root), None).await.0,
        200
    );
    assert_eq!(list(t).await, 401, "after a secret rotation");
    // The admin scope removed.
    let b = machine(&app, "gatehouse:admin read", &[]);
    let t = cc_token(&app, &b.id, b.secret.as_deref().unwrap()).await;
    let path = format!("/admin/api/clients/{}", b.id);
    let body = json!({"client_name": "b", "grant_types": ["client_credentials"], "scope": "read"});
    assert_eq!(
        call(&app, Method::PUT, &path, Some(&root), Some(body))
            .await
            .0,
        200
    );
    assert_eq!(list(t).await, 401, "after the scope is removed");
    // Deletion.
    let c = machine(&app, "gatehouse:admin", &[]);
    let t = cc_token(&app, &c.id, c.secret.as_deref().unwrap()).await;
    let path = format!("/admin/api/clients/{}", c.id);
    assert_eq!(
        call(&app, Method::DELETE, &path, Some(&root), None).await.0,
        204
    );
    assert_eq!(list(t).await, 401, "after the client is deleted");
    assert_eq!(list(root).await, 200, "other tokens are untouched");
}
both_backends!(
    admin_token_rights,
    admin_tokens_end_with_their_clients_rights
);

/// R1 and R2: a revocation racing a refresh of the same family never leaves a live token,
/// and neither request gets a 500.
async fn a_revocation_racing_a_refresh_leaves_nothing_alive(app: TestApp) {
    let c = client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let uid = user(&app, "ren", PW);
    let (id, secret) = (c.id.clone(), c.secret.clone().unwrap());
    for trial in 0..25 {
        let token = seed_refresh(&app, &id, &uid, "openid offline_access").await;
        let send = |path: &'static str, form: Vec<(&'static str, String)>| {
            let http = app.http.clone();
            let url = app.url(path);
            let (id, secret) = (id.clone(), secret.clone());
            tokio::spawn(async move {
                let res = http
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&form)
                    .send();
                let res = res.await.unwrap();
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            })
        };
        let refresh = send(
            "/token",
            vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", token.clone()),
            ],
        );
        let revoke = send("/revoke", vec![("token", token.clone())]);
        let (refreshed, revoked) = (refresh.await.unwrap(), revoke.await.unwrap());
        assert_eq!(revoked.0, 200, "trial {trial}: {revoked:?}");
        assert!(
            refreshed.0 == 200 || refreshed.0 == 400,
            "trial {trial}: {refreshed:?}"
        );
        if refreshed.0 != 200 {
            continue;
        }
        let pair: Value = serde_json::from_str(&refreshed.1).unwrap();
        let basic = Some((id.as_str(), secret.as_str()));
        for key in ["refresh_token", "access_token"] {
            let t = pair[key].as_str().unwrap();
            let (_, seen, _) = post_form(&app, "/introspect", basic, &[("token", t)]).await;
            assert_eq!(seen["active"], false, "trial {trial}: the new {key} lives");
        }
    }
}
both_backends!(
    revoke_refresh_race,
    a_revocation_racing_a_refresh_leaves_nothing_alive
);

/// I3: a token request must repeat the redirect URI its authorization request named,
/// even for a client with a single registered URI.
async fn the_redirect_uri_must_be_repeated(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "una", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let callback = login_flow(&app.http, &req.url, "una", PW).await;
    let code = crate::helpers::query_param(&callback, "code").unwrap();
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", req.pkce.verifier.as_str()),
    ];
    let (status, body, _) = post_form(&app, "/token", basic, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}
both_backends!(redirect_repeated, the_redirect_uri_must_be_repeated);

/// R2: many revocations racing many refreshes of one token: no request gets a 500.
async fn racing_revocations_and_refreshes_get_no_500(app: TestApp) {
    let c = client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let uid = user(&app, "val", PW);
    let token = seed_refresh(&app, &c.id, &uid, "openid offline_access").await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let http = app.http.clone();
        let (id, secret) = (c.id.clone(), c.secret.clone().unwrap());
        let (path, mut form) = if i % 2 == 0 {
            ("/revoke", vec![("token", token.clone())])
        } else {
            ("/token", vec![("grant_type", "refresh_token".to_string())])
        };
        if path == "/token" {
            form.push(("refresh_token", token.clone()));
        }
        let url = app.url(path);
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&form)
                .send();
            res.await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!([200, 400, 503].contains(&status), "{status}");
    }
}
both_backends!(
    revoke_refresh_storm,
    racing_revocations_and_refreshes_get_no_500
);

/// F11: a refresh does not grant again a scope the client has lost since.
async fn refresh_drops_scopes_the_client_lost(app: TestApp) {
    let (root, _) = admin_token(&app).await;
    let c = client(
        &app,
        &[
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid offline_access reports",
        ],
    );
    let uid = user(&app, "wes", PW);
    let token = seed_refresh(&app, &c.id, &uid, "openid offline_access reports").await;
    let body = json!({
        "client_name": "narrowed",
        "redirect_uris": ["https://app.example/cb"],
        "scope": "openid offline_access",
    });
    let path = format!("/admin/api/clients/{}", c.id);
    assert_eq!(
        call(&app, Method::PUT, &path, Some(&root), Some(body))
            .await
            .0,
        200
    );
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token.as_str()),
    ];
    let (status, res, _) = post_form(&app, "/token", basic, &form).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["scope"], "offline_access openid");
}
both_backends!(refresh_lost_scope, refresh_drops_scopes_the_client_lost);

//! Refresh tokens: rotation, reuse detection, grace window, scope rules, concurrency.

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, Scope, TokenResponse, TokenUrl};

use crate::both_backends;
use crate::fixtures::{client, post_form, seed_refresh, user, verify_with_jwks, Registered};
use crate::helpers::{spawn_on, Backend, TestApp, TestDb};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn oauth_client(
    app: &TestApp,
    c: &Registered,
) -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_auth_type(AuthType::BasicAuth)
}

const SCOPES: &str = "email offline_access openid profile";

async fn setup(app: &TestApp) -> (Registered, String, String) {
    let c = client(app, &["--redirect-uri", "https://app.example/cb"]);
    let uid = user(app, "rita", "rita's password");
    let token = seed_refresh(app, &c.id, &uid, SCOPES).await;
    (c, uid, token)
}

async fn refresh(app: &TestApp, c: &Registered, token: &str) -> (u16, serde_json::Value) {
    let (status, body, _) = post_form(
        app,
        "/token",
        Some((&c.id, c.secret.as_deref().unwrap())),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await;
    (status, body)
}

async fn rotation_and_reuse_detection(app: TestApp) {
    let (c, uid, t0) = setup(&app).await;
    let oc = oauth_client(&app, &c);
    let r1 = oc
        .exchange_refresh_token(&RefreshToken::new(t0.clone()))
        .request_async(&http())
        .await
        .expect("refresh");
    let t1 = r1.refresh_token().expect("rotated").secret().clone();
    assert_ne!(t1, t0);
    let claims = verify_with_jwks(&app, r1.access_token().secret()).await;
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["sid"], "test-sid");

    // Narrower scope is fine; the new refresh token keeps the original grant.
    let r2 = oc
        .exchange_refresh_token(&RefreshToken::new(t1.clone()))
        .add_scope(Scope::new("openid".into()))
        .request_async(&http())
        .await
        .expect("narrower scope");
    assert_eq!(
        r2.scopes()
            .unwrap()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["openid"]
    );
    let t2 = r2.refresh_token().unwrap().secret().clone();
    let (status, body) = {
        let (s, b, _) = post_form(
            &app,
            "/token",
            Some((&c.id, c.secret.as_deref().unwrap())),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &t2),
                ("scope", "openid admin"),
            ],
        )
        .await;
        (s, b)
    };
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "wider scope"
    );
    let access_from_t2 = r2.access_token().secret().clone();

    // Reusing a rotated-out token revokes the whole family.
    let (status, body) = refresh(&app, &c, &t1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &c, &t2).await;
    assert_eq!(status, 400, "the newest token of the family is revoked too");
    let (status, body, _) = post_form(
        &app,
        "/introspect",
        Some((&c.id, c.secret.as_deref().unwrap())),
        &[("token", &access_from_t2)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"active": false}),
        "access tokens of the family are revoked"
    );

    // Another client cannot use someone's refresh token.
    let other = client(&app, &["--redirect-uri", "https://other.example/cb"]);
    let t = seed_refresh(&app, &c.id, &uid, SCOPES).await;
    let (status, body) = refresh(&app, &other, &t).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // And the failed attempt did not burn it.
    let (status, _) = refresh(&app, &c, &t).await;
    assert_eq!(status, 200);

    // A disabled user's refresh tokens stop working.
    let t = seed_refresh(&app, &c.id, &uid, SCOPES).await;
    assert_eq!(app.cli(&["users", "disable", "rita"], None).code, 0);
    let (status, body) = refresh(&app, &c, &t).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = refresh(&app, &c, "not-a-token").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
both_backends!(refresh_rotation, rotation_and_reuse_detection);

async fn fifty_parallel_uses_one_winner(app: TestApp) {
    let (c, _, t0) = setup(&app).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, c, t0) = (
            app.clone(),
            Registered {
                id: c.id.clone(),
                secret: c.secret.clone(),
            },
            t0.clone(),
        );
        tasks.push(tokio::spawn(async move { refresh(&app, &c, &t0).await.0 }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 400, "status {status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1, "exactly one of 50 concurrent uses wins");
}
both_backends!(refresh_concurrency, fifty_parallel_uses_one_winner);

async fn grace_window(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let app = spawn_on(backend, db, |s| s.lifetimes.refresh_grace = 30).await;
    let (c, _, t0) = setup(&app).await;
    let (s1, first) = refresh(&app, &c, &t0).await;
    assert_eq!(s1, 200);
    let (s2, retry) = refresh(&app, &c, &t0).await;
    assert_eq!(
        s2, 200,
        "a retry inside the grace window is accepted: {retry}"
    );
    assert_eq!(first, retry, "and gets the same pair, not a new one");
    let t1 = first["refresh_token"].as_str().unwrap();
    let (s3, next) = refresh(&app, &c, t1).await;
    assert_eq!(s3, 200);
    assert_ne!(next["refresh_token"], first["refresh_token"]);
    // Only the immediately previous token: the first one is now two rotations behind.
    let (s4, _) = refresh(&app, &c, &t0).await;
    assert_eq!(s4, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_grace_sqlite() {
    grace_window(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_grace_postgres() {
    grace_window(Backend::Postgres).await;
}

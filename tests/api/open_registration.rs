//! GATEHOUSE_REGISTRATION=open: anonymous RFC 7591 registration, as MCP clients send it,
//! within the operator's limits; and the default, where it takes an admin token.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin_api::call;
use crate::helpers::{consent_page_after_login, spawn_on, Backend, TestApp, TestDb};

pub async fn open_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(
        spawn_on(backend, db, |s| {
            s.outbound.registration.open = true;
            s.outbound.registration.rate = 3;
            s.outbound.registration.scopes =
                gatehouse::domain::Scopes::parse("openid profile offline_access").unwrap();
        })
        .await,
    )
}

async fn register(app: &TestApp, metadata: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    call(app, Method::POST, "/register", None, Some(metadata)).await
}

fn agent() -> Value {
    json!({
        "client_name": "Agent",
        "redirect_uris": ["http://127.0.0.1:7777/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid email mcp:tools gatehouse:admin",
    })
}

async fn closed_by_default(app: TestApp) {
    let (status, _, headers) = register(&app, agent()).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
}
crate::both_backends!(registration_needs_admin_by_default, closed_by_default);

async fn anyone_within_limits(app: TestApp) {
    // gatehouse:admin is refused outright, as for every dynamic registration.
    let (status, body, _) = register(&app, agent()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");

    let mut m = agent();
    m["scope"] = json!("openid email mcp:tools");
    let (status, body, _) = register(&app, m).await;
    assert_eq!(status, 201, "{body}");
    // Capped to the configured scopes; a resource's scopes come with the resource.
    assert_eq!(body["scope"], "openid");
    assert!(body["registration_access_token"].is_string());
    let id = body["client_id"].as_str().unwrap().to_string();

    // A grant without a person is not open.
    let (status, body, _) = register(
        &app,
        json!({"client_name": "Bot", "grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("client_credentials"));

    // Keys by URL are accepted.
    let (status, body, _) = register(
        &app,
        json!({"client_name": "Signer", "redirect_uris": ["https://signer.example/cb"],
               "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": "https://signer.example/jwks.json"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["jwks_uri"], "https://signer.example/jwks.json");

    // The fourth registration from this address this hour is refused.
    let mut m = agent();
    m["scope"] = json!("openid");
    let (status, body, headers) = register(&app, m).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(headers.contains_key("retry-after"));

    // The consent page says the app registered itself.
    crate::fixtures::user(&app, "ada", "correct horse battery staple");
    let consent = consent_page_after_login(
        &app,
        &id,
        "http://127.0.0.1:7777/callback",
        "ada",
        "correct horse battery staple",
    )
    .await;
    assert!(consent.contains("registered itself"), "{consent}");

    // Unused for longer than the configured time, it is deleted by the clean-up.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let out = app.cli(
        &["--registration-unused-ttl", "1s", "cleanup", "--json"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["unused_self_registered_clients"], 2, "{report}");
    let id2 = id.clone();
    let gone = app.services.db.run(move |c| c.find_client(&id2));
    assert!(gone.await.unwrap().is_none());
}

crate::both_backends_on!(
    open_policy,
    anyone_within_limits,
    crate::open_registration::open_app
);

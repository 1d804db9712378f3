//! What gatehouse fetches from elsewhere: client ID metadata documents (as the client of
//! an authorization request) and client keys at a `jwks_uri`, through the safe fetcher.
//! Each SSRF rule has its test: private addresses after resolving, redirects, size, time.

use std::time::Duration;

use serde_json::json;

use gatehouse::keys::{Alg, SigningKey};

use crate::fixtures::{machine, post_form, user};
use crate::helpers::{
    code_request, consent_page_after_login, exchange, get_json, login_flow, query_param, spawn_on,
    Backend, TestApp, TestDb,
};
use crate::mock::{Answer, Mock};
use crate::registration::assertion;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";

/// A server whose fetcher may reach loopback (where the test's servers are) and waits
/// at most a second.
pub async fn fetching_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(
        spawn_on(backend, db, |s| {
            s.outbound.fetch.allow_loopback = true;
            s.outbound.fetch.timeout = Duration::from_secs(1);
        })
        .await,
    )
}

fn document(url: &str) -> serde_json::Value {
    json!({
        "client_id": url,
        "client_name": "Pocket Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    })
}

/// The page an authorization request with `client_id` gets: status and body.
async fn authorize_page(app: &TestApp, client_id: &str) -> (u16, String) {
    let req = code_request(app, client_id, REDIRECT, "openid", &[]);
    let res = crate::helpers::browser()
        .get(&req.url)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[track_caller]
fn refused(page: &(u16, String), why: &str) {
    assert_eq!(page.0, 400, "{}", page.1);
    assert!(page.1.contains(why), "expected '{why}' in: {}", page.1);
}

async fn documents_sign_in_and_are_cached(app: TestApp) {
    let mock = Mock::start().await;
    let url = mock.url("/agent.json");
    mock.set(
        "/agent.json",
        Answer::json(&document(&url)).header("cache-control", "max-age=600"),
    );
    user(&app, "ada", "correct horse battery staple");

    let meta = get_json(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let methods = meta["token_endpoint_auth_methods_supported"].to_string();
    assert!(methods.contains("\"none\""), "{methods}");

    // The consent page says the app was not registered and where the browser goes next.
    const PW: &str = "correct horse battery staple";
    let consent = consent_page_after_login(&app, &url, REDIRECT, "ada", PW).await;
    assert!(consent.contains("Pocket Agent"));
    assert!(
        consent.contains("not registered by the operator"),
        "{consent}"
    );
    assert!(consent.contains("127.0.0.1:7777"), "{consent}");
    let req = code_request(&app, &url, REDIRECT, "openid", &[]);
    let done = login_flow(&crate::helpers::browser(), &req.url, "ada", PW).await;
    let code = query_param(&done, "code").unwrap_or_else(|| panic!("no code: {done}"));
    let (status, tokens) =
        exchange(&app, &url, None, &code, REDIRECT, Some(&req.pkce.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = crate::fixtures::jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], url);

    // Fetched once: the document is cached as its Cache-Control allows.
    assert_eq!(mock.hits("/agent.json"), 1);

    // A document that does not name itself, or is for a confidential client, is refused.
    let other = mock.url("/other.json");
    mock.set("/other.json", Answer::json(&document(&url)));
    refused(&authorize_page(&app, &other).await, "not its own URL");
    let secret = mock.url("/secret.json");
    let mut doc = document(&secret);
    doc["token_endpoint_auth_method"] = json!("client_secret_basic");
    mock.set("/secret.json", Answer::json(&doc));
    refused(&authorize_page(&app, &secret).await, "shared secret");
    // A redirect URI the document does not list is never redirected to.
    let req = code_request(&app, &url, "http://127.0.0.1:7777/elsewhere", "openid", &[]);
    let res = crate::helpers::browser()
        .get(&req.url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    mock.stop().await;
}

async fn ssrf_rules(app: TestApp) {
    let mock = Mock::start().await;
    // Redirects are not followed: the target is never asked.
    mock.set("/moved.json", Answer::redirect(&mock.url("/target.json")));
    mock.set(
        "/target.json",
        Answer::json(&document(&mock.url("/target.json"))),
    );
    refused(
        &authorize_page(&app, &mock.url("/moved.json")).await,
        "redirects are not followed",
    );
    assert_eq!(mock.hits("/target.json"), 0);
    // Oversized documents are refused (the limit is 5 KB).
    let big = mock.url("/big.json");
    let mut doc = document(&big);
    doc["client_uri"] = json!(format!("https://x.example/{}", "a".repeat(6000)));
    mock.set("/big.json", Answer::json(&doc));
    refused(&authorize_page(&app, &big).await, "larger than");
    // A slow server is given up on after the fetch timeout.
    let slow = mock.url("/slow.json");
    mock.set(
        "/slow.json",
        Answer::json(&document(&slow)).slow(Duration::from_secs(4)),
    );
    let started = std::time::Instant::now();
    refused(&authorize_page(&app, &slow).await, "did not answer in time");
    assert!(started.elapsed() < Duration::from_secs(4));
    mock.stop().await;
}

/// With the default policy, loopback and private addresses are refused, also when a name
/// only resolves to one.
async fn private_addresses_are_refused(app: TestApp) {
    refused(
        &authorize_page(&app, "https://localhost/agent.json").await,
        "private or special-use",
    );
    refused(
        &authorize_page(&app, "https://10.1.2.3/agent.json").await,
        "private or special-use",
    );
    refused(
        &authorize_page(&app, "https://[::1]/agent.json").await,
        "private or special-use",
    );
    refused(
        &authorize_page(&app, "http://127.0.0.1:9/agent.json").await,
        "must use https",
    );
    refused(
        &authorize_page(&app, "https://127.0.0.1:9/").await,
        "must have a path",
    );
}

async fn token_with(app: &TestApp, client_id: &str, key: &SigningKey) -> u16 {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        (
            "client_assertion",
            &assertion(key, client_id, &app.url("/token")),
        ),
    ];
    post_form(app, "/token", None, &form).await.0
}

/// Keys at a jwks_uri are fetched, cached, and fetched again (at most every ten seconds)
/// when an assertion names a key the cached set does not have.
async fn client_keys_by_url(app: TestApp) {
    let mock = Mock::start().await;
    let (old, _) = SigningKey::generate(Alg::ES256).unwrap();
    let (new, _) = SigningKey::generate(Alg::ES256).unwrap();
    mock.set(
        "/jwks.json",
        Answer::json(&json!({"keys": [old.public_jwk()]})),
    );
    let c = machine(
        &app,
        "read",
        &[
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &mock.url("/jwks.json"),
        ],
    );
    assert_eq!(token_with(&app, &c.id, &old).await, 200);
    assert_eq!(token_with(&app, &c.id, &old).await, 200);
    assert_eq!(mock.hits("/jwks.json"), 1, "the key set is cached");
    // The client rotates its keys: an unknown kid refetches, but not more than the floor.
    mock.set(
        "/jwks.json",
        Answer::json(&json!({"keys": [new.public_jwk()]})),
    );
    assert_eq!(token_with(&app, &c.id, &new).await, 401);
    assert_eq!(mock.hits("/jwks.json"), 1, "refetching is rate-limited");
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    assert_eq!(token_with(&app, &c.id, &new).await, 200);
    assert_eq!(mock.hits("/jwks.json"), 2);
    mock.stop().await;
}

crate::both_backends_on!(
    metadata_documents,
    documents_sign_in_and_are_cached,
    crate::fetching::fetching_app
);
crate::both_backends_on!(fetcher_limits, ssrf_rules, crate::fetching::fetching_app);
crate::both_backends_on!(jwks_uri, client_keys_by_url, crate::fetching::fetching_app);
crate::both_backends!(default_policy, private_addresses_are_refused);

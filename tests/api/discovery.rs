use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::TestApp;

async fn discovery_is_accepted_by_openidconnect(app: TestApp) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("openidconnect accepts the discovery document and JWKS");
    assert_eq!(meta.issuer().as_str(), app.issuer);
    assert_eq!(meta.jwks_uri().as_str(), app.url("/jwks.json"));
    let keys = meta.jwks().keys();
    assert_eq!(keys.len(), 3, "one RS256, one ES256 and one EdDSA key");

    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert!(doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&"RS256".into()));

    let oauth: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oauth["issuer"], doc["issuer"]);
}
both_backends!(
    openidconnect_discovery,
    discovery_is_accepted_by_openidconnect
);

async fn jwks_keys_carry_kid_use_alg_and_cache_control(app: TestApp) {
    let res = app.http.get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cc.contains("max-age="), "{cc}");
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(k.get("d").is_none(), "no private parts");
    }
}
both_backends!(jwks_document, jwks_keys_carry_kid_use_alg_and_cache_control);

async fn issuer_comes_from_settings_not_host_header(app: TestApp) {
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert!(doc["token_endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&app.issuer));
}
both_backends!(
    issuer_from_settings,
    issuer_comes_from_settings_not_host_header
);

async fn health_and_readiness(app: TestApp) {
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    if app.backend == crate::helpers::Backend::Postgres {
        // Take the database away: readiness must turn to 503.
        let url = app.db.url.clone();
        let name = url.rsplit('/').next().unwrap().to_string();
        let base = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap();
        tokio::task::spawn_blocking(move || {
            use diesel::{Connection, RunQueryDsl};
            let mut c = diesel::PgConnection::establish(&base).unwrap();
            diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut c)
                .unwrap();
        })
        .await
        .unwrap();
        let res = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 503);
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
}
both_backends!(health, health_and_readiness);

async fn unknown_paths_and_wrong_methods(app: TestApp) {
    let res = app.http.get(app.url("/token")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let res = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(res.text().await.unwrap().contains("Not found"));
}
both_backends!(fallbacks, unknown_paths_and_wrong_methods);

/// WebFinger (OpenID Discovery §2) names this issuer for identifiers on its host.
async fn webfinger_names_the_issuer(app: TestApp) {
    let host = app.issuer.trim_start_matches("http://").to_string();
    let rel = "http://openid.net/specs/connect/1.0/issuer";
    let mut url = url::Url::parse(&app.url("/.well-known/webfinger")).unwrap();
    url.query_pairs_mut()
        .append_pair("resource", &format!("acct:ria@{host}"))
        .append_pair("rel", rel);
    let res = app.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jrd+json");
    let jrd: serde_json::Value = res.json().await.unwrap();
    assert_eq!(jrd["links"][0]["rel"], rel);
    assert_eq!(jrd["links"][0]["href"], app.issuer.as_str());
    let elsewhere = app.url("/.well-known/webfinger?resource=acct:ria@elsewhere.example");
    assert_eq!(app.http.get(elsewhere).send().await.unwrap().status(), 404);
    let missing = app.url("/.well-known/webfinger");
    assert_eq!(app.http.get(missing).send().await.unwrap().status(), 400);
}
crate::both_backends!(webfinger, webfinger_names_the_issuer);

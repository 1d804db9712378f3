//! Gatehouse as the authorization server of an MCP server, driven by the official MCP
//! TypeScript SDK (`tests/mcp/client.mjs`) against a small MCP resource server that
//! checks every token's signature, issuer, audience and expiry
//! (`tests/mcp/resource_server.mjs`). The client registers in each of the three ways MCP
//! clients do: a client ID metadata document (served over https on 127.0.0.1 by
//! `tests/mcp/document_server.mjs`), open registration, and a pre-registered client.

use std::path::PathBuf;

use serde_json::Value;

use crate::node::Script;

use crate::fixtures::{cc_token, client, machine, user};
use crate::helpers::{code_request, location, login_flow, spawn_on, Backend, TestApp, TestDb};

const REDIRECT: &str = "http://127.0.0.1:7777/callback";
const PASSWORD: &str = "correct horse battery staple";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp")
}

pub async fn mcp_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(
        spawn_on(backend, db, |s| {
            s.outbound.fetch.allow_loopback = true;
            s.outbound.fetch.ca_file = Some(dir().join("tls/ca.pem"));
            s.outbound.registration.open = true;
        })
        .await,
    )
}

/// One MCP client run: sign in through gatehouse's pages, call the tool, refresh, call
/// again. Returns the client id and the two tool results.
async fn run_client(app: &TestApp, mcp_url: &str, env: &[(&str, &str)]) -> (String, Value, Value) {
    let mut all = vec![("MCP_URL", mcp_url), ("REDIRECT_URI", REDIRECT)];
    all.extend_from_slice(env);
    let mut c = Script::start(&dir(), "client.mjs", &all);
    let client_id = c.expect("CLIENT_ID").await;
    let authorize = c.expect("AUTHORIZE").await;
    let url = url::Url::parse(&authorize).unwrap();
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("resource").as_deref(), Some(mcp_url), "{authorize}");
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(authorize.starts_with(&app.url("/authorize")), "{authorize}");
    let callback = login_flow(&crate::helpers::browser(), &authorize, "ada", PASSWORD).await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    c.send(&format!("CALLBACK {callback}")).await;
    let first: Value = serde_json::from_str(&c.expect("RESULT").await).unwrap();
    let refreshed: Value = serde_json::from_str(&c.expect("REFRESHED").await).unwrap();
    assert_eq!(refreshed["rotated"], true, "the refresh token rotates");
    assert_eq!(refreshed["access_changed"], true);
    let second: Value = serde_json::from_str(&c.expect("RESULT2").await).unwrap();
    c.expect("DONE").await;
    (client_id, first, second)
}

async fn the_sdk_signs_in_three_ways(app: TestApp) {
    let rs_env = [("ISSUER", app.issuer.as_str())];
    let mut rs = Script::start(&dir(), "resource_server.mjs", &rs_env);
    let mcp_url = rs.expect("LISTENING").await;
    let ada = user(&app, "ada", PASSWORD);

    // The operator registers the resource; name and scopes come from its RFC 9728 metadata.
    let out = app.cli(
        &[
            "--issuer",
            &app.issuer,
            "--fetch-allow-loopback",
            "true",
            "resources",
            "add",
            &mcp_url,
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let registered: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(registered["name"], "Test MCP server");
    assert_eq!(registered["scopes"], serde_json::json!(["mcp:tools"]));
    // A resource whose metadata does not name this issuer is refused.
    let out = app.cli(
        &[
            "--fetch-allow-loopback",
            "true",
            "resources",
            "add",
            &mcp_url,
        ],
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("authorization_servers"),
        "{}",
        out.stderr
    );

    let mut docs = Script::start(
        &dir(),
        "document_server.mjs",
        &[
            ("TLS_CERT", "tls/server.pem"),
            ("TLS_KEY", "tls/server.key"),
            ("REDIRECT_URI", REDIRECT),
        ],
    );
    let document_url = docs.expect("LISTENING").await;
    let pre = client(
        &app,
        &[
            "--name",
            "Pre-registered agent",
            "--public",
            "--redirect-uri",
            REDIRECT,
        ],
    );

    let check = |client_id: &str, r: &Value| {
        assert_eq!(r["aud"], Value::String(mcp_url.clone()), "{r}");
        assert_eq!(r["sub"], Value::String(ada.clone()), "{r}");
        assert_eq!(r["client_id"], Value::String(client_id.to_string()), "{r}");
        assert!(
            r["scope"].as_str().is_some_and(|s| s.contains("mcp:tools")),
            "{r}"
        );
    };
    for env in [
        vec![
            ("MODE", "cimd"),
            ("CLIENT_METADATA_URL", document_url.as_str()),
        ],
        vec![("MODE", "dynamic")],
        vec![("MODE", "preregistered"), ("CLIENT_ID", pre.id.as_str())],
    ] {
        let (id, first, second) = run_client(&app, &mcp_url, &env).await;
        check(&id, &first);
        check(&id, &second);
        if env[0].1 == "cimd" {
            assert_eq!(id, document_url);
        }
    }

    // The resource server refuses a token minted for gatehouse itself.
    let m = machine(&app, "read", &[]);
    let token = cc_token(&app, &m.id, m.secret.as_deref().unwrap()).await;
    let res = reqwest::Client::new()
        .post(&mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let stats_url = mcp_url.replace("/mcp", "/stats");
    let stats: Value = reqwest::get(&stats_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["accepted"].as_u64().is_some_and(|n| n >= 6),
        "{stats}"
    );
    assert!(stats["rejections"].to_string().contains("aud"), "{stats}");

    // A resource nobody registered is an invalid_target, sent back to the client.
    let req = code_request(
        &app,
        &pre.id,
        REDIRECT,
        "openid",
        &[("resource", "http://127.0.0.1:1/unknown")],
    );
    let res = crate::helpers::browser()
        .get(&req.url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res).unwrap();
    assert_eq!(
        crate::helpers::query_param(&to, "error").as_deref(),
        Some("invalid_target"),
        "{to}"
    );
    drop((rs, docs));
}

crate::both_backends_on!(sdk, the_sdk_signs_in_three_ways, crate::mcp::mcp_app);

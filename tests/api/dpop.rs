//! DPoP (RFC 9449) at the protocol level: proofs at the token endpoint with the server's
//! nonce, replay and mismatch refusals, bound tokens at userinfo and introspection, and
//! clients that must use DPoP.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use gatehouse::crypto::{b64url, random_token, sha256};
use gatehouse::keys::{Alg, SigningKey};

use crate::authorize::{get_code, web_client, PW};
use crate::both_backends;
use crate::fixtures::{jwt_parts, machine, user};
use crate::helpers::TestApp;

/// A proof of `key` for `htm` `htu`, with a nonce and an access token hash when given.
pub fn proof(
    key: &SigningKey,
    htm: &str,
    htu: &str,
    nonce: Option<&str>,
    token: Option<&str>,
) -> String {
    let mut jwk = key.public_jwk();
    jwk.as_object_mut()
        .unwrap()
        .retain(|k, _| !matches!(k.as_str(), "kid" | "use" | "alg"));
    let header = json!({"typ": "dpop+jwt", "alg": key.alg.as_str(), "jwk": jwk});
    let mut claims =
        json!({"jti": random_token(12), "htm": htm, "htu": htu, "iat": gatehouse::db::unix_now()});
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(t) = token {
        claims["ath"] = json!(b64url(&sha256(t.as_bytes())));
    }
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64url(&key.sign(input.as_bytes())))
}

async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    dpop: Option<&str>,
) -> (u16, Value, HeaderMap) {
    let mut req = app.http.post(app.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, res.json().await.unwrap(), headers)
}

/// The server's current nonce, learnt the way a client learns it: from a refusal.
async fn learn_nonce(app: &TestApp, id: &str, secret: &str, key: &SigningKey) -> String {
    let p = proof(key, "POST", &app.url("/token"), None, None);
    let (status, body, headers) = token_request(
        app,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
        Some(&p),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "use_dpop_nonce");
    headers["dpop-nonce"].to_str().unwrap().to_string()
}

async fn token_endpoint_proofs(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert!(meta["dpop_signing_alg_values_supported"]
        .to_string()
        .contains("ES256"));
    let c = machine(&app, "read", &[]);
    let secret = c.secret.clone().unwrap();
    let basic = Some((c.id.as_str(), secret.as_str()));
    let cc = [("grant_type", "client_credentials")];
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let nonce = learn_nonce(&app, &c.id, &secret, &key).await;
    let url = app.url("/token");

    let good = proof(&key, "POST", &url, Some(&nonce), None);
    let (status, body, headers) = token_request(&app, basic, &cc, Some(&good)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert!(headers.contains_key("dpop-nonce"));
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());

    // The same proof again, a proof for another URL or method, or a bad signature.
    let (status, body, _) = token_request(&app, basic, &cc, Some(&good)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    for bad in [
        proof(&key, "POST", &app.url("/userinfo"), Some(&nonce), None),
        proof(&key, "GET", &url, Some(&nonce), None),
        proof(&key, "POST", &url, Some("not-a-nonce"), None),
        format!("{}x", proof(&key, "POST", &url, Some(&nonce), None)),
        "not a jwt".to_string(),
    ] {
        let (status, body, _) = token_request(&app, basic, &cc, Some(&bad)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            matches!(
                body["error"].as_str(),
                Some("invalid_dpop_proof" | "use_dpop_nonce")
            ),
            "{body}"
        );
    }
    // Introspection shows the key.
    let token = claims_token(&app, basic, &key, &nonce).await;
    let (status, body, _) =
        crate::fixtures::post_form(&app, "/introspect", basic, &[("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(body["cnf"]["jkt"], key.thumbprint(), "{body}");
    assert_eq!(body["token_type"], "DPoP");

    // A client registered with dpop_bound_access_tokens must send a proof.
    let bound = machine(&app, "read", &["--dpop-bound-access-tokens"]);
    let bs = bound.secret.unwrap();
    let (status, body, _) = token_request(&app, Some((&bound.id, &bs)), &cc, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let p = proof(&key, "POST", &url, Some(&nonce), None);
    let (status, _, _) = token_request(&app, Some((&bound.id, &bs)), &cc, Some(&p)).await;
    assert_eq!(status, 200);
}
both_backends!(dpop_token_endpoint, token_endpoint_proofs);

async fn claims_token(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    key: &SigningKey,
    nonce: &str,
) -> String {
    let p = proof(key, "POST", &app.url("/token"), Some(nonce), None);
    let (status, body, _) = token_request(
        app,
        basic,
        &[("grant_type", "client_credentials")],
        Some(&p),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn userinfo(
    app: &TestApp,
    scheme: &str,
    token: &str,
    dpop: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut req = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn bound_tokens_at_resources(app: TestApp) {
    let c = web_client(&app, &["--public"]);
    user(&app, "ria", PW);
    let (key, _) = SigningKey::generate(Alg::EdDSA).unwrap();
    let (code, req) = get_code(&app, &c, "ria", "openid profile offline_access").await;
    let url = app.url("/token");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", req.redirect_uri.as_str()),
        ("code_verifier", req.pkce.verifier.as_str()),
        ("client_id", c.id.as_str()),
    ];
    let first = proof(&key, "POST", &url, None, None);
    let (_, body, headers) = token_request(&app, None, &form, Some(&first)).await;
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_string();
    let (status, tokens, _) = token_request(
        &app,
        None,
        &form,
        Some(&proof(&key, "POST", &url, Some(&nonce), None)),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    let ui = app.url("/userinfo");

    // As a Bearer token it is refused; with the DPoP scheme it needs a proof of its key.
    let (status, h, _) = userinfo(&app, "Bearer", at, None).await;
    assert_eq!(status, 401);
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let (status, h, _) = userinfo(
        &app,
        "DPoP",
        at,
        Some(&proof(&key, "GET", &ui, None, Some(at))),
    )
    .await;
    assert_eq!(status, 401);
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("use_dpop_nonce"));
    let nonce = h["dpop-nonce"].to_str().unwrap().to_string();
    let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
    let (status, h, _) = userinfo(
        &app,
        "DPoP",
        at,
        Some(&proof(&other, "GET", &ui, Some(&nonce), Some(at))),
    )
    .await;
    assert_eq!(status, 401);
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("DPoP "));
    let (status, _, _) = userinfo(
        &app,
        "DPoP",
        at,
        Some(&proof(&key, "GET", &ui, Some(&nonce), Some("another"))),
    )
    .await;
    assert_eq!(status, 401, "ath must match");
    let (status, _, body) = userinfo(
        &app,
        "DPoP",
        at,
        Some(&proof(&key, "GET", &ui, Some(&nonce), Some(at))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["preferred_username"], "ria");

    // The refresh token is bound too.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", c.id.as_str()),
    ];
    let (status, body, _) = token_request(&app, None, &refresh, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body, _) = token_request(
        &app,
        None,
        &refresh,
        Some(&proof(&other, "POST", &url, Some(&nonce), None)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body, _) = token_request(
        &app,
        None,
        &refresh,
        Some(&proof(&key, "POST", &url, Some(&nonce), None)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}
both_backends!(dpop_resources, bound_tokens_at_resources);

/// `dpop_jkt` in the authorization request binds the code to that key (RFC 9449 §10).
async fn codes_bound_by_dpop_jkt(app: TestApp) {
    use crate::helpers::{code_request, login_flow, query_param};
    let c = web_client(&app, &["--public"]);
    user(&app, "ria", PW);
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jkt = key.thumbprint();
    let req = code_request(
        &app,
        &c.id,
        crate::authorize::RP,
        "openid",
        &[("dpop_jkt", jkt.as_str())],
    );
    let done = login_flow(&crate::helpers::browser(), &req.url, "ria", PW).await;
    let code = query_param(&done, "code").unwrap_or_else(|| panic!("{done}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", req.redirect_uri.as_str()),
        ("code_verifier", req.pkce.verifier.as_str()),
        ("client_id", c.id.as_str()),
    ];
    let url = app.url("/token");
    let (_, body, headers) = token_request(
        &app,
        None,
        &form,
        Some(&proof(&other, "POST", &url, None, None)),
    )
    .await;
    assert_eq!(body["error"], "use_dpop_nonce");
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_string();
    for wrong in [None, Some(proof(&other, "POST", &url, Some(&nonce), None))] {
        let (status, body, _) = token_request(&app, None, &form, wrong.as_deref()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
    let (status, body, _) = token_request(
        &app,
        None,
        &form,
        Some(&proof(&key, "POST", &url, Some(&nonce), None)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let bad = code_request(
        &app,
        &c.id,
        crate::authorize::RP,
        "openid",
        &[("dpop_jkt", "short")],
    );
    let res = crate::helpers::browser()
        .get(&bad.url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "an invalid_request back to the client");
}
both_backends!(dpop_jkt_codes, codes_bound_by_dpop_jkt);

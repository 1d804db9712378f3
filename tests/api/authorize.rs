//! The authorization-code flow through the real pages: the `openidconnect` crate as the
//! relying party, a cookie-keeping client as the browser, and a negative test per rule.

use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use gatehouse::db::DbConn;
use gatehouse::oauth::store::prelude::*;

use crate::both_backends;
use crate::fixtures::{client, jwt_parts, user, Registered};
use crate::helpers::{
    browser, code_request, exchange, is_consent_page, is_login_page, location, login_flow,
    query_param, spawn_on, submit_consent, submit_login, TestApp,
};

pub const RP: &str = "https://rp.example/cb";
pub const PW: &str = "correct horse battery";

/// Runs blocking storage work against the app's database.
pub async fn with_db<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&mut DbConn) -> T + Send + 'static,
) -> T {
    let db = app.services.db.clone();
    tokio::task::spawn_blocking(move || f(&mut db.conn().unwrap()))
        .await
        .unwrap()
}

pub fn web_client(app: &TestApp, extra: &[&str]) -> Registered {
    let mut args = vec!["--redirect-uri", RP, "--name", "Photo Printer"];
    args.extend_from_slice(extra);
    client(app, &args)
}

/// Login (and consent) for `scope`; returns the code and the request it answered.
pub async fn get_code(
    app: &TestApp,
    c: &Registered,
    username: &str,
    scope: &str,
) -> (String, crate::helpers::CodeRequest) {
    let req = code_request(app, &c.id, RP, scope, &[]);
    let callback = login_flow(&app.http, &req.url, username, PW).await;
    assert!(callback.starts_with(RP), "{callback}");
    (query_param(&callback, "code").expect(&callback), req)
}

pub async fn redeem(app: &TestApp, c: &Registered, code: &str, verifier: &str) -> (u16, Value) {
    exchange(app, &c.id, c.secret.as_deref(), code, RP, Some(verifier)).await
}

pub fn error_of(res: &reqwest::Response) -> (String, Option<String>, Option<String>) {
    let loc = location(res).expect("a redirect");
    assert!(loc.starts_with(RP), "{loc}");
    (
        query_param(&loc, "error").expect("an error"),
        query_param(&loc, "state"),
        query_param(&loc, "iss"),
    )
}

async fn full_flow_with_openidconnect(app: TestApp) {
    let c = web_client(&app, &[]);
    let uid = user(&app, "alice", PW);
    let http = browser();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.id.clone()),
        Some(ClientSecret::new(c.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(RP.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let callback = login_flow(&app.http, url.as_str(), "alice", PW).await;
    assert!(callback.starts_with(RP), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let code = query_param(&callback, "code").unwrap();
    assert!(
        gatehouse::crypto::b64url_decode(&code).unwrap().len() >= 16,
        "128+ bits"
    );

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("the ID token verifies against the JWKS, with the nonce");
    assert_eq!(claims.subject().as_str(), uid);
    assert!(claims.auth_time().is_some());
    let (_, raw) = jwt_parts(&id_token.to_string());
    assert!(raw["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]));

    let res = http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    if res.status() != 404 {
        assert_eq!(res.status(), 200);
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["sub"], uid.as_str());
        assert_eq!(info["email"], "alice@example.com");
    }

    // Silent re-authentication: prompt=none with the session, with and without a hint.
    let hint = id_token.to_string();
    for extra in [
        vec![("prompt", "none")],
        vec![("prompt", "none"), ("id_token_hint", hint.as_str())],
    ] {
        let req = code_request(&app, &c.id, RP, "openid profile email", &extra);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let loc = location(&res).unwrap();
        let code = query_param(&loc, "code").expect("a code, silently");
        let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
        assert_eq!(status, 200, "{body}");
        let (_, again) = jwt_parts(body["id_token"].as_str().unwrap());
        assert_eq!(again["sub"], uid.as_str(), "same subject");
        assert_eq!(again["nonce"], req.nonce.as_str());
    }
}
both_backends!(full_flow, full_flow_with_openidconnect);

async fn unverifiable_requests_get_a_page_never_a_redirect(app: TestApp) {
    let c = web_client(&app, &[]);
    for (what, extra) in [
        (
            "unregistered",
            vec![("redirect_uri", "https://evil.example/cb")],
        ),
        ("port", vec![("redirect_uri", "https://rp.example:8443/cb")]),
        (
            "suffix",
            vec![("redirect_uri", "https://rp.example/cb/../x")],
        ),
        ("unknown client", vec![("client_id", "nobody")]),
        ("no client", vec![("client_id", "")]),
    ] {
        let req = code_request(&app, &c.id, RP, "openid", &extra);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{what}");
        assert!(location(&res).is_none(), "{what}: no redirect");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = res.text().await.unwrap();
        assert!(!body.contains("evil.example"), "{what}");
    }
    let res = app
        .http
        .get(format!(
            "{}/authorize?client_id={}&client_id=x",
            app.issuer, c.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "repeated parameter");
}
both_backends!(
    unregistered_redirect,
    unverifiable_requests_get_a_page_never_a_redirect
);

async fn invalid_requests_redirect_with_error_state_and_iss(app: TestApp) {
    let c = web_client(&app, &["--scope", "openid profile"]);
    for (expected, extra) in [
        ("invalid_request", vec![("code_challenge_method", "plain")]),
        ("invalid_request", vec![("code_challenge_method", "")]),
        ("invalid_request", vec![("code_challenge", "")]),
        ("unsupported_response_type", vec![("response_type", "")]),
        (
            "unsupported_response_type",
            vec![("response_type", "token")],
        ),
        ("invalid_scope", vec![("scope", "openid gatehouse:admin")]),
        (
            "invalid_request_object",
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
        ),
        (
            "request_uri_not_supported",
            vec![("request_uri", "https://rp.example/r")],
        ),
        ("invalid_request", vec![("prompt", "none login")]),
        ("invalid_request", vec![("max_age", "-5")]),
    ] {
        let req = code_request(&app, &c.id, RP, "openid", &extra);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 303, "{extra:?}");
        let (error, state, iss) = error_of(&res);
        assert_eq!(error, expected, "{extra:?}");
        assert_eq!(state.as_deref(), Some(req.state.as_str()));
        assert_eq!(iss.as_deref(), Some(app.issuer.as_str()));
    }
    // Parameters that must never cause an error.
    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid",
        &[
            ("display", "popup"),
            ("ui_locales", "de-CH fr"),
            ("claims_locales", "de"),
            ("acr_values", "urn:mace:incommon:iap:silver"),
            ("claims", "{\"userinfo\":{\"email\":{\"essential\":true}}}"),
            ("totally_unknown", "x"),
        ],
    );
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(is_login_page(&res.text().await.unwrap()));
}
both_backends!(
    authorize_errors,
    invalid_requests_redirect_with_error_state_and_iss
);

async fn prompt_none_without_a_session_is_login_required(app: TestApp) {
    let c = web_client(&app, &[]);
    let req = code_request(&app, &c.id, RP, "openid", &[("prompt", "none")]);
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (error, state, iss) = error_of(&res);
    assert_eq!(error, "login_required");
    assert_eq!(state.as_deref(), Some(req.state.as_str()));
    assert_eq!(iss.as_deref(), Some(app.issuer.as_str()));
}
both_backends!(
    prompt_none_no_session,
    prompt_none_without_a_session_is_login_required
);

async fn verifier_checks_at_the_token_endpoint(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "carl", PW);
    let (code, req) = get_code(&app, &c, "carl", "openid").await;
    let (status, body) = exchange(&app, &c.id, c.secret.as_deref(), &code, RP, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );
    let wrong = gatehouse::crypto::random_token(32);
    let (status, body) = redeem(&app, &c, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let (status, body) = exchange(
        &app,
        &c.id,
        c.secret.as_deref(),
        &code,
        "https://rp.example/other",
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "redirect_uri"
    );
    let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
}
both_backends!(token_pkce, verifier_checks_at_the_token_endpoint);

async fn code_reuse_revokes_the_first_access_token(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "dora", PW);
    let (code, req) = get_code(&app, &c, "dora", "openid").await;
    let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    let jti = claims["jti"].as_str().unwrap().to_string();
    let j = jti.clone();
    assert!(!with_db(&app, move |c| c.is_jti_revoked(&j).unwrap()).await);
    let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        with_db(&app, move |c| c.is_jti_revoked(&jti).unwrap()).await,
        "revoked"
    );
}
both_backends!(code_reuse, code_reuse_revokes_the_first_access_token);

async fn a_code_of_another_client_is_refused(app: TestApp) {
    let a = web_client(&app, &[]);
    let b = web_client(&app, &[]);
    user(&app, "emil", PW);
    let (code, req) = get_code(&app, &a, "emil", "openid").await;
    let (status, body) = redeem(&app, &b, &code, &req.pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = redeem(&app, &a, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "the rightful client still can");
}
both_backends!(foreign_client, a_code_of_another_client_is_refused);

async fn an_expired_code_is_refused(app: TestApp) {
    let backend = app.backend;
    let db = app.stop().await;
    let app = spawn_on(backend, db, |s| s.lifetimes.code = 1).await;
    let c = web_client(&app, &[]);
    user(&app, "finn", PW);
    let (code, req) = get_code(&app, &c, "finn", "openid").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}
both_backends!(expired_code, an_expired_code_is_refused);

async fn consent_denied_redirects_access_denied(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "gina", PW);
    let req = code_request(&app, &c.id, RP, "openid profile", &[]);
    let page = app.page(&req.url).await;
    let page = submit_login(&app.http, &page, "gina", PW)
        .await
        .text()
        .await
        .unwrap();
    assert!(is_consent_page(&page));
    assert!(page.contains("Your name and username"));
    let res = submit_consent(&app.http, &page, "deny").await;
    assert_eq!(res.status(), 303);
    let (error, state, iss) = error_of(&res);
    assert_eq!(error, "access_denied");
    assert_eq!(state.as_deref(), Some(req.state.as_str()));
    assert_eq!(iss.as_deref(), Some(app.issuer.as_str()));
    // Nothing was remembered: the next request asks again.
    let res = app.http.get(&req.url).send().await.unwrap();
    assert!(is_consent_page(&res.text().await.unwrap()));
}
both_backends!(consent_denied, consent_denied_redirects_access_denied);

async fn prompt_login_and_max_age_make_a_fresh_auth_time(app: TestApp) {
    let c = web_client(&app, &["--skip-consent"]);
    user(&app, "lena", PW);
    let auth_time = |body: &Value| {
        jwt_parts(body["id_token"].as_str().unwrap()).1["auth_time"]
            .as_i64()
            .unwrap()
    };
    let (code, req) = get_code(&app, &c, "lena", "openid").await;
    let t1 = auth_time(&redeem(&app, &c, &code, &req.pkce.verifier).await.1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let req = code_request(&app, &c.id, RP, "openid", &[("prompt", "login")]);
    let page = app.page(&req.url).await;
    assert!(
        is_login_page(&page),
        "prompt=login asks again despite the session"
    );
    let res = submit_login(&app.http, &page, "lena", PW).await;
    let code = query_param(&location(&res).unwrap(), "code").unwrap();
    let t2 = auth_time(&redeem(&app, &c, &code, &req.pkce.verifier).await.1);
    assert!(t2 > t1, "{t2} > {t1}");

    let req = code_request(&app, &c.id, RP, "openid", &[("max_age", "10000")]);
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 303, "a recent login satisfies max_age");
    let code = query_param(&location(&res).unwrap(), "code").unwrap();
    assert_eq!(
        auth_time(&redeem(&app, &c, &code, &req.pkce.verifier).await.1),
        t2
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let req = code_request(&app, &c.id, RP, "openid", &[("max_age", "1")]);
    let page = app.page(&req.url).await;
    assert!(is_login_page(&page), "max_age exceeded");
    let res = submit_login(&app.http, &page, "lena", PW).await;
    let code = query_param(&location(&res).unwrap(), "code").unwrap();
    let t3 = auth_time(&redeem(&app, &c, &code, &req.pkce.verifier).await.1);
    assert!(t3 > t2, "{t3} > {t2}");
}
both_backends!(
    prompt_login,
    prompt_login_and_max_age_make_a_fresh_auth_time
);

async fn consent_is_remembered_per_scope_set(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "mia", PW);
    let req = code_request(&app, &c.id, RP, "openid profile", &[]);
    let page = app.page(&req.url).await;
    let page = submit_login(&app.http, &page, "mia", PW)
        .await
        .text()
        .await
        .unwrap();
    assert!(is_consent_page(&page));
    let res = submit_consent(&app.http, &page, "allow").await;
    assert!(query_param(&location(&res).unwrap(), "code").is_some());

    // Same or fewer scopes: no page.
    for scope in ["openid profile", "openid"] {
        let req = code_request(&app, &c.id, RP, scope, &[]);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 303, "{scope}");
        assert!(query_param(&location(&res).unwrap(), "code").is_some());
    }
    // Also as a form post (OIDC Core §3.1.2.1).
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let query = req.url.split_once('?').unwrap().1.to_string();
    let res = app
        .http
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(query_param(&location(&res).unwrap(), "code").is_some());
    // More scopes, or prompt=consent: asked again.
    for (scope, extra) in [
        ("openid email", vec![]),
        ("openid", vec![("prompt", "consent")]),
    ] {
        let req = code_request(&app, &c.id, RP, scope, &extra);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{scope}");
        assert!(is_consent_page(&res.text().await.unwrap()));
    }
}
both_backends!(consent_remembered, consent_is_remembered_per_scope_set);

/// Unless the request asks for consent (`prompt=consent`, see `hardening`).
async fn skip_consent_clients_never_show_it(app: TestApp) {
    let c = web_client(&app, &["--skip-consent"]);
    user(&app, "nina", PW);
    let req = code_request(&app, &c.id, RP, "openid profile email offline_access", &[]);
    let page = app.page(&req.url).await;
    assert!(is_login_page(&page));
    let res = submit_login(&app.http, &page, "nina", PW).await;
    assert_eq!(res.status(), 303, "straight back to the client");
    let code = query_param(&location(&res).unwrap(), "code").unwrap();
    let (status, body) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string(), "offline_access granted");
}
both_backends!(skip_consent, skip_consent_clients_never_show_it);

async fn loopback_redirects_may_use_any_port(app: TestApp) {
    let c = client(
        &app,
        &[
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--skip-consent",
        ],
    );
    user(&app, "omar", PW);
    let redirect = "http://127.0.0.1:49152/callback";
    let req = code_request(&app, &c.id, redirect, "openid", &[]);
    let callback = login_flow(&app.http, &req.url, "omar", PW).await;
    assert!(callback.starts_with(redirect), "{callback}");
    let code = query_param(&callback, "code").unwrap();
    let (status, body) = exchange(
        &app,
        &c.id,
        None,
        &code,
        &req.redirect_uri,
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Only the port may differ.
    let req = code_request(&app, &c.id, "http://127.0.0.1:49152/other", "openid", &[]);
    assert_eq!(app.http.get(&req.url).send().await.unwrap().status(), 400);
}
both_backends!(loopback, loopback_redirects_may_use_any_port);

async fn concurrent_exchanges_of_one_code_have_one_winner(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "quinn", PW);
    for _ in 0..3 {
        let (code, req) = get_code(&app, &c, "quinn", "openid").await;
        let (a, b) = tokio::join!(
            redeem(&app, &c, &code, &req.pkce.verifier),
            redeem(&app, &c, &code, &req.pkce.verifier)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
        let loser = if a.0 == 400 { a.1 } else { b.1 };
        assert_eq!(loser["error"], "invalid_grant");
    }
}
both_backends!(
    concurrent_exchange,
    concurrent_exchanges_of_one_code_have_one_winner
);

/// `response_mode=form_post`: the answer is a page that posts code, state and iss to
/// the redirect URI, with no inline script; errors come back the same way.
async fn form_post_responses(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "fp", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[("response_mode", "form_post")]);
    let browser = crate::helpers::browser();
    let login = crate::helpers::page_of(&browser, &req.url).await;
    let consent = crate::helpers::submit_login(&browser, &login, "fp", PW)
        .await
        .text()
        .await
        .unwrap();
    let res = crate::helpers::submit_consent(&browser, &consent, "allow").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' https://rp.example") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{RP}\"")), "{page}");
    assert_eq!(
        crate::helpers::hidden_field(&page, "state").as_deref(),
        Some(req.state.as_str())
    );
    assert_eq!(
        crate::helpers::hidden_field(&page, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    assert!(crate::helpers::hidden_field(&page, "code").is_some());
    assert!(!page.contains("<script>"), "no inline script");
    let script = app
        .http
        .get(app.url("/static/form_post.js"))
        .send()
        .await
        .unwrap();
    assert!(script.text().await.unwrap().contains("submit()"));
    // An error goes back as a form too.
    let bad = code_request(
        &app,
        &c.id,
        RP,
        "openid gatehouse:admin",
        &[("response_mode", "form_post")],
    );
    let page = crate::helpers::page_of(&browser, &bad.url).await;
    assert_eq!(
        crate::helpers::hidden_field(&page, "error").as_deref(),
        Some("invalid_scope"),
        "{page}"
    );
}
both_backends!(form_post_mode, form_post_responses);

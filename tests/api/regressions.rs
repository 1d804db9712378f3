//! Defects found in gatehouse and fixed, each with the test that failed before the fix.

use crate::authorize::{get_code, web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{client, jwt_parts, machine, post_form, user};
use crate::helpers::{browser, code_request, exchange, TestApp};

/// A client with no scopes gets no `scope` member (RFC 6749 scope is 1*NQCHAR), in the
/// token response and in the access token alike.
async fn an_empty_scope_is_left_out(app: TestApp) {
    let c = client(&app, &["--grant-type", "client_credentials"]);
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let (status, body, _) = post_form(
        &app,
        "/token",
        basic,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("scope").is_none(), "{body}");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert!(claims.get("scope").is_none(), "{claims}");
    // A client with scopes still gets them.
    let m = machine(&app, "read", &[]);
    let basic = Some((m.id.as_str(), m.secret.as_deref().unwrap()));
    let (_, body, _) = post_form(
        &app,
        "/token",
        basic,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(body["scope"], "read");
}
both_backends!(empty_scope, an_empty_scope_is_left_out);

/// A loopback redirect URI with a port outside 1–65535 is not a match: a page, not a
/// dropped connection from a panic.
async fn an_impossible_loopback_port_is_refused(app: TestApp) {
    let c = client(&app, &["--redirect-uri", "http://127.0.0.1/cb", "--public"]);
    for port in ["99999", "0", "65536"] {
        let uri = format!("http://127.0.0.1:{port}/cb");
        let req = code_request(&app, &c.id, &uri, "openid", &[]);
        let res = browser().get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 400, "port {port}");
        assert!(res.headers().get("location").is_none());
        let page = res.text().await.unwrap();
        assert!(page.contains("not registered"), "{page}");
    }
    let req = code_request(&app, &c.id, "http://127.0.0.1:65535/cb", "openid", &[]);
    assert_eq!(browser().get(&req.url).send().await.unwrap().status(), 200);
}
both_backends!(loopback_port, an_impossible_loopback_port_is_refused);

/// A replay racing the first exchange of a code always revokes what the first exchange
/// got: consuming the code, minting and storing the tokens are one transaction.
async fn a_racing_replay_revokes_the_winners_tokens(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "rae", PW);
    let basic = (c.id.as_str(), c.secret.as_deref().unwrap());
    for trial in 0..12 {
        let (code, req) = get_code(&app, &c, "rae", "openid offline_access").await;
        let v = req.pkce.verifier.as_str();
        let secret = c.secret.as_deref();
        let (a, b) = tokio::join!(
            exchange(&app, &c.id, secret, &code, RP, Some(v)),
            exchange(&app, &c.id, secret, &code, RP, Some(v)),
        );
        let winners: Vec<_> = [&a, &b].into_iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(winners.len(), 1, "trial {trial}: {a:?} {b:?}");
        let tokens = &winners[0].1;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let (status, body, _) = post_form(&app, "/token", Some(basic), &form).await;
        assert_eq!(
            status, 400,
            "trial {trial}: the winner's refresh token lives: {body}"
        );
        let access = tokens["access_token"].as_str().unwrap();
        let (_, body, _) = post_form(&app, "/introspect", Some(basic), &[("token", access)]).await;
        assert_eq!(body["active"], false, "trial {trial}: {body}");
    }
}
both_backends!(code_replay_race, a_racing_replay_revokes_the_winners_tokens);

/// Request lines and headers that are too large get 414 / 431 with a body in the
/// endpoint's own error form.
async fn oversized_heads_are_answered_in_the_endpoints_form(app: TestApp) {
    let long = "a".repeat(9 * 1024);
    let res = app
        .http
        .get(app.url(&format!("/authorize?client_id={long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 414);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("too long"));
    let res = app
        .http
        .post(app.url("/token"))
        .header("x-padding", "p".repeat(33 * 1024))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let res = app
        .http
        .post(app.url(&format!("/token?x={long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 414);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}
both_backends!(
    oversized_heads,
    oversized_heads_are_answered_in_the_endpoints_form
);

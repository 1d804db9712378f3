//! Signed UserInfo (OpenID Core §5.3.2) for a client registered with
//! `userinfo_signed_response_alg`.

use crate::authorize::{get_code, web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{user, verify_with_jwks};
use crate::helpers::{exchange, TestApp};

async fn userinfo_as_a_jwt(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert!(meta["userinfo_signing_alg_values_supported"]
        .to_string()
        .contains("ES256"));
    let c = web_client(&app, &["--userinfo-alg", "ES256"]);
    let sub = user(&app, "ria", PW);
    let (code, req) = get_code(&app, &c, "ria", "openid profile").await;
    let (status, tokens) = exchange(
        &app,
        &c.id,
        c.secret.as_deref(),
        &code,
        RP,
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let res = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jwt");
    let jwt = res.text().await.unwrap();
    let claims = verify_with_jwks(&app, &jwt).await;
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["aud"], c.id.as_str());
    assert_eq!(claims["preferred_username"], "ria");
    let (header, _) = crate::fixtures::jwt_parts(&jwt);
    assert_eq!(header["alg"], "ES256");
    let bad = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "x",
            "--redirect-uri",
            RP,
            "--userinfo-alg",
            "none",
        ],
        None,
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("userinfo_signed_response_alg"),
        "{}",
        bad.stderr
    );
}
both_backends!(signed_userinfo, userinfo_as_a_jwt);

//! Pairwise subject identifiers (OIDC Core §8.1): one sector, one `sub`; the sector
//! identifier document is fetched and must list every redirect URI; UserInfo,
//! introspection, `id_token_hint` and logout all speak the client's `sub`. The
//! `openidconnect` crate is the relying party.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use crate::admin_api::admin_token;
use crate::authorize::{get_code, redeem, web_client, PW, RP};
use crate::both_backends_on;
use crate::fixtures::{client, jwt_parts, user, Registered};
use crate::helpers::{browser, code_request, location, login_flow, query_param, TestApp};
use crate::mock::{Answer, Mock};

/// The `sub` a client's ID token names for `username`.
async fn sub_for(app: &TestApp, c: &Registered, username: &str, redirect: &str) -> String {
    let req = code_request(app, &c.id, redirect, "openid", &[]);
    let callback = login_flow(&app.http, &req.url, username, PW).await;
    let code = query_param(&callback, "code").expect(&callback);
    let (status, body) = crate::helpers::exchange(
        app,
        &c.id,
        c.secret.as_deref(),
        &code,
        redirect,
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    jwt_parts(body["id_token"].as_str().unwrap()).1["sub"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn introspect(app: &TestApp, c: &Registered, token: &str) -> Value {
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    crate::fixtures::post_form(app, "/introspect", basic, &[("token", token)])
        .await
        .1
}

async fn register(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/register"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn one_sector_one_sub(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(
        meta["subject_types_supported"],
        json!(["public", "pairwise"])
    );
    let uid = user(&app, "mei", PW);
    let public = web_client(&app, &[]);
    assert_eq!(sub_for(&app, &public, "mei", RP).await, uid);

    // Two clients on one host share a sector; another host is another sector.
    let a = web_client(&app, &["--subject-type", "pairwise"]);
    let b = client(
        &app,
        &[
            "--name",
            "Same host",
            "--redirect-uri",
            "https://rp.example/other",
            "--subject-type",
            "pairwise",
        ],
    );
    let elsewhere = "https://elsewhere.example/cb";
    let c = client(
        &app,
        &[
            "--name",
            "Elsewhere",
            "--redirect-uri",
            elsewhere,
            "--subject-type",
            "pairwise",
        ],
    );
    let sub_a = sub_for(&app, &a, "mei", RP).await;
    assert_ne!(sub_a, uid, "a pairwise sub is not the user's id");
    assert_eq!(
        sub_a,
        sub_for(&app, &b, "mei", "https://rp.example/other").await
    );
    assert_ne!(sub_a, sub_for(&app, &c, "mei", elsewhere).await);

    // A sector document joins hosts; it must list every redirect URI.
    let mock = Mock::start().await;
    mock.set("/sector.json", Answer::json(&json!([RP, elsewhere])));
    mock.set("/partial.json", Answer::json(&json!([RP])));
    let (admin, _) = admin_token(&app).await;
    let metadata = |doc: &str| {
        json!({
            "client_name": "Sector",
            "redirect_uris": [RP, elsewhere],
            "subject_type": "pairwise",
            "sector_identifier_uri": mock.url(doc),
        })
    };
    let (status, body) = register(&app, &admin, metadata("/partial.json")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("sector_identifier_uri"),
        "{body}"
    );
    let (status, body) = register(&app, &admin, metadata("/sector.json")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["subject_type"], "pairwise");
    let joined = Registered {
        id: body["client_id"].as_str().unwrap().into(),
        secret: body["client_secret"].as_str().map(str::to_string),
    };
    let sub_rp = sub_for(&app, &joined, "mei", RP).await;
    assert_eq!(sub_rp, sub_for(&app, &joined, "mei", elsewhere).await);
    assert_ne!(sub_rp, sub_a, "the sector is the document's host");
    mock.stop().await;
}
both_backends_on!(
    pairwise_sectors,
    one_sector_one_sub,
    crate::backchannel::logout_app
);

async fn the_client_s_sub_everywhere(app: TestApp) {
    let uid = user(&app, "noa", PW);
    let c = web_client(
        &app,
        &[
            "--subject-type",
            "pairwise",
            "--post-logout-redirect-uri",
            "https://rp.example/bye",
        ],
    );
    let (tokens, verified) = crate::oidc::code_flow(&app, &c, "noa", &["profile"], &[]).await;
    let id_token = tokens.id_token().unwrap();
    let sub = verified.subject().to_string();
    assert_ne!(sub, uid);
    let access = tokens.access_token().secret().clone();
    let (_, at) = jwt_parts(&access);
    assert_eq!(
        at["sub"],
        sub.as_str(),
        "the access token names the same sub"
    );
    let http = browser();
    let info: Value = http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["preferred_username"], "noa");
    let seen = introspect(&app, &c, &access).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], sub.as_str());

    // The client's own sub is a valid hint: silent re-authentication works with it.
    let hint = id_token.to_string();
    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid",
        &[("prompt", "none"), ("id_token_hint", &hint)],
    );
    let res = app.http.get(&req.url).send().await.unwrap();
    let loc = location(&res).unwrap();
    assert!(query_param(&loc, "code").is_some(), "{loc}");
    let (code, req) = get_code(&app, &c, "noa", "openid").await;
    assert_eq!(redeem(&app, &c, &code, &req.pkce.verifier).await.0, 200);
    // …and logout with it needs no confirmation: it names the session's user.
    let url = format!(
        "{}?id_token_hint={hint}&post_logout_redirect_uri=https://rp.example/bye",
        app.url("/logout")
    );
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    // Disabling the user makes the pairwise-named token inactive.
    assert_eq!(app.cli(&["users", "disable", "noa"], None).code, 0);
    assert_eq!(introspect(&app, &c, &access).await["active"], false);
}
both_backends_on!(
    pairwise_everywhere,
    the_client_s_sub_everywhere,
    crate::backchannel::logout_app
);

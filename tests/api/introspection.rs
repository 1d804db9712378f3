//! Introspection (RFC 7662), revocation (RFC 7009) and userinfo.

use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::{cc_token, client, machine, post_form, seed_refresh, user};
use crate::helpers::TestApp;

async fn introspection_and_revocation(app: TestApp) {
    let api = machine(&app, "read", &[]);
    let api_secret = api.secret.clone().unwrap();
    // A resource server: tokens for audience https://api.example are its to see.
    let rs = machine(&app, "introspect", &["--audience", "https://api.example"]);
    let rs_secret = rs.secret.clone().unwrap();
    let worker = machine(&app, "read", &["--audience", "https://api.example"]);
    let worker_secret = worker.secret.clone().unwrap();
    let stranger = machine(&app, "read", &[]);
    let stranger_secret = stranger.secret.clone().unwrap();

    let token = cc_token(&app, &api.id, &api_secret).await;
    let (status, body, headers) = post_form(
        &app,
        "/introspect",
        Some((&api.id, &api_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["active"], true);
    for field in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "aud",
        "token_type",
        "jti",
    ] {
        assert!(
            body.get(field).is_some(),
            "introspection lacks {field}: {body}"
        );
    }
    assert_eq!(body["client_id"], api.id.as_str());
    assert_eq!(body["iss"], app.issuer.as_str());

    // Another client learns nothing about it.
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&stranger.id, &stranger_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(body, json!({"active": false}));

    // The resource server may introspect tokens whose audience it is.
    let wtoken = cc_token(&app, &worker.id, &worker_secret).await;
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&rs.id, &rs_secret)),
        &[("token", &wtoken)],
    )
    .await;
    assert_eq!(body["active"], true, "{body}");

    for junk in ["garbage", "a.b.c", ""] {
        let (status, body, _) = post_form(
            &app,
            "/introspect",
            Some((&api.id, &api_secret)),
            &[("token", junk)],
        )
        .await;
        if junk.is_empty() {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_request"))
            );
        } else {
            assert_eq!(body, json!({"active": false}));
        }
    }

    // Without client authentication: 401.
    let (status, body, _) = post_form(&app, "/introspect", None, &[("token", &token)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Revoking an access token: inactive at once.
    let (status, _, _) = post_form(
        &app,
        "/revoke",
        Some((&api.id, &api_secret)),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&api.id, &api_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(body, json!({"active": false}));

    // Unknown tokens: 200.
    let (status, _, _) = post_form(
        &app,
        "/revoke",
        Some((&api.id, &api_secret)),
        &[("token", "never-issued")],
    )
    .await;
    assert_eq!(status, 200);
    // Another client's token is not revoked.
    let (status, _, _) = post_form(
        &app,
        "/revoke",
        Some((&stranger.id, &stranger_secret)),
        &[("token", &wtoken)],
    )
    .await;
    assert_eq!(status, 400);
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&worker.id, &worker_secret)),
        &[("token", &wtoken)],
    )
    .await;
    assert_eq!(body["active"], true);
}
both_backends!(introspect_revoke_access, introspection_and_revocation);

async fn refresh_token_introspection_and_revocation(app: TestApp) {
    let c = client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let secret = c.secret.clone().unwrap();
    let uid = user(&app, "ivan", "ivan's password");
    let t0 = seed_refresh(&app, &c.id, &uid, "offline_access openid").await;
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&c.id, &secret)),
        &[("token", &t0), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], uid.as_str());
    assert_eq!(body["token_type"], "refresh_token");

    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &t0)],
    )
    .await;
    assert_eq!(status, 200);
    let t1 = body["refresh_token"].as_str().unwrap().to_string();
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&c.id, &secret)),
        &[("token", &t0)],
    )
    .await;
    assert_eq!(
        body,
        json!({"active": false}),
        "a rotated-out token is inactive"
    );

    // Revoking the refresh token revokes its family.
    let (status, _, _) =
        post_form(&app, "/revoke", Some((&c.id, &secret)), &[("token", &t1)]).await;
    assert_eq!(status, 200);
    let (_, body, _) = post_form(
        &app,
        "/introspect",
        Some((&c.id, &secret)),
        &[("token", &t1)],
    )
    .await;
    assert_eq!(body, json!({"active": false}));
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &t1)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
both_backends!(
    introspect_revoke_refresh,
    refresh_token_introspection_and_revocation
);

async fn userinfo_methods_and_errors(app: TestApp) {
    let c = client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let secret = c.secret.clone().unwrap();
    let uid = user(&app, "uma", "uma's password");
    let t0 = seed_refresh(&app, &c.id, &uid, "email offline_access openid profile").await;
    let (_, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &t0)],
    )
    .await;
    let at = body["access_token"].as_str().unwrap().to_string();

    let get: Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get["sub"], uid.as_str());
    assert_eq!(get["preferred_username"], "uma");
    assert_eq!(get["email"], "uma@example.com");
    assert_eq!(get["email_verified"], false);
    let post_header: Value = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post_header, get);
    let post_body: Value = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", &at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post_body, get);

    // Narrower scope: only openid → sub alone.
    let (_, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("scope", "openid"),
        ],
    )
    .await;
    let narrow: Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(narrow, json!({"sub": uid}));

    let res = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"gatehouse\""
    );
    let res = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));

    // A client token has no user and no openid scope.
    let m = machine(&app, "read", &[]);
    let ct = cc_token(&app, &m.id, m.secret.as_deref().unwrap()).await;
    let res = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&ct)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));

    // A disabled user: the token stops working.
    assert_eq!(app.cli(&["users", "disable", "uma"], None).code, 0);
    let res = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
both_backends!(userinfo, userinfo_methods_and_errors);

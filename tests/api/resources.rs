//! Resource indicators (RFC 8707) through the code flow: the token is for the resources
//! the authorization request named, a refresh keeps them, and a resource the client may
//! not use is `invalid_target`.

use serde_json::Value;

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{jwt_parts, post_form, user};
use crate::helpers::{code_request, exchange, location, login_flow, query_param, TestApp};

const API: &str = "https://api.example";

fn aud(token: &Value) -> Value {
    jwt_parts(token.as_str().unwrap()).1["aud"].clone()
}

async fn tokens_are_for_the_requested_resources(app: TestApp) {
    let c = web_client(
        &app,
        &["--audience", "https://api.example https://files.example"],
    );
    user(&app, "ria", PW);
    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid offline_access",
        &[("resource", API)],
    );
    let callback = login_flow(&app.http, &req.url, "ria", PW).await;
    let code = query_param(&callback, "code").expect(&callback);
    let secret = c.secret.as_deref();
    let (status, tokens) = exchange(&app, &c.id, secret, &code, RP, Some(&req.pkce.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens["access_token"]), API);

    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("resource", "https://files.example"),
    ];
    let (status, body, _) = post_form(&app, "/token", basic, &wider).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (status, next, _) = post_form(&app, "/token", basic, &form).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(
        aud(&next["access_token"]),
        API,
        "a refresh keeps the resources"
    );

    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid",
        &[("resource", "https://evil.example")],
    );
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res).unwrap();
    assert!(to.starts_with(RP), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_target"));
}
both_backends!(resource_indicators, tokens_are_for_the_requested_resources);

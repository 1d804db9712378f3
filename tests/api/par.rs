//! Pushed authorization requests (RFC 9126): pushing, using the request_uri once, and
//! clients that must push.

use serde_json::Value;

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{post_form, user};
use crate::helpers::{code_request, exchange, login_flow, page_of, query_param, TestApp};

/// The parameters of an authorization request for `client_id`, as a form to push.
fn request_form(
    app: &TestApp,
    client_id: &str,
    scope: &str,
) -> (Vec<(String, String)>, crate::helpers::CodeRequest) {
    let req = code_request(app, client_id, RP, scope, &[]);
    let url = url::Url::parse(&req.url).unwrap();
    let pairs = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (pairs, req)
}

async fn push(app: &TestApp, id: &str, secret: &str, form: &[(String, String)]) -> (u16, Value) {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body, headers) = post_form(app, "/par", Some((id, secret)), &form).await;
    if status == 201 {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status, body)
}

fn authorize_url(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

async fn pushed_requests(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        app.url("/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);
    let c = web_client(&app, &["--require-pushed-authorization-requests"]);
    let secret = c.secret.clone().unwrap();
    user(&app, "ria", PW);

    // Errors come back from the push, as JSON.
    let (mut form, _) = request_form(&app, &c.id, "openid");
    form.retain(|(k, _)| k != "redirect_uri");
    form.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    let (status, body) = push(&app, &c.id, &secret, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (mut form, _) = request_form(&app, &c.id, "openid");
    form.push(("request_uri".into(), "urn:x".into()));
    assert_eq!(push(&app, &c.id, &secret, &form).await.0, 400);
    let (form, _) = request_form(&app, &c.id, "openid gatehouse:admin");
    let (status, body) = push(&app, &c.id, &secret, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (form, _) = request_form(&app, &c.id, "openid");
    assert_eq!(push(&app, &c.id, "wrong", &form).await.0, 401);

    // A pushed request signs the user in through the pages, once.
    let (form, req) = request_form(&app, &c.id, "openid profile");
    let (status, body) = push(&app, &c.id, &secret, &form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let url = authorize_url(&app, &c.id, uri);
    let done = login_flow(&crate::helpers::browser(), &url, "ria", PW).await;
    assert_eq!(
        query_param(&done, "state").as_deref(),
        Some(req.state.as_str())
    );
    let code = query_param(&done, "code").unwrap_or_else(|| panic!("{done}"));
    let (status, tokens) = exchange(
        &app,
        &c.id,
        Some(&secret),
        &code,
        RP,
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");
    let again = page_of(&crate::helpers::browser(), &url).await;
    assert!(again.contains("expired or was already used"), "{again}");

    // This client must push: a direct request, or a tampered seal, is refused.
    let direct = code_request(&app, &c.id, RP, "openid", &[]);
    let page = page_of(&crate::helpers::browser(), &direct.url).await;
    assert!(page.contains("must push"), "{page}");
    let forged = code_request(&app, &c.id, RP, "openid", &[("pushed", "forged")]);
    let page = page_of(&crate::helpers::browser(), &forged.url).await;
    assert!(page.contains("altered"), "{page}");

    // A request_uri is only for the client that pushed it, and only until it expires.
    let (form, _) = request_form(&app, &c.id, "openid");
    let (_, body) = push(&app, &c.id, &secret, &form).await;
    let other = web_client(&app, &[]);
    let stolen = authorize_url(&app, &other.id, body["request_uri"].as_str().unwrap());
    let page = page_of(&crate::helpers::browser(), &stolen).await;
    assert!(page.contains("expired or was already used"), "{page}");
    let expired = "urn:ietf:params:oauth:request_uri:expired";
    let (hash, id) = (gatehouse::crypto::secret_hash(expired), c.id.clone());
    app.services
        .db
        .run(move |s| s.push_request(&hash, &id, "client_id=x", 1))
        .await
        .unwrap();
    let page = page_of(
        &crate::helpers::browser(),
        &authorize_url(&app, &c.id, expired),
    )
    .await;
    assert!(page.contains("expired or was already used"), "{page}");
}
both_backends!(par_flow, pushed_requests);

//! The device authorization grant (RFC 8628): the Rust `oauth2` crate as the device, the
//! verification page in a cookie-keeping client as the person, and every polling answer.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::StandardDeviceAuthorizationResponse;
use oauth2::{ClientId, DeviceAuthorizationUrl, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::both_backends;
use crate::fixtures::{client, post_form, user};
use crate::helpers::{form_action, hidden_field, location, page_of, TestApp};

const PW: &str = "correct horse battery staple";
const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn device_client(app: &TestApp) -> String {
    let args = [
        "--name",
        "Living-room TV",
        "--public",
        "--grant-type",
        DEVICE,
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile offline_access",
    ];
    client(app, &args).id
}

async fn start(app: &TestApp, client_id: &str) -> Value {
    let form = [("client_id", client_id), ("scope", "openid offline_access")];
    let (status, body, _) = post_form(app, "/device_authorization", None, &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> (u16, Value) {
    let form = [
        ("grant_type", DEVICE),
        ("device_code", device_code),
        ("client_id", client_id),
    ];
    let (status, body, _) = post_form(app, "/token", None, &form).await;
    (status, body)
}

/// Opens `uri` at the device page, which sends a person without a session to sign in;
/// signs in as ada and returns where the login sends back to.
async fn sign_in(browser: &reqwest::Client, uri: &str) -> String {
    let res = browser.get(uri).send().await.unwrap();
    assert_eq!(res.status(), 303, "sign in first");
    let login = page_of(browser, &location(&res).unwrap()).await;
    let csrf = hidden_field(&login, "csrf_token").unwrap();
    let return_to = hidden_field(&login, "return_to").unwrap();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("return_to", return_to.as_str()),
        ("username", "ada"),
        ("password", PW),
    ];
    let res = browser
        .post(form_action(&login))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    location(&res).unwrap()
}

/// The person opens the verification URI, signs in, and answers `decision`.
pub async fn answer(uri: &str, decision: &str) -> String {
    let browser = crate::helpers::browser();
    let back = sign_in(&browser, uri).await;
    let confirm = page_of(&browser, &back).await;
    assert!(confirm.contains("Living-room TV"), "{confirm}");
    let res = browser
        .post(form_action(&confirm))
        .form(&[
            (
                "csrf_token",
                hidden_field(&confirm, "csrf_token").unwrap().as_str(),
            ),
            (
                "user_code",
                hidden_field(&confirm, "user_code").unwrap().as_str(),
            ),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn the_device_flow(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(
        meta["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    assert!(meta["grant_types_supported"].to_string().contains(DEVICE));
    let id = device_client(&app);
    user(&app, "ada", PW);

    // The oauth2 crate as the device: codes, the person approves, polling gets tokens.
    let oauth = BasicClient::new(ClientId::new(id.clone()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(app.url("/device_authorization")).unwrap(),
        );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let details: StandardDeviceAuthorizationResponse = oauth
        .exchange_device_code()
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .expect("device authorization");
    let code = details.user_code().secret().clone();
    assert!(
        code.len() == 9
            && code
                .chars()
                .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{code}"
    );
    assert_eq!(details.verification_uri().as_str(), app.url("/device"));
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    let done = answer(&complete, "allow").await;
    assert!(done.contains("Device connected"), "{done}");
    let tokens = oauth
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(30)))
        .await
        .expect("device access token");
    assert!(tokens.refresh_token().is_some());
    let (_, claims) = crate::fixtures::jwt_parts(tokens.access_token().secret());
    assert_eq!(claims["client_id"], id.as_str());
    let (status, body) = poll(&app, &id, details.device_code().secret()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "single use: {body}"
    );

    // Polling before the answer, and too fast.
    let waiting = start(&app, &id).await;
    let dc = waiting["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&app, &id, dc).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(poll(&app, &id, dc).await.1["error"], "slow_down");
    // Another client cannot poll it; an unknown code is invalid.
    let other = device_client(&app);
    assert_eq!(poll(&app, &other, dc).await.1["error"], "invalid_grant");
    assert_eq!(
        poll(&app, &id, "nonsense").await.1["error"],
        "invalid_grant"
    );

    // Denied.
    let denied = start(&app, &id).await;
    let page = answer(
        denied["verification_uri_complete"].as_str().unwrap(),
        "deny",
    )
    .await;
    assert!(page.contains("denied"), "{page}");
    let (status, body) = poll(&app, &id, denied["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied")),
        "{body}"
    );

    // Guessing user codes is throttled per address.
    let browser = crate::helpers::browser();
    sign_in(&browser, &app.url("/device")).await;
    let mut last = 0;
    for _ in 0..31 {
        last = browser
            .get(app.url("/device?user_code=BCDF-GHJK"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}
both_backends!(device_grant, the_device_flow);

//! The account page over HTTP: signed-out browsers are sent to the login page; people end
//! their other sessions, take back an app's access (consent forgotten, refresh tokens
//! revoked), change their password (the current one checked, every other session ended)
//! and their profile; forms without the CSRF token are refused.

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{post_form, user};
use crate::helpers::{
    browser, code_request, exchange, hidden_field, is_consent_page, is_login_page, location,
    login_flow, page_of, query_param, TestApp,
};

/// Signs a new browser in to the account page; returns the browser and the page.
async fn signed_in(app: &TestApp, name: &str, password: &str) -> (reqwest::Client, String) {
    let http = browser();
    let page = page_of(&http, &app.url("/login?return_to=%2Faccount")).await;
    let res = http
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", hidden_field(&page, "csrf_token").unwrap()),
            ("return_to", "/account".into()),
            ("username", name.into()),
            ("password", password.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let account = page_of(&http, &app.url("/account")).await;
    assert!(account.contains("Your account"), "{account}");
    (http, account)
}

/// Posts an account form with the page's CSRF token.
async fn post(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form = vec![("csrf_token", hidden_field(page, "csrf_token").unwrap())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let res = http.post(app.url(path)).form(&form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

fn sids(page: &str) -> Vec<String> {
    page.split("name=\"sid\" value=\"")
        .skip(1)
        .map(|p| p[..p.find('"').unwrap()].to_string())
        .collect()
}

async fn the_account_page(app: TestApp) {
    user(&app, "eve", PW);
    // Not signed in: to the login page, which comes back here.
    let res = browser().get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res)
        .unwrap()
        .ends_with("/login?return_to=%2Faccount"));

    let (a, _) = signed_in(&app, "eve", PW).await;
    let (b, _) = signed_in(&app, "eve", PW).await;
    let page = page_of(&a, &app.url("/account")).await;
    // The other browser's session is listed with an End button; this one's is not.
    let other = sids(&page);
    assert_eq!(other.len(), 1, "{page}");
    let (status, _) = post(
        &app,
        &a,
        &page,
        "/account/sessions/end",
        &[("sid", &other[0])],
    )
    .await;
    assert_eq!(status, 200);
    let res = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303, "the ended session no longer signs in");
    // Without the CSRF token nothing happens.
    let res = a
        .post(app.url("/account/profile"))
        .form(&[("name", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The profile.
    let page = page_of(&a, &app.url("/account")).await;
    let (status, body) = post(
        &app,
        &a,
        &page,
        "/account/profile",
        &[("name", "Eve Example"), ("email", "eve@example.org")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("value=\"Eve Example\"") && body.contains("eve@example.org"));
    let (status, body) = post(
        &app,
        &a,
        &body,
        "/account/profile",
        &[("email", "not mail")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("role=\"alert\""), "{body}");

    // The password: the current one is required; changing it ends the other sessions.
    let (c, _) = signed_in(&app, "eve", PW).await;
    let page = page_of(&a, &app.url("/account")).await;
    let wrong = [
        ("current_password", "nope"),
        ("new_password", "a new long password"),
    ];
    let (status, body) = post(&app, &a, &page, "/account/password", &wrong).await;
    assert_eq!(status, 400);
    assert!(body.contains("not right"), "{body}");
    let right = [
        ("current_password", PW),
        ("new_password", "a new long password"),
    ];
    let (status, body) = post(&app, &a, &body, "/account/password", &right).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("signed out everywhere else"), "{body}");
    let res = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303, "the other session ended");
    let res = a.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 200, "this browser stays signed in");
    signed_in(&app, "eve", "a new long password").await;
    let audit = app.cli(&["audit", "--json"], None).stdout;
    for action in ["session.end", "user.password"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}
both_backends!(account_page, the_account_page);

async fn revoking_an_app(app: TestApp) {
    let c = web_client(&app, &["--scope", "openid offline_access"]);
    user(&app, "ivy", PW);
    let (http, _) = signed_in(&app, "ivy", PW).await;
    // The app gets a refresh token with the person's consent.
    let req = code_request(&app, &c.id, RP, "openid offline_access", &[]);
    let callback = login_flow(&http, &req.url, "ivy", PW).await;
    let code = query_param(&callback, "code").unwrap();
    let secret = c.secret.as_deref();
    let v = Some(req.pkce.verifier.as_str());
    let (status, tokens) = exchange(&app, &c.id, secret, &code, RP, v).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let page = page_of(&http, &app.url("/account")).await;
    assert!(page.contains("Photo Printer"), "the app is listed: {page}");
    let (status, body) = post(
        &app,
        &http,
        &page,
        "/account/apps/revoke",
        &[("client_id", &c.id)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no longer has access"), "{body}");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let auth = Some((c.id.as_str(), secret.unwrap()));
    let (status, body, _) = post_form(&app, "/token", auth, &form).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // The consent is forgotten: the app asks again.
    let req = code_request(&app, &c.id, RP, "openid offline_access", &[]);
    let page = page_of(&http, &req.url).await;
    assert!(is_consent_page(&page) && !is_login_page(&page), "{page}");
    // A second press changes nothing and says the same; the app is no longer listed.
    let account = page_of(&http, &app.url("/account")).await;
    let form = [("client_id", c.id.as_str())];
    let (status, body) = post(&app, &http, &account, "/account/apps/revoke", &form).await;
    assert_eq!(status, 200);
    assert!(!body.contains("Remove access of Photo Printer"), "{body}");
}
both_backends!(account_apps, revoking_an_app);

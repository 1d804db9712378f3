//! Disabling a user, changing a password and deleting a user behave the same through
//! every front door (the CLI, the admin API, the admin pages): the user's refresh tokens
//! stop working, their access tokens stop introspecting as active, and their browser
//! session ends. Enabling a disabled user again brings none of it back.

use reqwest::Method;
use serde_json::json;

use crate::admin_api::{admin_token, call};
use crate::admin_pages::{admin_user, get, post, sign_in, ADMIN_PW};
use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{post_form, user, Registered};
use crate::helpers::{
    browser, code_request, exchange, hidden_field, login_flow, query_param, TestApp,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Door {
    Cli,
    Api,
    Pages,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    Disable,
    Password,
    Delete,
}

/// What a signed-in user holds: a browser with a session, and a token pair.
struct Holdings {
    browser: reqwest::Client,
    refresh_token: String,
    access_token: String,
}

async fn sign_in_and_get_tokens(app: &TestApp, c: &Registered, name: &str) -> Holdings {
    let browser = browser();
    let req = code_request(app, &c.id, RP, "openid offline_access", &[]);
    let callback = login_flow(&browser, &req.url, name, PW).await;
    let code = query_param(&callback, "code").expect(&callback);
    let secret = c.secret.as_deref();
    let (status, body) = exchange(app, &c.id, secret, &code, RP, Some(&req.pkce.verifier)).await;
    assert_eq!(status, 200, "{body}");
    Holdings {
        browser,
        refresh_token: body["refresh_token"].as_str().unwrap().to_string(),
        access_token: body["access_token"].as_str().unwrap().to_string(),
    }
}

/// Whether each of the holdings still works: (refresh, access token active, session).
async fn still_works(app: &TestApp, c: &Registered, h: &Holdings) -> (bool, bool, bool) {
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", h.refresh_token.as_str()),
    ];
    let (refresh, _, _) = post_form(app, "/token", basic, &form).await;
    let form = [("token", h.access_token.as_str())];
    let (_, introspected, _) = post_form(app, "/introspect", basic, &form).await;
    let silent = code_request(app, &c.id, RP, "openid", &[("prompt", "none")]);
    let res = h.browser.get(&silent.url).send().await.unwrap();
    let to = res.headers()["location"].to_str().unwrap().to_string();
    (
        refresh == 200,
        introspected["active"] == true,
        query_param(&to, "code").is_some(),
    )
}

/// An administrator's browser on the admin pages, and the CSRF token they carry.
async fn admin_pages(app: &TestApp, admin: &str) -> (reqwest::Client, String) {
    let http = browser();
    admin_user(app, admin);
    assert_eq!(sign_in(app, &http, admin, ADMIN_PW).await.status(), 303);
    let (_, _, page) = get(&http, &app.url("/admin/users")).await;
    (http, hidden_field(&page, "csrf_token").unwrap())
}

/// Makes `change` to `name` through `door`; `enable` undoes a disabling.
async fn apply(app: &TestApp, door: Door, change: Change, name: &str, enable: bool) {
    match door {
        Door::Cli => {
            let (args, stdin): (Vec<&str>, _) = match (change, enable) {
                (Change::Disable, false) => (vec!["users", "disable", name], None),
                (Change::Disable, true) => (vec!["users", "enable", name], None),
                (Change::Password, _) => (
                    vec!["users", "set-password", name, "--password-stdin"],
                    Some("a brand new password\n"),
                ),
                (Change::Delete, _) => (vec!["users", "delete", name], None),
            };
            let out = app.cli(&args, stdin);
            assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        }
        Door::Api => {
            let (token, _) = admin_token(app).await;
            let path = format!("/admin/api/users/{name}");
            let (method, path, body) = match change {
                Change::Disable => (Method::PATCH, path, Some(json!({ "disabled": !enable }))),
                Change::Password => (
                    Method::POST,
                    format!("{path}/password"),
                    Some(json!({ "password": "a brand new password" })),
                ),
                Change::Delete => (Method::DELETE, path, None),
            };
            let (status, body, _) = call(app, method, &path, Some(&token), body).await;
            assert!(status == 200 || status == 204, "{status} {body}");
        }
        Door::Pages => {
            assert_eq!(change, Change::Disable, "the pages disable and enable only");
            let action = if enable { "enable" } else { "disable" };
            let (http, csrf) = admin_pages(app, &format!("{name}-{action}-admin")).await;
            let url = app.url(&format!("/admin/users/{action}"));
            let (status, _, page) =
                post(&http, &url, &[("csrf_token", &csrf), ("username", name)]).await;
            assert_eq!(status, 303, "{page}");
        }
    }
}

async fn every_door_ends_access_the_same_way(app: TestApp) {
    let c = web_client(&app, &[]);
    let cases = [
        (Door::Cli, Change::Disable),
        (Door::Cli, Change::Password),
        (Door::Cli, Change::Delete),
        (Door::Api, Change::Disable),
        (Door::Api, Change::Password),
        (Door::Api, Change::Delete),
        (Door::Pages, Change::Disable),
    ];
    for (n, (door, change)) in cases.into_iter().enumerate() {
        let name = format!("person{n}");
        user(&app, &name, PW);
        let h = sign_in_and_get_tokens(&app, &c, &name).await;
        assert_eq!(
            still_works(&app, &c, &h).await,
            (true, true, true),
            "{door:?}"
        );
        // The first refresh rotated the token; sign in afresh for a live pair.
        let h = sign_in_and_get_tokens(&app, &c, &name).await;
        apply(&app, door, change, &name, false).await;
        if change == Change::Disable {
            apply(&app, door, change, &name, true).await;
        }
        assert_eq!(
            still_works(&app, &c, &h).await,
            (false, false, false),
            "{door:?} {change:?}: refresh, access token and session all end"
        );
    }
}
both_backends!(front_doors, every_door_ends_access_the_same_way);

//! The admin web pages with a cookie-keeping client: signing in through the login page
//! (and back), 403 for non-admins, client and user management, the audit log, CSRF and
//! the security headers.

use reqwest::header::HeaderMap;

use gatehouse::oauth::store::prelude::*;

use crate::admin_api::{audit_log, event};
use crate::authorize::with_db;
use crate::both_backends;
use crate::fixtures::{post_form, user};
use crate::helpers::{
    alert_text, browser, form_action, hidden_field, is_login_page, location, TestApp,
};

pub const ADMIN_PW: &str = "an administrator's password";

/// `gatehouse users add NAME --admin`.
pub fn admin_user(app: &TestApp, name: &str) {
    let out = app.cli(
        &["users", "add", name, "--password-stdin", "--admin"],
        Some(&format!("{ADMIN_PW}\n")),
    );
    assert_eq!(out.code, 0, "users add --admin: {}", out.stderr);
}

/// A GET: status, headers, body.
pub async fn get(http: &reqwest::Client, url: &str) -> (u16, HeaderMap, String) {
    let res = http.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// A form post: status, `Location` (if any), body.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let res = http.post(url).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let loc = location(&res);
    (status, loc, res.text().await.unwrap())
}

/// The value of the element with this id (the shown client id and secret).
pub fn value_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\" value=\""))? + id.len() + 13;
    Some(html[start..start + html[start..].find('"')?].to_string())
}

/// Posts the login page's form (opened for `return_to`) with these credentials.
async fn submit(
    http: &reqwest::Client,
    page: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = hidden_field(page, "csrf_token").expect("a CSRF token");
    let to = hidden_field(page, "return_to").expect("a return_to field");
    http.post(form_action(page))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("return_to", to.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Visits `/admin` and signs in on the login page it leads to; returns the login's
/// response.
pub async fn sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let res = http.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (status, _, page) = get(http, &location(&res).unwrap()).await;
    assert_eq!(status, 200, "{page}");
    submit(http, &page, username, password).await
}

/// Signs in as a new administrator `name` on `app.http`.
pub async fn admin_session(app: &TestApp, name: &str) {
    admin_user(app, name);
    let res = sign_in(app, &app.http, name, ADMIN_PW).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).unwrap(), app.url("/admin"));
}

/// The CSRF token the admin pages carry.
async fn csrf(app: &TestApp) -> String {
    let (status, _, page) = get(&app.http, &app.url("/admin/clients")).await;
    assert_eq!(status, 200, "{page}");
    hidden_field(&page, "csrf_token").unwrap()
}

async fn token_status(app: &TestApp, id: &str, secret: &str) -> (u16, serde_json::Value) {
    let (status, body, _) = post_form(
        app,
        "/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    (status, body)
}

async fn visitors_without_a_session_sign_in_first(app: TestApp) {
    admin_user(&app, "ada");
    let login = |to: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", to)
            .finish();
        app.url(&format!("/login?{q}"))
    };
    for (path, back) in [
        ("/admin", "/admin"),
        ("/admin/clients?offset=0", "/admin/clients?offset=0"),
        ("/admin/audit", "/admin/audit"),
        ("/admin/no-such-page", "/admin/no-such-page"),
    ] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res).unwrap(), login(back), "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    // A form post without a session goes to the login for the admin home page.
    let (status, loc, _) = post(&app.http, &app.url("/admin/clients"), &[("x", "1")]).await;
    assert_eq!(
        (status, loc.as_deref()),
        (303, Some(login("/admin").as_str()))
    );
    // The admin API is routed first: still JSON and a Bearer challenge.
    let res = app
        .http
        .get(app.url("/admin/api/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));

    // The login page for the admin pages: the normal form, no authorization request.
    let (status, headers, page) = get(&app.http, &login("/admin/clients?offset=0")).await;
    assert_eq!(status, 200, "{page}");
    assert!(is_login_page(&page));
    assert!(page.contains("gatehouse administration"));
    assert_eq!(
        hidden_field(&page, "return_to").as_deref(),
        Some("/admin/clients?offset=0")
    );
    assert!(hidden_field(&page, "request").is_none());
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(form_action(&page), app.url("/login"));

    // A wrong password shows the form again, still returning to the same page.
    let res = submit(&app.http, &page, "ada", "not the password").await;
    assert_eq!(res.status(), 200);
    let again = res.text().await.unwrap();
    assert_eq!(
        alert_text(&again).as_deref(),
        Some(gatehouse::http::login::BAD_CREDENTIALS)
    );
    assert_eq!(
        hidden_field(&again, "return_to").as_deref(),
        Some("/admin/clients?offset=0")
    );
    let log = audit_log(&app);
    let failure = event(&log, "login.failure", "ada");
    assert_eq!(failure["detail"]["reason"], "wrong_password");

    // The right one: a session, and back where the visit started.
    let res = submit(&app.http, &again, "ada", ADMIN_PW).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).unwrap(), app.url("/admin/clients?offset=0"));
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("gh_session=")));
    let (status, _, page) = get(&app.http, &app.url("/admin/clients?offset=0")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in as <strong>ada</strong>"));
    // `/admin` itself leads to the client list.
    let res = app.http.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).unwrap(), app.url("/admin/clients"));
    let (status, _, page) = get(&app.http, &app.url("/admin/no-such-page")).await;
    assert_eq!(status, 404, "{page}");
}
both_backends!(sign_in_first, visitors_without_a_session_sign_in_first);

async fn return_to_is_only_ever_an_admin_page(app: TestApp) {
    admin_user(&app, "ada");
    let http = browser();
    let (_, _, page) = get(&http, &app.url("/login?return_to=%2Fadmin")).await;
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    for bad in [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example/admin",
        "/admin/../token",
        "/admin/%2e%2e/token",
        "/adminx",
        "/admin/api/clients",
        "javascript:alert(1)",
    ] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", bad)
            .finish();
        let (status, _, _) = get(&http, &app.url(&format!("/login?{q}"))).await;
        assert_eq!(status, 400, "GET {bad}");
        let res = http
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("return_to", bad),
                ("username", "ada"),
                ("password", ADMIN_PW),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "POST {bad}");
        assert!(location(&res).is_none());
        assert!(
            res.headers().get("set-cookie").is_none(),
            "no session for {bad}"
        );
    }
    // No return_to and no authorization request: nothing to sign in to.
    let (status, _, _) = get(&http, &app.url("/login")).await;
    assert_eq!(status, 400);
}
both_backends!(return_to_checked, return_to_is_only_ever_an_admin_page);

async fn non_admins_and_disabled_admins_get_403(app: TestApp) {
    user(&app, "nina", "nina's long password");
    let res = sign_in(&app, &app.http, "nina", "nina's long password").await;
    // The login itself works; the pages do not.
    assert_eq!(res.status(), 303);
    for path in ["/admin", "/admin/clients", "/admin/users", "/admin/audit"] {
        let (status, headers, page) = get(&app.http, &app.url(path)).await;
        assert_eq!(status, 403, "{path}");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(headers["x-frame-options"], "DENY");
        let alert = alert_text(&page).unwrap();
        assert!(alert.contains("not an administrator"), "{alert}");
        assert!(page.contains("Sign in as a different user"));
    }
    let (status, _, _) = post(&app.http, &app.url("/admin/users/disable"), &[]).await;
    assert_eq!(status, 403);

    // An administrator who is disabled while signed in is refused at once.
    let http = browser();
    admin_user(&app, "ada");
    assert_eq!(sign_in(&app, &http, "ada", ADMIN_PW).await.status(), 303);
    assert_eq!(get(&http, &app.url("/admin/clients")).await.0, 200);
    let out = app.cli(&["users", "disable", "ada"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Disabling ended the session: the next page asks to sign in again.
    let (status, headers, _) = get(&http, &app.url("/admin/clients")).await;
    assert_eq!(status, 303);
    assert!(headers["location"].to_str().unwrap().contains("/login"));
}
both_backends!(forbidden, non_admins_and_disabled_admins_get_403);

async fn admins_manage_clients(app: TestApp) {
    admin_session(&app, "ada").await;
    let (status, _, page) = get(&app.http, &app.url("/admin/clients")).await;
    assert_eq!(status, 200);
    assert!(page.contains("No clients are registered"));
    for odd in [
        "offset=9223372036854775807",
        "offset=-5",
        "offset=x",
        "offset=1&offset=2",
    ] {
        let (status, _, _) = get(&app.http, &app.url(&format!("/admin/clients?{odd}"))).await;
        assert_eq!(status, 200, "{odd}");
    }
    let (status, _, form) = get(&app.http, &app.url("/admin/clients/new")).await;
    assert_eq!(status, 200);
    assert!(form.contains("<label for=\"client_name\">"));
    let csrf = hidden_field(&form, "csrf_token").unwrap();

    // Create: the secret is shown once, and works.
    let (status, _, created) = post(
        &app.http,
        &app.url("/admin/clients"),
        &[
            ("csrf_token", &csrf),
            ("client_name", "Nightly Reports"),
            ("redirect_uris", ""),
            ("grant_client_credentials", "on"),
            ("scope", "reports:read"),
            ("auth_method", "client_secret_basic"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = value_of(&created, "client-id").expect("the client id is shown");
    let secret = value_of(&created, "client-secret").expect("the secret is shown");
    assert!(created.contains("data-copy=\"client-secret\""));
    let (status, body) = token_status(&app, &id, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "reports:read");
    // Listed, but the secret is not shown again.
    let (_, _, list) = get(&app.http, &app.url("/admin/clients")).await;
    assert!(list.contains("Nightly Reports") && list.contains(&id));
    assert!(!list.contains(&secret));
    let (status, _, edit) = get(&app.http, &app.url(&format!("/admin/clients/{id}"))).await;
    assert_eq!(status, 200);
    assert!(edit.contains("value=\"Nightly Reports\""));
    assert!(!edit.contains(&secret));

    // A refused change comes back with the reason, on the field, and what was entered.
    let edit_url = app.url(&format!("/admin/clients/{id}"));
    let (status, _, refused) = post(
        &app.http,
        &edit_url,
        &[
            ("csrf_token", &csrf),
            ("client_name", "Nightly Reports"),
            ("redirect_uris", "http://evil.example/cb"),
            ("grant_authorization_code", "on"),
            ("scope", "reports:read"),
            ("auth_method", "client_secret_basic"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let alert = alert_text(&refused).unwrap();
    assert!(alert.starts_with("Redirect URIs:"), "{alert}");
    assert!(refused.contains("http://evil.example/cb</textarea>"));
    assert!(refused
        .contains("aria-describedby=\"redirect_uris-hint form-error\" aria-invalid=\"true\""));

    // Edit.
    let (status, loc, _) = post(
        &app.http,
        &edit_url,
        &[
            ("csrf_token", &csrf),
            ("client_name", "Reports"),
            ("grant_client_credentials", "on"),
            ("scope", "reports:read reports:write"),
            ("auth_method", "client_secret_post"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(loc.unwrap(), format!("{edit_url}?notice=client-saved"));
    let (_, _, page) = get(&app.http, &format!("{edit_url}?notice=client-saved")).await;
    assert!(page.contains("The client was saved."));
    let cid = id.clone();
    let stored = with_db(&app, move |c| c.find_client(&cid).unwrap().unwrap()).await;
    assert_eq!(stored.name, "Reports");
    assert_eq!(stored.scopes.to_string(), "reports:read reports:write");
    assert_eq!(stored.auth_method.as_str(), "client_secret_post");
    // The secret was kept.
    let (status, _, _) = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "reports:write"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // Rotate: the new secret works, the old one stops.
    let (status, _, rotated) = post(
        &app.http,
        &app.url(&format!("/admin/clients/{id}/rotate-secret")),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = value_of(&rotated, "client-secret").unwrap();
    assert_ne!(new_secret, secret);
    let post_secret = |s: String| {
        let id = id.clone();
        let app = &app;
        async move {
            post_form(
                app,
                "/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &s),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(post_secret(new_secret.clone()).await, 200);
    assert_eq!(post_secret(secret.clone()).await, 401);

    // Delete, behind a confirmation page.
    let delete_url = app.url(&format!("/admin/clients/{id}/delete"));
    let (status, _, confirm) = get(&app.http, &delete_url).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Delete Reports?"));
    assert!(confirm.contains(&format!("action=\"{delete_url}\"")));
    let (status, loc, _) = post(&app.http, &delete_url, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(
        loc.unwrap(),
        app.url("/admin/clients?notice=client-deleted")
    );
    let (_, _, list) = get(&app.http, &app.url("/admin/clients?notice=client-deleted")).await;
    assert!(list.contains("The client was deleted.") && !list.contains(&id));
    assert_eq!(get(&app.http, &edit_url).await.0, 404);
    assert_eq!(post_secret(new_secret).await, 401);

    // Every change is audited as the signed-in user, from their address, without secrets.
    let log = audit_log(&app);
    for action in [
        "client.create",
        "client.update",
        "client.secret_rotate",
        "client.delete",
    ] {
        let e = event(&log, action, &id);
        assert_eq!(e["actor"], "user:ada", "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        assert!(!e.to_string().contains(&secret));
    }
    // And the audit page shows them, newest first.
    let (status, _, audit) = get(&app.http, &app.url("/admin/audit")).await;
    assert_eq!(status, 200);
    let at = |s: &str| {
        audit
            .find(s)
            .unwrap_or_else(|| panic!("{s} on the audit page"))
    };
    assert!(at("client.delete") < at("client.secret_rotate"));
    assert!(at("client.secret_rotate") < at("client.update"));
    assert!(at("client.update") < at("client.create"));
    assert!(audit.contains("user:ada"));
}
both_backends!(clients, admins_manage_clients);

async fn the_client_form_sets_logout_uris_and_audiences(app: TestApp) {
    admin_session(&app, "ada").await;
    let csrf = csrf(&app).await;
    let fields = |logout: &'static str| {
        vec![
            ("client_name", "Shop"),
            ("redirect_uris", "https://shop.example/cb"),
            ("post_logout_redirect_uris", logout),
            (
                "audience",
                "https://api.shop.example  https://img.shop.example",
            ),
            ("auth_method", "client_secret_basic"),
        ]
    };
    let mut form = fields("https://shop.example/bye");
    form.push(("csrf_token", &csrf));
    let (status, _, created) = post(&app.http, &app.url("/admin/clients"), &form).await;
    assert_eq!(status, 200, "{created}");
    let id = value_of(&created, "client-id").unwrap();
    let out = app.cli(&["clients", "show", "--", &id], None);
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        shown["post_logout_redirect_uris"],
        serde_json::json!(["https://shop.example/bye"])
    );
    assert_eq!(
        shown["audience"],
        "https://api.shop.example https://img.shop.example"
    );
    let (_, _, edit) = get(&app.http, &app.url(&format!("/admin/clients/{id}"))).await;
    assert!(
        edit.contains("https://shop.example/bye"),
        "the edit page shows them"
    );

    // A bad post-logout URI is refused on its own field.
    let mut form = fields("http://evil.example/bye");
    form.push(("csrf_token", &csrf));
    let (status, _, refused) =
        post(&app.http, &app.url(&format!("/admin/clients/{id}")), &form).await;
    assert_eq!(status, 400, "{refused}");
    let tag_of = |id: &str| {
        let start = refused
            .find(&format!("<textarea id=\"{id}\""))
            .expect("the field");
        refused[start..start + refused[start..].find('>').unwrap()].to_string()
    };
    assert!(tag_of("post_logout_redirect_uris").contains("aria-invalid=\"true\""));
    assert!(
        !tag_of("redirect_uris").contains("aria-invalid"),
        "only the offending field"
    );
}
both_backends!(
    client_form_extras,
    the_client_form_sets_logout_uris_and_audiences
);

async fn admins_manage_users(app: TestApp) {
    admin_session(&app, "ada").await;
    let (status, _, form) = get(&app.http, &app.url("/admin/users/new")).await;
    assert_eq!(status, 200);
    assert!(form.contains("autocomplete=\"new-password\""));
    let csrf = hidden_field(&form, "csrf_token").unwrap();
    let users = app.url("/admin/users");
    let new_user = |name: &'static str, pw: &'static str| {
        let csrf = csrf.clone();
        let http = &app.http;
        let users = users.clone();
        async move {
            post(
                http,
                &users,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("username", name),
                    ("password", pw),
                    ("email", "carl@example.com"),
                    ("name", "Carl"),
                ],
            )
            .await
        }
    };
    let (status, loc, _) = new_user("carl", "carl's long password").await;
    assert_eq!(status, 303);
    assert_eq!(loc.unwrap(), app.url("/admin/users?notice=user-created"));
    let (_, _, list) = get(&app.http, &app.url("/admin/users?notice=user-created")).await;
    assert!(list.contains("The user was created."));
    assert!(list.contains("carl@example.com"));
    // Refusals come back on the form, without the password.
    let (status, _, page) = new_user("carl", "carl's long password").await;
    assert_eq!(status, 409);
    assert!(alert_text(&page).unwrap().contains("already exists"));
    assert!(!page.contains("carl's long password"));
    let (status, _, page) = new_user("dora", "short").await;
    assert_eq!(status, 400);
    assert!(alert_text(&page).unwrap().starts_with("Password:"));
    assert!(page.contains("value=\"dora\""));
    // Search.
    let (_, _, found) = get(&app.http, &app.url("/admin/users?q=carl")).await;
    assert!(found.contains("carl@example.com") && found.contains("1 user"));

    // Carl can sign in (and, not being an administrator, sees 403).
    let carl = browser();
    assert_eq!(
        sign_in(&app, &carl, "carl", "carl's long password")
            .await
            .status(),
        303
    );
    assert_eq!(get(&carl, &app.url("/admin")).await.0, 403);

    // Disable and enable.
    let (status, loc, _) = post(
        &app.http,
        &app.url("/admin/users/disable"),
        &[("csrf_token", &csrf), ("username", "carl")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(loc.unwrap(), app.url("/admin/users?notice=user-disabled"));
    let disabled = with_db(&app, |c| c.find_user_by_name("carl").unwrap().unwrap()).await;
    assert!(disabled.disabled);
    let (_, _, list) = get(&app.http, &app.url("/admin/users")).await;
    assert!(list.contains("Disabled"));
    assert!(list.contains("Enable<span class=\"sr-only\"> carl</span>"));
    // Carl's session ended with the disabling.
    let (status, headers, _) = get(&carl, &app.url("/admin")).await;
    assert_eq!(status, 303);
    assert!(headers["location"].to_str().unwrap().contains("/login"));
    let (status, loc, _) = post(
        &app.http,
        &app.url("/admin/users/enable"),
        &[("csrf_token", &csrf), ("username", "carl")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(loc.unwrap(), app.url("/admin/users?notice=user-enabled"));
    let enabled = with_db(&app, |c| c.find_user_by_name("carl").unwrap().unwrap()).await;
    assert!(!enabled.disabled);
    // Carl lost his phone: his factors go, audited.
    let recovery = with_db(&app, move |c| {
        let actor = gatehouse::app::Actor::cli();
        gatehouse::app::factors::new_recovery_codes(c, &actor, &enabled.id, 1).unwrap()
    })
    .await;
    assert_eq!(recovery.len(), 10);
    let (status, loc, _) = post(
        &app.http,
        &app.url("/admin/users/reset-factors"),
        &[("csrf_token", &csrf), ("username", "carl")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(loc.unwrap(), app.url("/admin/users?notice=factors-reset"));
    let left = with_db(&app, |c| {
        let id = c.find_user_by_name("carl").unwrap().unwrap().id;
        c.list_factors(&id).unwrap().len()
    })
    .await;
    assert_eq!(left, 0);
    let (status, _, _) = post(
        &app.http,
        &app.url("/admin/users/reset-factors"),
        &[("csrf_token", &csrf), ("username", "nobody")],
    )
    .await;
    assert_eq!(status, 404);
    // Unknown users, and one's own account.
    let (status, _, _) = post(
        &app.http,
        &app.url("/admin/users/disable"),
        &[("csrf_token", &csrf), ("username", "nobody")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post(
        &app.http,
        &app.url("/admin/users/disable"),
        &[("csrf_token", &csrf), ("username", "ada")],
    )
    .await;
    assert_eq!(status, 409);

    let log = audit_log(&app);
    for action in ["user.create", "user.disable", "user.enable"] {
        let e = event(&log, action, "carl");
        assert_eq!(e["actor"], "user:ada", "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
    }
    assert!(!log.iter().any(|e| e["target"] == "dora"));
    let (_, _, audit) = get(&app.http, &app.url("/admin/audit")).await;
    assert!(audit.find("user.enable").unwrap() < audit.find("user.create").unwrap());
}
both_backends!(users, admins_manage_users);

async fn admin_forms_need_the_csrf_token(app: TestApp) {
    admin_session(&app, "ada").await;
    user(&app, "carl", "carl's long password");
    let token = csrf(&app).await;
    let forged = "forged-token-forged-token-forged-token-abcd";
    let client_form = |t: Option<&'static str>| {
        let mut f = vec![
            ("client_name", "Sneaky"),
            ("grant_client_credentials", "on"),
        ];
        if let Some(t) = t {
            f.push(("csrf_token", t));
        }
        f
    };
    for t in [None, Some(forged)] {
        let (status, _, page) = post(&app.http, &app.url("/admin/clients"), &client_form(t)).await;
        assert_eq!(status, 403, "{t:?}");
        assert!(alert_text(&page).is_some());
        let (status, _, _) = post(
            &app.http,
            &app.url("/admin/users/disable"),
            &[("username", "carl"), ("csrf_token", t.unwrap_or(""))],
        )
        .await;
        assert_eq!(status, 403, "{t:?}");
    }
    assert_eq!(with_db(&app, |c| c.count_clients().unwrap()).await, 0);
    let carl = with_db(&app, |c| c.find_user_by_name("carl").unwrap().unwrap()).await;
    assert!(!carl.disabled);
    // The page's token works.
    let form: Vec<(&str, &str)> = vec![
        ("client_name", "Fine"),
        ("grant_client_credentials", "on"),
        ("csrf_token", &token),
    ];
    let (status, _, _) = post(&app.http, &app.url("/admin/clients"), &form).await;
    assert_eq!(status, 200);
    assert_eq!(with_db(&app, |c| c.count_clients().unwrap()).await, 1);
}
both_backends!(csrf_required, admin_forms_need_the_csrf_token);

/// Whether an element has an inline `on…=` handler attribute.
fn has_event_handler(page: &str) -> bool {
    page.match_indices(" on").any(|(i, _)| {
        let rest = &page[i + 3..];
        let name_len = rest.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(0);
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

/// Every `id` of a visible form control has a `<label for>`.
fn assert_labelled(page: &str, path: &str) {
    for tag in ["<input ", "<select ", "<textarea "] {
        for (i, _) in page.match_indices(tag) {
            let element = &page[i..i + page[i..].find('>').unwrap()];
            if element.contains("type=\"hidden\"") {
                continue;
            }
            let id = element
                .split("id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("{path}: a control without an id: {element}"));
            assert!(
                page.contains(&format!("<label for=\"{id}\"")),
                "{path}: no label for #{id}"
            );
        }
    }
}

async fn admin_pages_carry_security_headers(app: TestApp) {
    admin_session(&app, "ada").await;
    let token = csrf(&app).await;
    let (_, _, created) = post(
        &app.http,
        &app.url("/admin/clients"),
        &[
            ("csrf_token", &token),
            ("client_name", "Web app"),
            ("redirect_uris", "https://app.example/cb"),
        ],
    )
    .await;
    let id = value_of(&created, "client-id").unwrap();
    let pages = [
        "/admin/clients".to_string(),
        "/admin/clients/new".to_string(),
        format!("/admin/clients/{id}"),
        format!("/admin/clients/{id}/delete"),
        "/admin/users".to_string(),
        "/admin/users/new".to_string(),
        "/admin/resources".to_string(),
        "/admin/audit".to_string(),
    ];
    for path in &pages {
        let (status, h, page) = get(&app.http, &app.url(path)).await;
        assert_eq!(status, 200, "{path}: {page}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        // No inline script or style; the one script is the external file.
        assert_eq!(page.matches("<script").count(), 1, "{path}");
        assert!(page.contains(&format!(
            "<script src=\"{}\" defer></script>",
            app.url("/static/admin.js")
        )));
        assert!(
            !page.contains("style=") && !page.contains("<style"),
            "{path}"
        );
        assert!(!has_event_handler(&page), "{path}: an inline event handler");
        // Every form post carries the token.
        let posts = page.matches("method=\"post\"").count();
        assert!(posts >= 1, "{path}: at least the sign-out form");
        assert_eq!(page.matches("name=\"csrf_token\"").count(), posts, "{path}");
        // Every URL is the issuer's.
        for attr in ["href=\"", "action=\"", "src=\""] {
            for (i, _) in page.match_indices(attr) {
                let v = &page[i + attr.len()..];
                let v = &v[..v.find('"').unwrap()];
                assert!(v.starts_with(&app.issuer), "{path}: {attr}{v}");
            }
        }
        assert!(page.contains("<h1>"), "{path}");
        assert!(page.contains("<nav aria-label=\"Administration\">"));
        assert!(page.contains("aria-current=\"page\""), "{path}");
        assert_labelled(&page, path);
    }
    // The script is served like the stylesheet.
    let res = app
        .http
        .get(app.url("/static/admin.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(res.text().await.unwrap().contains("data-copy"));
    // The login pages run the passkey script from this server, and nothing inline.
    let (_, h, _) = get(&browser(), &app.url("/login?return_to=%2Fadmin")).await;
    let policy = h["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}
both_backends!(security_headers, admin_pages_carry_security_headers);

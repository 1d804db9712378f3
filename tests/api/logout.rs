//! RP-Initiated Logout 1.0 at the end_session_endpoint.

use crate::authorize::{error_of, get_code, redeem, web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::user;
use crate::helpers::{code_request, hidden_field, location, login_flow, TestApp};

async fn logout_ends_the_session(app: TestApp) {
    let bye = "https://rp.example/bye";
    let c = web_client(&app, &["--skip-consent", "--post-logout-redirect-uri", bye]);
    user(&app, "pia", PW);
    let (code, req) = get_code(&app, &c, "pia", "openid").await;
    let id_token = redeem(&app, &c, &code, &req.pkce.verifier).await.1["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let sessions = |app: &TestApp| {
        let db = app.services.db.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                use diesel::prelude::*;
                gatehouse::db::schema::login_sessions::table
                    .count()
                    .get_result::<i64>(&mut *db.conn().unwrap())
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(sessions(&app).await, 1);

    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", bye)
        .append_pair("state", "st-1");
    let res = app.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).unwrap(), format!("{bye}?state=st-1"));
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("gh_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(sessions(&app).await, 0, "deleted from the database");
    let silent = code_request(&app, &c.id, RP, "openid", &[("prompt", "none")]);
    let res = app.http.get(&silent.url).send().await.unwrap();
    assert_eq!(error_of(&res).0, "login_required");

    // An unregistered post-logout URI: the session ends, but no redirect.
    login_flow(&app.http, &req.url, "pia", PW).await;
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let res = app.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(location(&res).is_none());
    assert!(res.text().await.unwrap().contains("signed out"));
    assert_eq!(sessions(&app).await, 0);

    // Without a hint: a confirmation page first, then the redirect.
    login_flow(&app.http, &req.url, "pia", PW).await;
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &c.id)
        .append_pair("post_logout_redirect_uri", bye)
        .append_pair("state", "st-2");
    let res = app.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' https://rp.example"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert_eq!(sessions(&app).await, 1, "not ended before confirmation");
    let form = [
        ("csrf_token", hidden_field(&page, "csrf_token").unwrap()),
        ("request", hidden_field(&page, "request").unwrap()),
        ("decision", "logout".to_string()),
    ];
    let res = app
        .http
        .post(app.url("/logout"))
        .form(&form[1..])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "CSRF token required");
    let res = app
        .http
        .post(app.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).unwrap(), format!("{bye}?state=st-2"));
    assert_eq!(sessions(&app).await, 0);
}
both_backends!(logout, logout_ends_the_session);

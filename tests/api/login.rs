//! The login and consent pages: security headers and cookies, CSRF, wrong credentials,
//! disabled users, throttling, and `prompt=login` across the consent page.

use gatehouse::oauth::store::prelude::*;

use crate::authorize::{error_of, redeem, web_client, with_db, PW, RP};
use crate::both_backends;
use crate::fixtures::{jwt_parts, user};
use crate::helpers::{
    alert_text, browser, code_request, hidden_field, is_consent_page, is_login_page, location,
    login_flow, query_param, submit_consent, submit_login, TestApp,
};

async fn pages_carry_security_headers_and_cookies(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "bea", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[("login_hint", "bea")]);
    let res = app.http.get(&req.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' https://rp.example"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let csrf = h["set-cookie"].to_str().unwrap();
    assert!(csrf.starts_with("gh_csrf="), "{csrf}");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict") && csrf.contains("Path=/")
    );
    assert!(!csrf.contains("Secure"), "the test issuer is http");
    let page = res.text().await.unwrap();
    assert!(page.contains("Photo Printer"), "the client's name");
    assert!(
        page.contains("value=\"bea\""),
        "login_hint prefills the username"
    );
    assert!(page.contains("<label for=\"username\">") && page.contains("<label for=\"password\">"));
    assert!(page.contains("autocomplete=\"current-password\""));
    // The one script is the passkey script, from this server; nothing inline.
    let scripts: Vec<&str> = page.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{page}");
    assert!(scripts[0].starts_with(" src=\"/static/passkey.js\" defer></script>"));
    assert!(!page.contains("style="), "no inline style");
    assert!(page.contains(&format!("action=\"{}/login\"", app.issuer)));

    let res = submit_login(&app.http, &page, "bea", PW).await;
    assert_eq!(res.status(), 200);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("gh_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/")
    );
    let page = res.text().await.unwrap();
    assert!(is_consent_page(&page));
    assert!(page.contains("Confirm who you are"));
    assert!(page.contains("value=\"deny\""));
}
both_backends!(page_headers, pages_carry_security_headers_and_cookies);

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "hugo", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let page = app.page(&req.url).await;
    let request = hidden_field(&page, "request").unwrap();
    let login = format!("{}/login", app.issuer);
    for token in [None, Some("forged-token-forged-token-forged-token-abcd")] {
        let mut form = vec![
            ("request", request.as_str()),
            ("username", "hugo"),
            ("password", PW),
        ];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let res = app.http.post(&login).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 403, "{token:?}");
        assert!(res.headers().get("set-cookie").is_none(), "no session");
    }
    // The right token from a browser without the cookie is refused too.
    let token = hidden_field(&page, "csrf_token").unwrap();
    let form = [
        ("request", request.as_str()),
        ("csrf_token", &token),
        ("username", "hugo"),
        ("password", PW),
    ];
    let res = browser().post(&login).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // And on the consent form.
    let page = submit_login(&app.http, &page, "hugo", PW)
        .await
        .text()
        .await
        .unwrap();
    assert!(is_consent_page(&page));
    let res = app
        .http
        .post(format!("{}/consent", app.issuer))
        .form(&[("request", request.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
both_backends!(csrf, forms_without_the_csrf_token_are_refused);

async fn login_failures_say_the_same_and_disabled_users_stay_out(app: TestApp) {
    let c = web_client(&app, &["--skip-consent"]);
    user(&app, "ivy", PW);
    user(&app, "jack", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let page = app.page(&req.url).await;
    let mut seen = Vec::new();
    for (name, pw) in [("ivy", "wrong password"), ("nobody-here", "wrong password")] {
        let res = submit_login(&app.http, &page, name, pw).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("set-cookie").is_none());
        let html = res.text().await.unwrap();
        assert!(is_login_page(&html));
        seen.push(alert_text(&html).unwrap());
    }
    assert_eq!(
        seen[0], seen[1],
        "unknown users and wrong passwords look alike"
    );
    assert_eq!(seen[0], "The username or password is incorrect.");

    // jack signs in, then is disabled: his session stops counting and he cannot sign in.
    let callback = login_flow(&app.http, &req.url, "jack", PW).await;
    assert!(query_param(&callback, "code").is_some());
    let out = app.cli(&["users", "disable", "jack"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let silent = code_request(&app, &c.id, RP, "openid", &[("prompt", "none")]);
    let res = app.http.get(&silent.url).send().await.unwrap();
    assert_eq!(error_of(&res).0, "login_required");
    // The login rotated the form tokens: a page from before it no longer posts.
    assert_eq!(
        submit_login(&app.http, &page, "jack", PW).await.status(),
        403
    );
    let page = app.page(&req.url).await;
    let res = submit_login(&app.http, &page, "jack", PW).await;
    assert_eq!(res.status(), 200);
    assert!(location(&res).is_none());
    let html = res.text().await.unwrap();
    assert!(alert_text(&html).unwrap().contains("disabled"), "{html}");

    let events = with_db(&app, |c| c.list_events(None, 100).unwrap()).await;
    let failures: Vec<_> = events
        .iter()
        .filter(|e| e.action == "login.failure")
        .collect();
    assert_eq!(failures.len(), 3, "{events:?}");
    assert!(failures
        .iter()
        .all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    assert!(failures
        .iter()
        .any(|e| e.target.as_deref() == Some("nobody-here")));
}
both_backends!(
    login_failures,
    login_failures_say_the_same_and_disabled_users_stay_out
);

async fn repeated_failures_are_throttled(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "kim", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let page = app.page(&req.url).await;
    let mut first_throttled = None;
    for attempt in 1..=10 {
        let res = submit_login(&app.http, &page, "kim", "not the password").await;
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
            first_throttled = Some(attempt);
            break;
        }
        assert_eq!(res.status(), 200, "attempt {attempt}");
    }
    let first = first_throttled.expect("throttled within 10 attempts");
    assert!(
        first > 5,
        "five failures are free, got throttled at {first}"
    );
    // While blocked even the right password is refused, without being checked.
    let res = submit_login(&app.http, &page, "kim", PW).await;
    assert_eq!(res.status(), 429);
    let html = res.text().await.unwrap();
    assert!(alert_text(&html).unwrap().contains("Too many"), "{html}");
    let n: i32 = with_db(&app, |c| {
        use diesel::prelude::*;
        use gatehouse::db::schema::login_failures::dsl::*;
        login_failures
            .filter(throttle_key.eq(gatehouse::domain::throttle::user_key("kim")))
            .select(failures)
            .first(c)
            .unwrap()
    })
    .await;
    assert!(n >= 5, "the count lives in the database: {n}");
}
both_backends!(throttling, repeated_failures_are_throttled);

/// One address failing for many accounts is throttled too, but later than one account.
async fn one_address_failing_for_many_accounts_is_throttled(app: TestApp) {
    let c = web_client(&app, &[]);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let page = app.page(&req.url).await;
    let mut first_throttled = None;
    for attempt in 1..=25 {
        // A new (unknown) account every time: only the address counter grows.
        let res = submit_login(
            &app.http,
            &page,
            &format!("guess{attempt}"),
            "not the password",
        )
        .await;
        if res.status() == 429 {
            first_throttled = Some(attempt);
            break;
        }
        assert_eq!(res.status(), 200, "attempt {attempt}");
    }
    let first = first_throttled.expect("throttled within 25 attempts");
    assert!(
        first > 20,
        "twenty failures from one address are free, got throttled at {first}"
    );
}
both_backends!(
    address_throttling,
    one_address_failing_for_many_accounts_is_throttled
);

async fn prompt_login_is_satisfied_on_the_consent_page_only_with_the_sealed_proof(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "rosa", PW);
    let (code, req) = crate::authorize::get_code(&app, &c, "rosa", "openid").await;
    let t1 = jwt_parts(
        redeem(&app, &c, &code, &req.pkce.verifier).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .1["auth_time"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // New scope (consent needed) and prompt=login: login page, then the consent page.
    let req = code_request(&app, &c.id, RP, "openid email", &[("prompt", "login")]);
    let page = app.page(&req.url).await;
    assert!(is_login_page(&page));
    let consent = submit_login(&app.http, &page, "rosa", PW)
        .await
        .text()
        .await
        .unwrap();
    assert!(is_consent_page(&consent));
    assert!(hidden_field(&consent, "login_proof").is_some());

    // Without the proof, the consent post cannot claim the login was for this request.
    let forged = [
        ("csrf_token", hidden_field(&consent, "csrf_token").unwrap()),
        ("request", hidden_field(&consent, "request").unwrap()),
        ("decision", "allow".to_string()),
    ];
    let res = app
        .http
        .post(app.url("/consent"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        is_login_page(&res.text().await.unwrap()),
        "asked to sign in again"
    );
    // A proof sealed to another request does not count either.
    let other = code_request(&app, &c.id, RP, "openid email", &[("prompt", "login")]);
    let mut moved = forged.clone();
    moved[1].1 = hidden_field(&consent, "request")
        .unwrap()
        .replace(&req.state, &other.state);
    let mut with_proof = moved.to_vec();
    with_proof.push((
        "login_proof",
        hidden_field(&consent, "login_proof").unwrap(),
    ));
    let res = app
        .http
        .post(app.url("/consent"))
        .form(&with_proof)
        .send()
        .await
        .unwrap();
    assert!(is_login_page(&res.text().await.unwrap()));

    let res = submit_consent(&app.http, &consent, "allow").await;
    assert_eq!(res.status(), 303);
    let loc = location(&res).unwrap();
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some(req.state.as_str())
    );
    let code = query_param(&loc, "code").expect("a code");
    let t2 = jwt_parts(
        redeem(&app, &c, &code, &req.pkce.verifier).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .1["auth_time"]
        .as_i64()
        .unwrap();
    assert!(t2 > t1, "{t2} > {t1}");
}
both_backends!(
    prompt_login_consent,
    prompt_login_is_satisfied_on_the_consent_page_only_with_the_sealed_proof
);

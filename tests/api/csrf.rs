//! Cross-site request forgery: a form token is good only with a CSRF cookie the server
//! issued, for the session it was made for, and from the server's own pages.

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::user;
use crate::helpers::{browser, code_request, hidden_field, is_consent_page, page_of, TestApp};

/// A client that keeps no cookies: the test says exactly which ones it sends.
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of each cookie a response sets.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect()
}

fn cookie<'a>(jar: &'a [String], name: &str) -> &'a str {
    jar.iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {jar:?}"))
}

async fn forged_and_foreign_form_tokens_are_refused(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "kim", PW);
    let req = code_request(&app, &c.id, RP, "openid", &[]);
    let login = app.url("/login");
    let consent = app.url("/consent");

    // The attacker's own visit: a real CSRF cookie and its token, with no session.
    let res = bare().get(&req.url).send().await.unwrap();
    let attacker_jar = set_cookies(&res);
    let attacker_csrf = cookie(&attacker_jar, "gh_csrf").to_string();
    let page = res.text().await.unwrap();
    let attacker_token = hidden_field(&page, "csrf_token").unwrap();
    let request = hidden_field(&page, "request").unwrap();

    // A planted cookie the server never issued is not adopted, whatever the field says.
    let planted = gatehouse::crypto::random_token(32);
    let form = [
        ("request", request.as_str()),
        ("csrf_token", planted.as_str()),
        ("username", "kim"),
        ("password", PW),
    ];
    let res = bare()
        .post(&login)
        .header("cookie", format!("gh_csrf={planted}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a planted cookie");

    // The victim signs in and reaches the consent page.
    let victim = browser();
    let page = page_of(&victim, &req.url).await;
    let token = hidden_field(&page, "csrf_token").unwrap();
    let form = [
        ("request", request.as_str()),
        ("csrf_token", token.as_str()),
        ("username", "kim"),
        ("password", PW),
    ];
    let res = victim.post(&login).form(&form).send().await.unwrap();
    let victim_jar = set_cookies(&res);
    let session = cookie(&victim_jar, "gh_session").to_string();
    let victim_csrf = cookie(&victim_jar, "gh_csrf").to_string();
    let page = res.text().await.unwrap();
    assert!(is_consent_page(&page));
    let consent_token = hidden_field(&page, "csrf_token").unwrap();
    assert_ne!(
        victim_csrf, attacker_csrf,
        "the login issued a new CSRF cookie"
    );

    // The attacker's valid pair, planted beside the victim's session: refused, because
    // the token was made for no session.
    let form = [
        ("request", request.as_str()),
        ("csrf_token", attacker_token.as_str()),
        ("decision", "allow"),
    ];
    let res = bare()
        .post(&consent)
        .header("cookie", format!("{session}; {attacker_csrf}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a token of another session");

    // The victim's own token, but posted from another site: refused.
    let form = [
        ("request", request.as_str()),
        ("csrf_token", consent_token.as_str()),
        ("decision", "allow"),
    ];
    let post = |site: Option<&str>, origin: Option<&str>| {
        let mut r = bare()
            .post(&consent)
            .header("cookie", format!("{session}; {victim_csrf}"))
            .form(&form);
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let res = post(Some("cross-site"), None).await.unwrap();
    assert_eq!(res.status(), 403, "Sec-Fetch-Site: cross-site");
    let res = post(Some("same-site"), None).await.unwrap();
    assert_eq!(res.status(), 403, "a sibling subdomain");
    let res = post(None, Some("https://evil.example")).await.unwrap();
    assert_eq!(res.status(), 403, "a foreign Origin");
    // From the page itself it goes through.
    let res = post(Some("same-origin"), Some("null")).await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with(RP) && to.contains("code="), "{to}");
}
both_backends!(csrf_binding, forged_and_foreign_form_tokens_are_refused);

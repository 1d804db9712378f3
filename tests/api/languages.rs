//! The pages' languages and the operator's branding: `ui_locales`, then
//! `Accept-Language`, then the default; `ui_locales_supported` in discovery; the product
//! name, logo, accent colour and support link on the pages people see, and none of it by
//! default.

use crate::authorize::{web_client, RP};
use crate::both_backends;
use crate::both_backends_on;
use crate::helpers::{browser, code_request, Backend, TestApp, TestDb};

async fn page_with(app: &TestApp, url: &str, accept_language: Option<&str>) -> String {
    let mut req = browser().get(url);
    if let Some(l) = accept_language {
        req = req.header("Accept-Language", l);
    }
    let res = req.send().await.unwrap();
    assert!([200, 404].contains(&res.status().as_u16()), "{url}");
    let _ = app;
    res.text().await.unwrap()
}

async fn pages_speak_the_request_language(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(
        meta["ui_locales_supported"],
        serde_json::json!(["en", "de"])
    );
    let c = web_client(&app, &[]);
    let german = code_request(&app, &c.id, RP, "openid", &[("ui_locales", "fr de-CH")]);
    let page = page_with(&app, &german.url, Some("en")).await;
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(
        page.contains(">Anmelden</h1>") && page.contains("Benutzername"),
        "{page}"
    );
    assert!(page.contains("Mit einem Passkey anmelden"), "{page}");
    // ui_locales naming only languages we lack: Accept-Language decides.
    let other = code_request(&app, &c.id, RP, "openid", &[("ui_locales", "fr")]);
    let page = page_with(&app, &other.url, Some("de-AT, en;q=0.5")).await;
    assert!(page.contains(">Anmelden</h1>"), "{page}");
    let page = page_with(&app, &other.url, Some("en-GB, de;q=0.5")).await;
    assert!(
        page.contains("<html lang=\"en\">") && page.contains(">Sign in</h1>"),
        "{page}"
    );
    // No preference at all: the default, English.
    let page = page_with(&app, &app.url("/login?return_to=%2Faccount"), None).await;
    assert!(page.contains(">Sign in</h1>"), "{page}");
    // A message from the server is translated too.
    let page = page_with(&app, &app.url("/"), Some("de")).await;
    assert!(
        page.contains("Ein OAuth-2.0- und OpenID-Connect-Anbieter."),
        "{page}"
    );
    // Error pages too.
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "nobody")
        .append_pair("response_type", "code");
    let res = browser()
        .get(url.as_str())
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(
        page.contains("Diese Anmeldeanfrage kann nicht abgeschlossen werden"),
        "{page}"
    );
    assert!(
        page.contains("ist bei diesem Server nicht registriert"),
        "{page}"
    );
    // Unbranded by default: no header, no extra stylesheet, no logo.
    assert!(
        !page.contains("class=\"brand\"") && !page.contains("brand.css"),
        "{page}"
    );
    let res = browser().get(app.url("/static/logo")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
both_backends!(languages, pages_speak_the_request_language);

/// A server with the operator's branding and German as its default.
pub async fn branded_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    let logo = std::env::temp_dir().join(format!("gatehouse-logo-{}.svg", std::process::id()));
    std::fs::write(
        &logo,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
    )
    .unwrap();
    let args = gatehouse::config::ui::UiArgs {
        product_name: Some("Example Corp ID".into()),
        logo_file: Some(logo),
        accent_color: Some("#8a2be2".into()),
        support_url: Some("https://help.example.com/".into()),
        default_locale: Some("de".into()),
    };
    let ui = gatehouse::config::ui::resolve(&args, Default::default()).unwrap();
    Some(crate::helpers::spawn_on(backend, db, move |s| s.ui = ui).await)
}

async fn pages_carry_the_branding(app: TestApp) {
    let page = page_with(&app, &app.url("/login?return_to=%2Faccount"), None).await;
    assert!(
        page.contains("<html lang=\"de\">"),
        "the default language: {page}"
    );
    assert!(page.contains("Example Corp ID"), "{page}");
    assert!(
        page.contains("src=\"/static/logo\" alt=\"Example Corp ID\""),
        "{page}"
    );
    assert!(page.contains("href=\"/static/brand.css\""), "{page}");
    assert!(
        page.contains("href=\"https://help.example.com/\">Hilfe und Support</a>"),
        "{page}"
    );
    let css = browser()
        .get(app.url("/static/brand.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        css.text().await.unwrap().trim(),
        ":root { --accent: #8a2be2; }"
    );
    let logo = browser().get(app.url("/static/logo")).send().await.unwrap();
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    let policy = logo.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(logo.text().await.unwrap().starts_with("<svg"));
    // Error pages carry it too.
    let page = page_with(&app, &app.url("/no-such-page"), None).await;
    assert!(
        page.contains("Example Corp ID") && page.contains("Hilfe und Support"),
        "{page}"
    );
    // A person's own language still wins over the default.
    let page = page_with(&app, &app.url("/login?return_to=%2Faccount"), Some("en")).await;
    assert!(
        page.contains(">Sign in</h1>") && page.contains("Example Corp ID"),
        "{page}"
    );
}
both_backends_on!(
    branding,
    pages_carry_the_branding,
    crate::languages::branded_app
);

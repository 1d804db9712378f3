//! Every page people see, checked with axe-core in headless Chromium (WCAG 2.2 A and
//! AA) in English and German, with screenshots at phone and desktop widths in
//! `test-artifacts/`: the front page, first-run setup, an error page, sign-in, consent,
//! the device page, sign-out and signed-out; and the admin pages (in English). (The
//! second-factor and account pages are checked in `passkeys`.)

use fantoccini::Locator;

use crate::browser::{pkce, Browser};
use crate::fixtures::{client, user};
use crate::helpers::TestApp;

const PW: &str = "a long password";

async fn wait_for(b: &Browser, css: &str) {
    for _ in 0..100 {
        if b.client.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {css}: {}", b.client.source().await.unwrap());
}

async fn pages_pass_axe(app: TestApp) {
    let Some(b) = Browser::start().await else {
        return;
    };
    user(&app, "axel", PW);
    let redirect = app.url("/healthz");
    let c = client(
        &app,
        &["--redirect-uri", &redirect, "--name", "Photo Printer"],
    );
    let setup = crate::authorize::with_db(&app, |c| {
        gatehouse::app::setup::issue_token(c, gatehouse::db::unix_now())
            .unwrap()
            .expect("no administrator yet")
    })
    .await;
    for lang in ["en", "de"] {
        b.client.delete_all_cookies().await.unwrap();
        b.client
            .goto(&app.url(&format!("/?ui_locales={lang}")))
            .await
            .unwrap();
        b.check_page(&format!("front-{lang}")).await;
        let url = format!("/setup?token={setup}&ui_locales={lang}");
        b.client.goto(&app.url(&url)).await.unwrap();
        wait_for(&b, "input[name=username]").await;
        b.check_page(&format!("setup-{lang}")).await;
        if lang == "de" {
            let source = b.client.source().await.unwrap();
            assert!(
                source.contains("Den ersten Administrator anlegen"),
                "{source}"
            );
        }
        let mut bad = url::Url::parse(&app.url("/authorize")).unwrap();
        bad.query_pairs_mut()
            .append_pair("client_id", "nobody")
            .append_pair("ui_locales", lang);
        b.client.goto(bad.as_str()).await.unwrap();
        b.check_page(&format!("error-{lang}")).await;
        if lang == "de" {
            let source = b.client.source().await.unwrap();
            assert!(source.contains("nicht abgeschlossen werden"), "{source}");
        }

        let (_, challenge) = pkce();
        let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &c.id)
            .append_pair("redirect_uri", &redirect)
            .append_pair("scope", "openid profile email")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("ui_locales", lang);
        b.client.goto(url.as_str()).await.unwrap();
        b.check_page(&format!("login-{lang}")).await;
        // A wrong password: the error is announced and tied to the fields.
        b.fill("input[name=username]", "axel").await;
        b.fill("input[name=password]", "wrong").await;
        b.click("form button[type=submit]").await;
        wait_for(&b, "#login-error").await;
        b.check_page(&format!("login-error-{lang}")).await;
        b.fill("input[name=password]", PW).await;
        b.click("form button[type=submit]").await;
        wait_for(&b, "button[name=decision][value=allow]").await;
        b.check_page(&format!("consent-{lang}")).await;

        b.client
            .goto(&app.url(&format!("/device?ui_locales={lang}")))
            .await
            .unwrap();
        wait_for(&b, "#user_code").await;
        b.check_page(&format!("device-{lang}")).await;
        let logout = format!("/logout?ui_locales={lang}");
        b.client.goto(&app.url(&logout)).await.unwrap();
        wait_for(&b, "button[name=decision][value=logout]").await;
        b.check_page(&format!("logout-{lang}")).await;
        b.click("button[name=decision][value=logout]").await;
        wait_for(&b, "[role=status]").await;
        b.check_page(&format!("logged-out-{lang}")).await;
        if lang == "de" {
            assert!(b
                .client
                .source()
                .await
                .unwrap()
                .contains("Sie sind abgemeldet"));
        }
    }
    b.close().await;
}
crate::both_backends!(accessible_pages, pages_pass_axe);

/// The admin pages: lists, forms, a user's sign-in factors and the audit log.
async fn admin_pages_pass_axe(app: TestApp) {
    let Some(b) = Browser::start().await else {
        return;
    };
    crate::admin_pages::admin_user(&app, "root");
    user(&app, "axel", PW);
    let redirect = app.url("/healthz");
    let c = client(
        &app,
        &["--redirect-uri", &redirect, "--name", "Photo Printer"],
    );
    b.client.goto(&app.url("/admin")).await.unwrap();
    wait_for(&b, "input[name=username]").await;
    b.fill("input[name=username]", "root").await;
    b.fill("input[name=password]", crate::admin_pages::ADMIN_PW)
        .await;
    b.click("form button[type=submit]").await;
    wait_for(&b, "nav").await;
    let pages = [
        ("admin-clients", "/admin/clients".to_string()),
        ("admin-client-new", "/admin/clients/new".into()),
        ("admin-client-edit", format!("/admin/clients/{}", c.id)),
        ("admin-users", "/admin/users".into()),
        ("admin-user-new", "/admin/users/new".into()),
        (
            "admin-user-factors",
            "/admin/users/factors?username=axel".into(),
        ),
        ("admin-resources", "/admin/resources".into()),
        ("admin-audit", "/admin/audit".into()),
    ];
    for (name, path) in pages {
        b.client.goto(&app.url(&path)).await.unwrap();
        wait_for(&b, "main h1").await;
        b.check_page(name).await;
    }
    b.close().await;
}
crate::both_backends!(accessible_admin_pages, admin_pages_pass_axe);

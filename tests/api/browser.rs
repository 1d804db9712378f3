//! Real-browser tests: headless Chromium driven over WebDriver (chromedriver) through
//! the real login and consent pages. Screenshots of the pages are kept in
//! `test-artifacts/`. Where Chromium is missing the tests say loudly that they did not
//! run, unless `GATEHOUSE_REQUIRE_BROWSER=1` (CI), where that is a failure.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and a browser session; both end when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// `None` (after a loud message) when Chromium is not installed and not required.
    pub async fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            if std::env::var("GATEHOUSE_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("GATEHOUSE_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing");
            }
            eprintln!(
                "\n*** SKIPPED browser test: {CHROMIUM} or {CHROMEDRIVER} is not installed ***\n"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=412,915",
                    // Passkeys need a domain for their relying-party id: localhost, here.
                    "--host-resolver-rules=MAP localhost 127.0.0.1",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    panic!("cannot start a Chromium session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The page at phone and at desktop width, whole (the window as tall as the page),
    /// as `NAME-phone.png` and `NAME-desktop.png`.
    pub async fn screenshots(&self, name: &str) {
        for (width, suffix) in [(1280, "desktop"), (412, "phone")] {
            self.resize(width, 900).await;
            let height = self
                .client
                .execute("return document.documentElement.scrollHeight", vec![])
                .await
                .unwrap()
                .as_u64()
                .unwrap_or(900);
            let height = (height + 150).clamp(900, 4000) as u32;
            self.resize(width, height).await;
            self.screenshot(&format!("{name}-{suffix}")).await;
        }
        self.resize(412, 915).await;
    }

    /// Resizes the window and waits until the page is laid out at the new width (the
    /// resize is not finished when the command returns).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let script = "return [window.innerWidth, window.outerHeight]";
        loop {
            let now = self.client.execute(script, vec![]).await.unwrap();
            let at = |i: usize| now[i].as_u64().unwrap_or(0);
            if at(0) == u64::from(width) && at(1) == u64::from(height) {
                return;
            }
            assert!(Instant::now() < deadline, "the window stays at {now}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that the page needs no sideways scrolling at `width` CSS pixels (WCAG
    /// 1.4.10, Reflow): 320 is the narrowest phone, 640 a 1280-pixel window at 200 %
    /// zoom, which lays a page out exactly as a 640-pixel window does.
    pub async fn assert_reflows(&self, name: &str, width: u32) {
        self.resize(width, 900).await;
        let sizes = self
            .client
            .execute(
                "const e = document.documentElement;
                 return [window.innerWidth, e.scrollWidth, e.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        let size = |i: usize| sizes[i].as_u64().unwrap();
        assert_eq!(
            size(0),
            u64::from(width),
            "{name}: the window is {width} wide"
        );
        assert!(
            size(1) <= size(2),
            "{name} at {width} px scrolls sideways: {} of {} px wide",
            size(1),
            size(2)
        );
    }

    /// What axe-core (injected into the page) finds against WCAG 2.2 A and AA.
    pub async fn axe_violations(&self) -> Vec<serde_json::Value> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing: npm ci in tests/js", path.display()));
        self.client
            .execute(&source, vec![])
            .await
            .expect("axe loads");
        let run = "const done = arguments[arguments.length - 1];
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
            axe.run(document, { runOnly: { type: 'tag', values: tags } })
              .then(r => done(r.violations.map(v => ({ id: v.id, help: v.help,
                nodes: v.nodes.map(n => n.html) }))))
              .catch(e => done([{ id: 'axe-error', help: String(e) }]));";
        let found = self
            .client
            .execute_async(run, vec![])
            .await
            .expect("axe runs");
        found.as_array().cloned().unwrap_or_default()
    }

    /// Asserts that axe finds nothing on the page and that it reflows at 320 px and at
    /// 200 % zoom, and keeps its screenshots.
    pub async fn check_page(&self, name: &str) {
        let found = self.axe_violations().await;
        assert!(
            found.is_empty(),
            "{name}: {}",
            serde_json::to_string_pretty(&found).unwrap()
        );
        for width in [320, 640] {
            self.assert_reflows(name, width).await;
        }
        self.screenshots(name).await;
    }

    /// Waits until the browser's URL satisfies `pred`.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.client.current_url().await.unwrap().to_string();
            if pred(&url) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "timed out; the browser is at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = gatehouse::crypto::random_token(32);
    let challenge = gatehouse::crypto::b64url(&gatehouse::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// A person logs in and consents through the real pages; the code they bring back works.
async fn login_and_consent_in_chromium(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    crate::fixtures::user(&app, "bella", "bella's password");
    // The redirect URI points back at gatehouse itself, so the browser lands on a real page.
    let redirect = app.url("/healthz");
    let c = crate::fixtures::client(
        &app,
        &["--redirect-uri", &redirect, "--name", "Photo Printer"],
    );
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    browser.client.goto(url.as_str()).await.unwrap();

    let source = browser.client.source().await.unwrap();
    assert!(
        source.contains("Photo Printer"),
        "the login page names the client"
    );
    browser.screenshot("login").await;
    browser.fill("input[name=username]", "bella").await;
    browser
        .fill("input[name=password]", "bella's password")
        .await;
    browser.click("form button[type=submit]").await;

    browser
        .wait_for_url(|u| {
            u.contains("/login") || u.contains("/authorize") || u.contains("/consent")
        })
        .await;
    browser
        .client
        .find(Locator::Css("button[name=decision][value=allow]"))
        .await
        .expect("the consent page");
    let consent = browser.client.source().await.unwrap();
    assert!(consent.contains("Photo Printer"));
    browser.screenshot("consent").await;
    browser.click("button[name=decision][value=allow]").await;

    let landed = browser
        .wait_for_url(|u| u.starts_with(&redirect) && u.contains("code="))
        .await;
    let landed = url::Url::parse(&landed).unwrap();
    let q: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], app.issuer);
    let (status, body, _) = crate::fixtures::post_form(
        &app,
        "/token",
        Some((&c.id, c.secret.as_deref().unwrap())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string());
    browser.close().await;
}
crate::both_backends!(login_and_consent, login_and_consent_in_chromium);

/// An administrator signs in through the login page, registers a client on the admin
/// pages, and the secret the page shows works at the token endpoint.
async fn admin_registers_a_client_in_chromium(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    use crate::admin_pages::{admin_user, ADMIN_PW};
    admin_user(&app, "ada");
    crate::fixtures::client(
        &app,
        &[
            "--redirect-uri",
            "https://printer.example/cb",
            "--name",
            "Photo Printer",
        ],
    );
    browser.client.goto(&app.url("/admin")).await.unwrap();
    browser
        .wait_for_url(|u| u.contains("/login?return_to="))
        .await;
    browser.fill("input[name=username]", "ada").await;
    browser.fill("input[name=password]", ADMIN_PW).await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_for_url(|u| u.ends_with("/admin/clients"))
        .await;
    let list = browser.client.source().await.unwrap();
    assert!(list.contains("Photo Printer"), "the client list");
    browser.screenshot("admin-clients").await;

    browser.click("a.button.primary").await;
    browser
        .wait_for_url(|u| u.ends_with("/admin/clients/new"))
        .await;
    browser.fill("#client_name", "Nightly Reports").await;
    browser.click("#grant_client_credentials").await;
    browser.fill("#scope", "reports:read").await;
    browser.click("form.admin-form button[type=submit]").await;
    let field = browser
        .client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#client-secret"))
        .await
        .expect("the page with the new secret");
    let secret = field.prop("value").await.unwrap().unwrap();
    let client_id = browser
        .client
        .find(Locator::Css("#client-id"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    // /static/admin.js ran (the CSP allows it) and showed the copy button; it works.
    let copy = browser
        .client
        .find(Locator::Css("button[data-copy=client-secret]"))
        .await
        .unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button is shown"
    );
    copy.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = browser
            .client
            .find(Locator::Css("#copy-status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if status.contains("Client secret") {
            break;
        }
        assert!(Instant::now() < deadline, "no copy status: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.screenshot("admin-client-created").await;

    let (status, body, _) = crate::fixtures::post_form(
        &app,
        "/token",
        Some((&client_id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "reports:read");
    browser.close().await;
}
crate::both_backends!(
    admin_registers_a_client,
    admin_registers_a_client_in_chromium
);

/// `response_mode=form_post` in Chromium: the response page submits itself (its script
/// allowed by the page's CSP) and the browser arrives at the client with a POST.
async fn form_post_submits_itself_in_chromium(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let rp = crate::mock::Mock::start().await;
    rp.set(
        "/cb",
        crate::mock::Answer::json(&serde_json::json!({"received": true})),
    );
    let redirect = rp.url("/cb");
    crate::fixtures::user(&app, "bella", "bella's password");
    let c = crate::fixtures::client(&app, &["--redirect-uri", &redirect, "--name", "Form app"]);
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("response_mode", "form_post")
        .append_pair("client_id", &c.id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "st-fp")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    browser.client.goto(url.as_str()).await.unwrap();
    browser.fill("input[name=username]", "bella").await;
    browser
        .fill("input[name=password]", "bella's password")
        .await;
    browser.click("form button[type=submit]").await;
    browser
        .client
        .wait()
        .for_element(Locator::Css("button[name=decision][value=allow]"))
        .await
        .expect("the consent page");
    browser.click("button[name=decision][value=allow]").await;
    browser.wait_for_url(|u| u.starts_with(&redirect)).await;
    assert_eq!(rp.hits("/cb"), 1, "the form was posted once, by its script");
    browser.close().await;
    rp.stop().await;
}
crate::both_backends!(form_post_in_chromium, form_post_submits_itself_in_chromium);

//! Passkeys in headless Chromium with a virtual authenticator (the WebDriver WebAuthn
//! extension): registered on the account page, used alone to sign in (an ID token with
//! `amr` of a user-verified key and the multi-factor `acr`), used as the second factor
//! after a password, refused once removed; and a synced passkey, whose `amr` is `swk`.
//! The issuer is `http://localhost:…`:
//! a relying-party id must be a domain name.

use std::collections::HashMap;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{pkce, Browser};
use crate::fixtures::{jwt_parts, post_form, user, Registered};
use crate::helpers::{Backend, TestApp, TestDb};

const PW: &str = "pat's password";
const MFA: &str = "urn:gatehouse:acr:mfa";

/// A server whose issuer names localhost.
async fn localhost_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(
        crate::helpers::spawn_on(backend, db, |s| {
            s.issuer = s.issuer.replace("127.0.0.1", "localhost");
        })
        .await,
    )
}

/// `POST /session/{id}/webauthn/authenticator`: a platform authenticator that keeps
/// discoverable credentials and verifies its user; `synced` (backup eligible and backed
/// up) is a passkey a password manager copies between devices.
#[derive(Debug)]
struct AddVirtualAuthenticator {
    synced: bool,
}

/// `DELETE /session/{id}/webauthn/authenticator/{aid}`: the authenticator is gone.
#[derive(Debug)]
struct RemoveVirtualAuthenticator(String);

impl WebDriverCompatibleCommand for RemoveVirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator/{}",
            session.unwrap(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::DELETE, None)
    }
}

/// `POST /session/{id}/webauthn/authenticator/{aid}/uv`: whether the authenticator
/// verifies its user (a fingerprint or PIN) from now on.
#[derive(Debug)]
struct SetUserVerified(String, bool);

impl WebDriverCompatibleCommand for SetUserVerified {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator/{}/uv",
            session.unwrap(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "isUserVerified": self.1 });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Signs in with the passkey alone: the browser's autofill request may answer by
/// itself (the virtual authenticator consents at once), else the button is pressed.
async fn passkey_sign_in(b: &Browser, redirect: &str) {
    for i in 0..150 {
        let url = b.client.current_url().await.unwrap().to_string();
        if url.starts_with(redirect) {
            return;
        }
        if i == 20 {
            if let Ok(button) = b.client.find(Locator::Css("#passkey-signin")).await {
                let _ = button.click().await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no sign-in with the passkey: {}",
        b.client.source().await.unwrap()
    );
}

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator",
            session.unwrap()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
            "defaultBackupEligibility": self.synced,
            "defaultBackupState": self.synced,
        });
        (http::Method::POST, Some(options.to_string()))
    }
}

/// Forgets the browser's session at the issuer (cookies are deleted for the page
/// shown, so one of the issuer's is shown first).
async fn sign_out(b: &Browser, app: &TestApp) {
    b.client.goto(&at(app, "/healthz")).await.unwrap();
    b.client.delete_all_cookies().await.unwrap();
}

fn at(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.issuer)
}

async fn wait_for_text(b: &Browser, text: &str) -> String {
    for _ in 0..150 {
        let source = b.client.source().await.unwrap();
        if source.contains(text) {
            return source;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the page never said {text:?}: {}",
        b.client.source().await.unwrap()
    );
}

/// Starts an authorization request; returns its PKCE verifier.
async fn authorize(b: &Browser, app: &TestApp, c: &Registered, redirect: &str) -> String {
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&at(app, "/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    b.client.goto(url.as_str()).await.unwrap();
    verifier
}

/// Waits for the code at the redirect URI and exchanges it; the ID token's claims.
async fn id_token_claims(
    b: &Browser,
    app: &TestApp,
    c: &Registered,
    redirect: &str,
    verifier: &str,
) -> Value {
    let landed = b
        .wait_for_url(|u| u.starts_with(redirect) && u.contains("code="))
        .await;
    let q: HashMap<_, _> = url::Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let (status, body, _) = post_form(
        app,
        "/token",
        Some((&c.id, c.secret.as_deref().unwrap())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    jwt_parts(body["id_token"].as_str().unwrap()).1
}

async fn passkeys_in_chromium(app: TestApp) {
    let Some(b) = Browser::start().await else {
        return;
    };
    user(&app, "pat", PW);
    let redirect = app.url("/healthz");
    let c = crate::fixtures::client(
        &app,
        &[
            "--redirect-uri",
            &redirect,
            "--name",
            "Photo Printer",
            "--skip-consent",
        ],
    );
    let added = b
        .client
        .issue_cmd(AddVirtualAuthenticator { synced: false })
        .await
        .expect("a virtual authenticator");
    let authenticator = added.as_str().expect("its id").to_string();

    // Sign in to the account page with the password, and register a passkey.
    b.client
        .goto(&at(&app, "/login?return_to=%2Faccount"))
        .await
        .unwrap();
    b.fill("input[name=username]", "pat").await;
    b.fill("input[name=password]", PW).await;
    b.click("form button[type=submit]").await;
    wait_for_text(&b, "Your account").await;
    b.fill("#passkey-name", "Laptop").await;
    b.click("#passkey-add").await;
    let page = wait_for_text(&b, "Your passkey is saved.").await;
    assert!(page.contains("Laptop"), "{page}");
    b.check_page("account").await;
    // The authenticator-app set-up and the recovery codes pages.
    b.click("form[action='/account/totp/new'] button").await;
    wait_for_text(&b, "Set up an authenticator app").await;
    b.check_page("account-totp").await;
    b.client.goto(&at(&app, "/account")).await.unwrap();
    b.click("form[action='/account/recovery-codes'] button")
        .await;
    wait_for_text(&b, "Your recovery codes").await;
    b.check_page("account-recovery-codes").await;

    // Signed out, a passkey alone signs in (user verified: the multi-factor level).
    sign_out(&b, &app).await;
    let verifier = authorize(&b, &app, &c, &redirect).await;
    passkey_sign_in(&b, &redirect).await;
    let claims = id_token_claims(&b, &app, &c, &redirect, &verifier).await;
    assert_eq!(claims["amr"], json!(["hwk", "user"]), "{claims}");
    assert_eq!(claims["acr"], MFA);

    // After a password, the passkey is the second factor. While the password is typed
    // the authenticator refuses (its user not verified), so the login page's autofill
    // request cannot sign in by itself.
    let uv = |on| SetUserVerified(authenticator.clone(), on);
    b.client
        .issue_cmd(uv(false))
        .await
        .expect("user verification off");
    sign_out(&b, &app).await;
    let verifier = authorize(&b, &app, &c, &redirect).await;
    wait_for_text(&b, "Sign in with a passkey").await;
    b.check_page("login").await;
    b.fill("input[name=username]", "pat").await;
    b.fill("input[name=password]", PW).await;
    b.click("form button[type=submit]").await;
    wait_for_text(&b, "Use a passkey").await;
    b.check_page("second-factor").await;
    b.client
        .issue_cmd(uv(true))
        .await
        .expect("user verification on");
    b.click("#passkey-second").await;
    let claims = id_token_claims(&b, &app, &c, &redirect, &verifier).await;
    assert_eq!(
        claims["amr"],
        json!(["pwd", "hwk", "user", "mfa"]),
        "{claims}"
    );
    assert_eq!(claims["acr"], MFA);

    // Removed on the account page (a fresh sign-in: the one just made), it no longer
    // signs anyone in.
    b.client.goto(&at(&app, "/account")).await.unwrap();
    wait_for_text(&b, "Laptop").await;
    b.click("button[aria-label='Remove passkey Laptop']").await;
    let page = wait_for_text(&b, "Removed.").await;
    assert!(!page.contains("<strong>Laptop</strong>"), "{page}");
    sign_out(&b, &app).await;
    authorize(&b, &app, &c, &redirect).await;
    if let Ok(button) = b.client.find(Locator::Css("#passkey-signin")).await {
        let _ = button.click().await;
    }
    let page = wait_for_text(&b, "not registered").await;
    let alert = b
        .client
        .find(Locator::Css("[role=alert]:not([hidden])"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(alert.contains("not registered"), "{alert} {page}");

    // A synced passkey (a password manager's) is a software key: `swk`.
    b.client
        .issue_cmd(RemoveVirtualAuthenticator(authenticator))
        .await
        .expect("the authenticator removed");
    b.client
        .issue_cmd(AddVirtualAuthenticator { synced: true })
        .await
        .expect("a synced authenticator");
    sign_out(&b, &app).await;
    b.client
        .goto(&at(&app, "/login?return_to=%2Faccount"))
        .await
        .unwrap();
    b.fill("input[name=username]", "pat").await;
    b.fill("input[name=password]", PW).await;
    b.click("form button[type=submit]").await;
    wait_for_text(&b, "Your account").await;
    b.fill("#passkey-name", "Password manager").await;
    b.click("#passkey-add").await;
    let page = wait_for_text(&b, "Your passkey is saved.").await;
    assert!(page.contains("synced;"), "{page}");
    sign_out(&b, &app).await;
    let verifier = authorize(&b, &app, &c, &redirect).await;
    passkey_sign_in(&b, &redirect).await;
    let claims = id_token_claims(&b, &app, &c, &redirect, &verifier).await;
    assert_eq!(claims["amr"], json!(["swk", "user"]), "{claims}");
    b.close().await;
}
crate::both_backends_on!(
    passkeys,
    passkeys_in_chromium,
    crate::passkeys::localhost_app
);

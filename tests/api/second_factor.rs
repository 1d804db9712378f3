//! Second factors over HTTP: an authenticator app set up on the account page, its codes
//! asked after the password (each accepted once), recovery codes used once, step-up of
//! a password session by `acr_values`, and a second factor required by policy. The
//! relying party is the `openidconnect` crate; the codes are computed here from the
//! secret the set-up page shows.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};

use gatehouse::domain::totp;

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{user, Registered};
use crate::helpers::{
    alert_text, browser, form_action, hidden_field, is_consent_page, is_login_page, location,
    page_of, query_param, submit_consent, TestApp,
};

const MFA: &str = "urn:gatehouse:acr:mfa";

/// Every hidden input of the first form of `page`, plus `extra`, posted to its action.
async fn post_first_form(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let form_html = &page[page.find("<form").expect("a form")..];
    let form_html = &form_html[..form_html.find("</form>").unwrap()];
    let mut fields: Vec<(String, String)> = Vec::new();
    for piece in form_html.split("<input").skip(1) {
        if !piece.contains("type=\"hidden\"") {
            continue;
        }
        let name = piece
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        if let Some(name) = name {
            if let Some(v) = hidden_field(piece, name) {
                fields.push((name.to_string(), v));
            }
        }
    }
    for (k, v) in extra {
        fields.push((k.to_string(), v.to_string()));
    }
    let action = form_action(form_html);
    let action = match action.starts_with('/') {
        true => app.url(&action),
        false => action,
    };
    http.post(action).form(&fields).send().await.unwrap()
}

fn is_second_factor_page(page: &str) -> bool {
    page.contains("name=\"pending\"")
}

/// Signs a browser in to its account page with the password (and `code` if asked).
async fn account_sign_in(app: &TestApp, http: &reqwest::Client, name: &str) -> String {
    let page = page_of(http, &app.url("/login?return_to=%2Faccount")).await;
    assert!(is_login_page(&page), "{page}");
    let res = post_first_form(app, http, &page, &[("username", name), ("password", PW)]).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res).unwrap(), app.url("/account"));
    page_of(http, &app.url("/account")).await
}

/// Sets up an authenticator app from the account page; returns its secret.
async fn enrol_app(app: &TestApp, http: &reqwest::Client, account: &str) -> (Vec<u8>, i64) {
    let start = account
        .find("action=\"/account/totp/new\"")
        .expect("the set-up button");
    let setup = post_first_form(app, http, &account[start - 20..], &[]).await;
    let page = setup.text().await.unwrap();
    let secret = secret_on(&page);
    // A wrong code first: refused, with the same secret kept on the page.
    let now = gatehouse::db::unix_now();
    let wrong = other_code(&secret, now);
    let res = post_first_form(app, http, &page, &[("code", &wrong)]).await;
    assert_eq!(res.status(), 400);
    let again = res.text().await.unwrap();
    assert_eq!(secret_on(&again), secret, "the set-up keeps its secret");
    // The previous step's code is still accepted, so the next ones need no waiting.
    let step = totp::step_of(now) - 1;
    let code = totp::code_at(&secret, step);
    let res = post_first_form(app, http, &again, &[("code", &code)]).await;
    let done = res.text().await.unwrap();
    assert!(done.contains("authenticator app is set up"), "{done}");
    (secret, step)
}

/// The base32 secret a set-up page shows, decoded.
fn secret_on(page: &str) -> Vec<u8> {
    let start = page.find("class=\"secret\">").expect("the secret as text") + 15;
    let text = &page[start..start + page[start..].find('<').unwrap()];
    totp::base32_decode(text).expect("base32")
}

/// A six-digit code that is not the app's within the accepted window.
fn other_code(secret: &[u8], now: i64) -> String {
    let step = totp::step_of(now);
    let taken: Vec<String> = (step - 1..=step + 1)
        .map(|s| totp::code_at(secret, s))
        .collect();
    (0..1000)
        .map(|i| format!("{:06}", 123_456 + i))
        .find(|c| !taken.contains(c))
        .unwrap()
}

/// The code of the step after `last`, which the server has not seen (it accepts one
/// step either side of now, so this rarely waits).
async fn next_code(secret: &[u8], last: &mut i64) -> String {
    let step = *last + 1;
    while step > totp::step_of(gatehouse::db::unix_now()) + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    *last = step;
    totp::code_at(secret, step)
}

/// What the second-factor page is answered with.
enum Answer<'a> {
    Code(&'a str),
    None,
}

/// A code flow driven by `openidconnect`, answering login, second-factor and consent
/// pages; returns the verified ID token claims, or the page it stopped at.
async fn rp_flow(
    app: &TestApp,
    http: &reqwest::Client,
    c: &Registered,
    name: &str,
    extra: &[(&str, &str)],
    answer: Answer<'_>,
) -> Result<CoreIdTokenClaims, String> {
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let meta = CoreProviderMetadata::discover_async(issuer, &browser())
        .await
        .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(RP.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()));
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, _, nonce) = request.set_pkce_challenge(challenge).url();
    let mut res = http.get(url.as_str()).send().await.unwrap();
    let mut answered = false;
    let callback = loop {
        if res.status() == 303 && location(&res).unwrap().starts_with(RP) {
            break location(&res).unwrap();
        }
        let page = res.text().await.unwrap();
        res = if is_login_page(&page) {
            post_first_form(app, http, &page, &[("username", name), ("password", PW)]).await
        } else if is_second_factor_page(&page) {
            match (&answer, answered) {
                (Answer::Code(code), false) => {
                    answered = true;
                    post_first_form(app, http, &page, &[("code", code)]).await
                }
                _ => return Err(page),
            }
        } else if is_consent_page(&page) {
            submit_consent(http, &page, "allow").await
        } else {
            return Err(page);
        };
    };
    let code = query_param(&callback, "code").expect(&callback);
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&browser())
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&rp.id_token_verifier(), &nonce)
        .expect("the ID token verifies")
        .clone();
    Ok(claims)
}

fn amr_of(claims: &CoreIdTokenClaims) -> Vec<String> {
    (claims.auth_method_refs().into_iter().flatten())
        .map(|a| a.to_string())
        .collect()
}

fn acr_of(claims: &CoreIdTokenClaims) -> String {
    claims
        .auth_context_ref()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

async fn totp_after_password_and_step_up(app: TestApp) {
    let c = web_client(&app, &["--scope", "openid profile"]);
    user(&app, "kim", PW);
    let http = browser();
    let account = account_sign_in(&app, &http, "kim").await;
    // A password session from before the app was set up.
    let (secret, mut last) = enrol_app(&app, &http, &account).await;

    // Without acr_values the password session serves.
    let plain = rp_flow(&app, &http, &c, "kim", &[], Answer::None)
        .await
        .unwrap();
    assert_eq!(amr_of(&plain), ["pwd"]);
    // Asking for the multi-factor level steps the session up.
    let code = next_code(&secret, &mut last).await;
    let stepped = rp_flow(
        &app,
        &http,
        &c,
        "kim",
        &[("acr_values", MFA)],
        Answer::Code(&code),
    )
    .await
    .unwrap();
    assert_eq!(amr_of(&stepped), ["pwd", "otp", "mfa"]);
    assert_eq!(acr_of(&stepped), MFA);

    // A new browser: password, then the code; the same code again is refused.
    let fresh = browser();
    let code = next_code(&secret, &mut last).await;
    let signed = rp_flow(&app, &fresh, &c, "kim", &[], Answer::Code(&code))
        .await
        .unwrap();
    assert_eq!(amr_of(&signed), ["pwd", "otp", "mfa"]);
    let replay = rp_flow(&app, &browser(), &c, "kim", &[], Answer::Code(&code)).await;
    let page = replay.expect_err("a replayed code is refused");
    assert!(is_second_factor_page(&page), "{page}");
    assert!(alert_text(&page).unwrap().contains("not right"), "{page}");

    // An administrator lists kim's factors (no secrets) and removes the app: the password
    // alone signs in again.
    use crate::admin_api::{admin_token, call};
    use reqwest::Method;
    let (token, _) = admin_token(&app).await;
    let path = "/admin/api/users/kim/factors";
    let (status, body, _) = call(&app, Method::GET, path, Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["factors"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["factors"][0]["kind"], "totp");
    assert!(!body.to_string().contains("secret"), "{body}");
    let one = format!("{path}/{}", body["factors"][0]["id"].as_str().unwrap());
    let (status, _, _) = call(&app, Method::DELETE, &one, Some(&token), None).await;
    assert_eq!(status, 204);
    let (status, _, _) = call(&app, Method::DELETE, &one, Some(&token), None).await;
    assert_eq!(status, 404);
    let plain = rp_flow(&app, &browser(), &c, "kim", &[], Answer::None)
        .await
        .unwrap();
    assert_eq!(amr_of(&plain), ["pwd"]);
}
both_backends!(totp_steps, totp_after_password_and_step_up);

async fn recovery_codes_work_once(app: TestApp) {
    let c = web_client(&app, &["--scope", "openid profile"]);
    user(&app, "lee", PW);
    let http = browser();
    let account = account_sign_in(&app, &http, "lee").await;
    enrol_app(&app, &http, &account).await;
    let account = page_of(&http, &app.url("/account")).await;
    let start = account.find("action=\"/account/recovery-codes\"").unwrap();
    let shown = post_first_form(&app, &http, &account[start - 20..], &[]).await;
    let page = shown.text().await.unwrap();
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .map(|p| p[..p.find('<').unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{page}");
    let code = codes[0].to_uppercase();
    let claims = rp_flow(&app, &browser(), &c, "lee", &[], Answer::Code(&code))
        .await
        .unwrap();
    assert_eq!(acr_of(&claims), MFA);
    let again = rp_flow(&app, &browser(), &c, "lee", &[], Answer::Code(&codes[0])).await;
    assert!(is_second_factor_page(&again.expect_err("used up")));
    // The account page counts what is left.
    let account = page_of(&http, &app.url("/account")).await;
    assert!(account.contains("Recovery codes left: 9."), "{account}");
}
both_backends!(recovery_codes, recovery_codes_work_once);

async fn a_required_second_factor_is_set_up_at_sign_in(app: TestApp) {
    let c = web_client(&app, &["--scope", "openid profile", "--require-mfa"]);
    user(&app, "max", PW);
    let http = browser();
    // The client requires it; max has none: the sign-in sets up an app.
    let page = rp_flow(&app, &http, &c, "max", &[], Answer::None)
        .await
        .unwrap_err();
    assert!(page.contains("Set up two-step verification"), "{page}");
    let secret = secret_on(&page);
    let mut last = totp::step_of(gatehouse::db::unix_now()) - 1;
    let code = totp::code_at(&secret, last);
    let res = post_first_form(&app, &http, &page, &[("code", &code)]).await;
    // Back at the authorization request: its consent page, then the code.
    let consent = res.text().await.unwrap();
    assert!(is_consent_page(&consent), "{consent}");
    let res = submit_consent(&http, &consent, "allow").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).unwrap().starts_with(RP));
    let code = next_code(&secret, &mut last).await;
    let claims = rp_flow(&app, &browser(), &c, "max", &[], Answer::Code(&code))
        .await
        .unwrap();
    assert_eq!(amr_of(&claims), ["pwd", "otp", "mfa"]);
    // An administrator resets max's factors: the next sign-in sets one up again.
    let out = app.cli(&["users", "reset-factors", "max"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = rp_flow(&app, &browser(), &c, "max", &[], Answer::None)
        .await
        .unwrap_err();
    assert!(page.contains("Set up two-step verification"), "{page}");
    let audit = app.cli(&["audit", "--json"], None).stdout;
    assert!(audit.contains("user.factors_reset"), "{audit}");
}
both_backends!(required_mfa, a_required_second_factor_is_set_up_at_sign_in);

/// The admin API sets a user's requirement and resets their factors.
async fn the_admin_api_requires_and_resets(app: TestApp) {
    use crate::admin_api::{admin_token, call};
    use reqwest::Method;
    let c = web_client(&app, &["--scope", "openid profile"]);
    user(&app, "ida", PW);
    let (token, _) = admin_token(&app).await;
    let patch = serde_json::json!({ "require_mfa": true });
    let (status, body, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/ida",
        Some(&token),
        Some(patch),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["require_mfa"], true);
    let page = rp_flow(&app, &browser(), &c, "ida", &[], Answer::None)
        .await
        .unwrap_err();
    assert!(page.contains("Set up two-step verification"), "{page}");
    let path = "/admin/api/users/ida/factors";
    let (status, _, _) = call(&app, Method::DELETE, path, Some(&token), None).await;
    assert_eq!(status, 204);
    let path = "/admin/api/users/nobody/factors";
    let (status, body, _) = call(&app, Method::DELETE, path, Some(&token), None).await;
    assert_eq!(status, 404, "{body}");
    // Not required any more: the password alone serves again.
    let patch = serde_json::json!({ "require_mfa": false });
    let (status, _, _) = call(
        &app,
        Method::PATCH,
        "/admin/api/users/ida",
        Some(&token),
        Some(patch),
    )
    .await;
    assert_eq!(status, 200);
    let claims = rp_flow(&app, &browser(), &c, "ida", &[], Answer::None)
        .await
        .unwrap();
    assert_eq!(amr_of(&claims), ["pwd"]);
}
both_backends!(admin_api_mfa, the_admin_api_requires_and_resets);

/// The admin pages list a user's factors (never their secrets) and remove one; the user
/// then signs in with the password alone, and the audit log names the admin.
async fn an_admin_removes_one_factor(app: TestApp) {
    use crate::admin_pages::{admin_session, get, post};
    user(&app, "ida", PW);
    let http = browser();
    let account = account_sign_in(&app, &http, "ida").await;
    let (secret, _) = enrol_app(&app, &http, &account).await;
    admin_session(&app, "root").await;
    let list = app.url("/admin/users/factors?username=ida");
    let (status, _, page) = get(&app.http, &list).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Authenticator app"), "{page}");
    assert!(page.contains("0 recovery codes left."), "{page}");
    assert!(!page.contains(&totp::base32(&secret)), "{page}");
    let (status, _, _) = get(&app.http, &app.url("/admin/users/factors?username=nobody")).await;
    assert_eq!(status, 404);
    let csrf = hidden_field(&page, "csrf_token").unwrap();
    let id = hidden_field(&page, "id").expect("a factor id");
    let remove = app.url("/admin/users/factors/remove");
    let form = [("username", "ida"), ("id", id.as_str())];
    // Without the CSRF token, nothing is removed.
    let (status, _, _) = post(&app.http, &remove, &form).await;
    assert_eq!(status, 403);
    let form = [("csrf_token", csrf.as_str()), form[0], form[1]];
    let (status, to, _) = post(&app.http, &remove, &form).await;
    assert_eq!(status, 303);
    let (_, _, page) = get(&app.http, &to.unwrap()).await;
    assert!(page.contains("authenticator app was removed"), "{page}");
    assert!(
        page.contains("No passkey and no authenticator app."),
        "{page}"
    );
    let (status, _, page) = post(&app.http, &remove, &form).await;
    assert_eq!(status, 404, "{page}");
    // The password alone opens the account page again.
    let again = account_sign_in(&app, &browser(), "ida").await;
    assert!(again.contains("Your account"), "{again}");
    let log = crate::admin_api::audit_log(&app);
    let removed = log.iter().find(|e| e["action"] == "factor.removed");
    assert_eq!(
        removed.map(|e| &e["actor"]),
        Some(&"user:root".into()),
        "{log:?}"
    );
}
both_backends!(admin_removes_factor, an_admin_removes_one_factor);

//! The two browser cookies: the login session (`gh_session`) and the CSRF cookie
//! (`gh_csrf`) of the login, consent, logout and admin forms; with an https issuer both
//! carry the `__Host-` prefix, so no other host (a sibling subdomain) can set them.
//!
//! CSRF: the cookie is a value the server issued and authenticated (`nonce.tag`); a
//! cookie it did not issue is never adopted. A form's token is an HMAC, under a server
//! key, of that cookie and of the session cookie the form is for, so a token is good
//! only for this browser and this session, and changes at login. Form posts whose
//! `Sec-Fetch-Site` or `Origin` says they come from another site are refused as well.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::errors::Failure;
use crate::config::Settings;
use crate::crypto::{b64url, ct_eq, random_token, secret_hash, Sealer};
use crate::oauth::params::Params;

pub const SESSION: &str = "gh_session";
pub const CSRF: &str = "gh_csrf";

/// The session cookie's name: `__Host-` prefixed when the issuer is https.
pub fn session_name(settings: &Settings) -> &'static str {
    if settings.is_https() {
        "__Host-gh_session"
    } else {
        SESSION
    }
}

/// The CSRF cookie's name: `__Host-` prefixed when the issuer is https.
pub fn csrf_name(settings: &Settings) -> &'static str {
    if settings.is_https() {
        "__Host-gh_csrf"
    } else {
        CSRF
    }
}

/// The browser's session cookie, if it sent one.
pub fn session(req: &HttpRequest, settings: &Settings) -> Option<String> {
    get(req, session_name(settings))
}
/// The form field that must repeat the CSRF cookie.
pub const CSRF_FIELD: &str = "csrf_token";

/// A cookie's value from the request's `Cookie` headers.
pub fn get(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value. Values are base64url tokens, which need no quoting.
fn set_cookie(
    settings: &Settings,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if settings.is_https() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are base64url")
}

/// The session cookie: Lax, so it comes along when a client sends the browser here.
pub fn session_cookie(settings: &Settings, value: &str) -> HeaderValue {
    set_cookie(
        settings,
        session_name(settings),
        value,
        "Lax",
        Some(settings.lifetimes.session),
    )
}

pub fn clear_session_cookie(settings: &Settings) -> HeaderValue {
    set_cookie(settings, session_name(settings), "", "Lax", Some(0))
}

pub fn add(res: &mut HttpResponse, cookie: HeaderValue) {
    res.headers_mut().append(header::SET_COOKIE, cookie);
}

/// A CSRF cookie value the server issues: a nonce and its tag.
fn issue_csrf_cookie(sealer: &Sealer) -> String {
    let nonce = random_token(16);
    let tag = sealer.mac(&[b"csrf-cookie", nonce.as_bytes()]);
    format!("{nonce}.{}", b64url(&tag[..16]))
}

/// The browser's CSRF cookie, if it is one the server issued.
fn issued_csrf_cookie(req: &HttpRequest, settings: &Settings, sealer: &Sealer) -> Option<String> {
    let value = get(req, csrf_name(settings))?;
    let (nonce, tag) = value.split_once('.')?;
    let expected = sealer.mac(&[b"csrf-cookie", nonce.as_bytes()]);
    ct_eq(b64url(&expected[..16]).as_bytes(), tag.as_bytes()).then_some(value)
}

/// The token of a form for the CSRF cookie `cookie` and the session whose cookie hashes
/// to `session_hash` (empty without a session).
fn form_token(sealer: &Sealer, cookie: &str, session_hash: &str) -> String {
    b64url(&sealer.mac(&[b"csrf-form", cookie.as_bytes(), session_hash.as_bytes()]))
}

/// The hash of the session cookie a request carries; empty without one.
fn session_hash(req: &HttpRequest, settings: &Settings) -> String {
    session(req, settings)
        .map(|c| secret_hash(&c))
        .unwrap_or_default()
}

/// The CSRF token a form page embeds, and the cookie to set when the browser has none.
pub struct Csrf {
    pub token: String,
    cookie: Option<HeaderValue>,
}

impl Csrf {
    /// The token for a page whose form is posted with the request's own session cookie.
    /// The browser's CSRF cookie is kept (pages open in several tabs all stay valid).
    pub fn for_page(req: &HttpRequest, settings: &Settings, sealer: &Sealer) -> Csrf {
        let hash = session_hash(req, settings);
        Self::make(req, settings, sealer, &hash, false)
    }

    /// The token for a page shown with a new session (just after a login): bound to that
    /// session, with a new CSRF cookie.
    pub fn after_login(
        req: &HttpRequest,
        settings: &Settings,
        sealer: &Sealer,
        session_hash: &str,
    ) -> Csrf {
        Self::make(req, settings, sealer, session_hash, true)
    }

    fn make(
        req: &HttpRequest,
        settings: &Settings,
        sealer: &Sealer,
        session_hash: &str,
        rotate: bool,
    ) -> Csrf {
        let existing = (!rotate)
            .then(|| issued_csrf_cookie(req, settings, sealer))
            .flatten();
        let (cookie, set) = match existing {
            Some(c) => (c, None),
            None => {
                let c = issue_csrf_cookie(sealer);
                let header = set_cookie(settings, csrf_name(settings), &c, "Strict", None);
                (c, Some(header))
            }
        };
        Csrf {
            token: form_token(sealer, &cookie, session_hash),
            cookie: set,
        }
    }

    pub fn set_on(&self, res: &mut HttpResponse) {
        if let Some(c) = &self.cookie {
            add(res, c.clone());
        }
    }
}

/// A new CSRF cookie on a response that sets none yet (after a login, so no form token
/// from before the login stays good).
pub fn rotate_csrf(res: &mut HttpResponse, settings: &Settings, sealer: &Sealer) {
    let name = format!("{}=", csrf_name(settings));
    let already = res
        .headers()
        .get_all(header::SET_COOKIE)
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&name)));
    if !already {
        let c = issue_csrf_cookie(sealer);
        add(
            res,
            set_cookie(settings, csrf_name(settings), &c, "Strict", None),
        );
    }
}

/// Whether a form post comes from this server's own pages, as far as the browser says:
/// `Sec-Fetch-Site` must be `same-origin` (or `none`, a person's own action), and an
/// `Origin` must be the issuer's (or `null`, which no-referrer pages send).
fn same_origin_post(req: &HttpRequest, settings: &Settings) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    let issuer_origin = url::Url::parse(&settings.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    header("origin").is_none_or(|o| o == "null" || o == issuer_origin)
}

/// A form post must come from this site, carry a CSRF cookie the server issued, and
/// repeat the token of that cookie and the request's session in `csrf_token`.
pub fn check_csrf(
    req: &HttpRequest,
    settings: &Settings,
    sealer: &Sealer,
    form: &Params,
) -> Result<(), Failure> {
    let ok = same_origin_post(req, settings)
        && match (
            issued_csrf_cookie(req, settings, sealer),
            form.get(CSRF_FIELD),
        ) {
            (Some(cookie), Some(field)) => {
                let expected = form_token(sealer, &cookie, &session_hash(req, settings));
                ct_eq(expected.as_bytes(), field.as_bytes())
            }
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(Failure::page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The form could not be verified. Go back, reload the page and try again.",
        ))
    }
}

/// The origin a form's redirect may lead to, for the page's CSP `form-action`.
pub fn form_target(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        // A native app's private-use scheme: CSP names it as `scheme:`.
        scheme => Some(format!("{scheme}:")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn reads_a_cookie_among_several() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; gh_csrf=tok; gh_session=s"))
            .to_http_request();
        assert_eq!(get(&req, CSRF).as_deref(), Some("tok"));
        assert_eq!(get(&req, SESSION).as_deref(), Some("s"));
        assert_eq!(get(&req, "missing"), None);
    }

    fn settings(issuer: &str) -> Settings {
        Settings::resolve(&crate::config::SettingsArgs {
            issuer: Some(issuer.into()),
            database_url: Some("sqlite://unused.db".into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn https_issuers_get_host_prefixed_secure_cookies() {
        let s = settings("https://id.example");
        let sealer = Sealer::from_secret("a test secret that is long enough");
        let session = session_cookie(&s, "v");
        let session = session.to_str().unwrap();
        assert!(
            session.starts_with("__Host-gh_session=v; Path=/;"),
            "{session}"
        );
        assert!(session.contains("Secure") && !session.contains("Domain"));
        let req = TestRequest::default().to_http_request();
        let mut res = HttpResponse::Ok().finish();
        Csrf::for_page(&req, &s, &sealer).set_on(&mut res);
        let csrf = res
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            csrf.starts_with("__Host-gh_csrf=") && csrf.contains("Secure"),
            "{csrf}"
        );
        let plain = settings("http://localhost:8080");
        assert!(session_cookie(&plain, "v")
            .to_str()
            .unwrap()
            .starts_with("gh_session="));
    }

    #[test]
    fn only_issued_csrf_cookies_count() {
        let s = settings("http://localhost:8080");
        let sealer = Sealer::from_secret("a test secret that is long enough");
        let issued = issue_csrf_cookie(&sealer);
        let with = |v: &str| {
            TestRequest::default()
                .insert_header((header::COOKIE, format!("gh_csrf={v}")))
                .to_http_request()
        };
        assert_eq!(
            issued_csrf_cookie(&with(&issued), &s, &sealer),
            Some(issued.clone())
        );
        let last = if issued.ends_with('A') { 'B' } else { 'A' };
        let forged = format!("{}{last}", &issued[..issued.len() - 1]);
        assert_eq!(issued_csrf_cookie(&with(&forged), &s, &sealer), None);
        let other = Sealer::from_secret("another secret that is long enough");
        assert_eq!(issued_csrf_cookie(&with(&issued), &s, &other), None);
        // The token differs by session.
        assert_ne!(
            form_token(&sealer, &issued, ""),
            form_token(&sealer, &issued, "h")
        );
    }

    #[test]
    fn form_targets_are_origins() {
        assert_eq!(
            form_target("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            form_target("http://127.0.0.1:5000/cb").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            form_target("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
    }
}

//! The two browser cookies: the login session (`gh_session`) and the double-submit CSRF
//! token (`gh_csrf`) of the login, consent and logout forms.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::errors::Failure;
use crate::config::Settings;
use crate::crypto::{ct_eq, random_token};
use crate::oauth::params::Params;

pub const SESSION: &str = "gh_session";
pub const CSRF: &str = "gh_csrf";
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
        SESSION,
        value,
        "Lax",
        Some(settings.lifetimes.session),
    )
}

pub fn clear_session_cookie(settings: &Settings) -> HeaderValue {
    set_cookie(settings, SESSION, "", "Lax", Some(0))
}

pub fn add(res: &mut HttpResponse, cookie: HeaderValue) {
    res.headers_mut().append(header::SET_COOKIE, cookie);
}

/// The CSRF token a form page embeds, and the cookie to set when the browser has none.
pub struct Csrf {
    pub token: String,
    cookie: Option<HeaderValue>,
}

impl Csrf {
    /// Reuses the browser's token (so pages open in several tabs all stay valid).
    pub fn for_page(req: &HttpRequest, settings: &Settings) -> Csrf {
        match get(req, CSRF).filter(|t| t.len() == 43) {
            Some(token) => Csrf {
                token,
                cookie: None,
            },
            None => {
                let token = random_token(32);
                let cookie = Some(set_cookie(settings, CSRF, &token, "Strict", None));
                Csrf { token, cookie }
            }
        }
    }

    pub fn set_on(&self, res: &mut HttpResponse) {
        if let Some(c) = &self.cookie {
            add(res, c.clone());
        }
    }
}

/// A form post must repeat the CSRF cookie in its `csrf_token` field.
pub fn check_csrf(req: &HttpRequest, form: &Params) -> Result<(), Failure> {
    let ok = match (get(req, CSRF), form.get(CSRF_FIELD)) {
        (Some(cookie), Some(field)) => ct_eq(cookie.as_bytes(), field.as_bytes()),
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

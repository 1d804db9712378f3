//! Signing in to the admin pages through the normal login page: `GET /login?return_to=…`
//! shows the login form without an authorization request, and a successful
//! `POST /login` with `return_to` goes back there. `return_to` is only ever a path under
//! `/admin`, never an absolute or external URL, so the login cannot be turned into an
//! open redirect.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::{see_other, PREFIX};
use crate::http::authorize::{render_login, LoginFor};
use crate::http::errors::Failure;
use crate::http::Data;
use crate::oauth::params::Params;

/// A page of gatehouse's own to return to after signing in: the path (and query) of an
/// admin page, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// Accepts `/admin` and paths under it (not the admin API), as the server would
    /// resolve them; refuses absolute and scheme-relative URLs, backslashes, fragments,
    /// control characters, and dot segments that climb out of `/admin`.
    pub fn parse(raw: &str) -> Option<ReturnTo> {
        if !raw.starts_with('/')
            || raw.starts_with("//")
            || raw.len() > 2048
            || raw.contains(['\\', '#'])
            || raw.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        let base = url::Url::parse("http://gatehouse.invalid/").expect("a valid base");
        let url = base.join(raw).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let path = url.path();
        let under_admin = path == PREFIX || path.starts_with(&format!("{PREFIX}/"));
        let api = path == "/admin/api" || path.starts_with("/admin/api/");
        // The device verification page signs people in the same way.
        let device = path == crate::http::device::PATH_VERIFY;
        // And the account page.
        let account = path == crate::http::account::PATH;
        if !(under_admin || device || account) || api {
            return None;
        }
        Some(ReturnTo(match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }))
    }

    pub fn admin_home() -> ReturnTo {
        ReturnTo(PREFIX.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn bad_return_to() -> Failure {
    Failure::page(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not valid",
        "It does not lead to a page of this server. Open the administration pages again.",
    )
}

/// `GET /login?return_to=/admin/…`: the login form for the admin pages.
pub async fn login_form(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let params = Params::parse_query(req.query_string()).map_err(|_| bad_return_to())?;
    let to = params
        .get("return_to")
        .and_then(ReturnTo::parse)
        .ok_or_else(bad_return_to)?;
    Ok(login_page(&services, &req, &to, StatusCode::OK, "", None))
}

/// What the sign-in pages say it continues to.
pub fn name_for(to: &ReturnTo) -> &'static str {
    let path = to.as_str();
    if path.starts_with(crate::http::device::PATH_VERIFY) {
        "the device that asks for access"
    } else if path.starts_with(crate::http::account::PATH) {
        "your account"
    } else {
        "gatehouse administration"
    }
}

/// The login page for signing in to the admin pages.
pub fn login_page(
    services: &Data,
    req: &HttpRequest,
    to: &ReturnTo,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let login = LoginFor {
        client_name: name_for(to),
        request: "",
        return_to: Some(to.as_str()),
        form_targets: Vec::new(),
    };
    render_login(services, req, login, status, username, error)
}

/// After a successful login: back to the admin page.
pub fn back_to(services: &Data, to: &ReturnTo) -> HttpResponse {
    see_other(&services.settings.url(to.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        ReturnTo::parse(raw)
            .unwrap_or_else(|| panic!("{raw} refused"))
            .0
    }

    #[test]
    fn admin_paths_are_accepted_and_normalized() {
        assert_eq!(ok("/admin"), "/admin");
        assert_eq!(ok("/admin/"), "/admin/");
        assert_eq!(ok("/admin/clients?offset=50"), "/admin/clients?offset=50");
        assert_eq!(ok("/admin/users/./new"), "/admin/users/new");
        assert_eq!(ok("/admin/a/../clients"), "/admin/clients");
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in [
            "",
            "admin",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/\\evil.example/admin",
            "/admin\\..\\..\\x",
            "/admin/../token",
            "/admin/%2e%2e/token",
            "/admin/%2E%2E/%2e%2e/x",
            "/adminx",
            "/administrator",
            "/admin/api",
            "/admin/api/clients",
            "/admin/clients#frag",
            "/admin/\nSet-Cookie: x",
            "/admin/ x",
            "/token",
            "/",
        ] {
            assert!(ReturnTo::parse(raw).is_none(), "{raw:?} accepted");
        }
    }
}

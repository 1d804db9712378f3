//! The one place that decides how a protocol error reaches the other side: JSON (400 or
//! 401 with `WWW-Authenticate`), a Bearer challenge, a redirect carrying `error`, `state`
//! and `iss`, or an HTML page for requests that must not be redirected.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::pages;
use crate::oauth::error::{ErrorCode, OAuthError};

#[derive(Debug)]
pub enum Failure {
    /// Token, introspection, revocation and registration endpoints.
    Json(OAuthError),
    /// Protected resources (RFC 6750).
    Bearer(OAuthError),
    /// A protected resource called without any token: a bare challenge (RFC 6750 §3.1).
    BearerMissing,
    /// An authorization response to a verified redirect URI.
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        state: Option<String>,
        issuer: String,
    },
    /// A page for a person: the request cannot be sent back to the client.
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
}

impl Failure {
    pub fn page(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Failure::Page {
            status,
            title: title.into(),
            message: message.into(),
        }
    }
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        Failure::Json(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Json(e) | Failure::Bearer(e) | Failure::Redirect { error: e, .. } => e.fmt(f),
            Failure::Page { title, .. } => f.write_str(title),
            Failure::BearerMissing => f.write_str("authentication required"),
        }
    }
}

fn json_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

/// Adds `error`, `error_description`, `state` and `iss` to a redirect URI's query,
/// keeping any query it already has.
pub fn authorization_redirect(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(redirect_uri).expect("registered redirect URIs are absolute");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        match self {
            Failure::Json(e) => json_status(e.code),
            Failure::Bearer(e) => match e.code {
                ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
                other => json_status(other),
            },
            Failure::BearerMissing => StatusCode::UNAUTHORIZED,
            Failure::Redirect { .. } => StatusCode::SEE_OTHER,
            Failure::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Failure::Json(e) => {
                let mut res = HttpResponse::build(status);
                res.insert_header(("Cache-Control", "no-store"));
                if status == StatusCode::UNAUTHORIZED {
                    let scheme = if e.basic_challenge { "Basic" } else { "Bearer" };
                    res.insert_header((
                        "WWW-Authenticate",
                        format!("{scheme} realm=\"gatehouse\""),
                    ));
                }
                let mut body = json!({ "error": e.code.as_str() });
                if let Some(d) = &e.description {
                    body["error_description"] = json!(d);
                }
                res.json(body)
            }
            Failure::Bearer(e) => {
                let mut challenge =
                    format!("Bearer realm=\"gatehouse\", error=\"{}\"", e.code.as_str());
                if let Some(d) = &e.description {
                    challenge.push_str(&format!(", error_description=\"{}\"", quote(d)));
                }
                let mut body = json!({ "error": e.code.as_str() });
                if let Some(d) = &e.description {
                    body["error_description"] = json!(d);
                }
                HttpResponse::build(status)
                    .insert_header(("WWW-Authenticate", challenge))
                    .insert_header(("Cache-Control", "no-store"))
                    .json(body)
            }
            Failure::BearerMissing => HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer realm=\"gatehouse\""))
                .insert_header(("Cache-Control", "no-store"))
                .finish(),
            Failure::Redirect {
                error,
                redirect_uri,
                state,
                issuer,
            } => {
                let mut params = vec![("error", error.code.as_str())];
                if let Some(d) = &error.description {
                    params.push(("error_description", d));
                }
                if let Some(s) = state {
                    params.push(("state", s));
                }
                params.push(("iss", issuer));
                HttpResponse::SeeOther()
                    .insert_header(("Location", authorization_redirect(redirect_uri, &params)))
                    .insert_header(("Cache-Control", "no-store"))
                    .finish()
            }
            Failure::Page { title, message, .. } => pages::error_page(status, title, message),
        }
    }
}

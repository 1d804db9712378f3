//! The one place that decides how a protocol error reaches the other side: JSON (400 or
//! 401 with `WWW-Authenticate`), a Bearer challenge, a redirect carrying `error`, `state`
//! and `iss`, an HTML page for requests that must not be redirected, or the admin API's
//! one JSON error shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::pages;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::store::StoreError;

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
        form_post: bool,
    },
    /// A page for a person: the request cannot be sent back to the client.
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
    /// The admin REST API: every failure in one shape, see [`ApiError`].
    Api(ApiError),
    /// An OAuth error JSON with 429: the caller asked too often (open registration).
    TooMany(OAuthError),
    /// A protected resource refusing a DPoP-scheme request (RFC 9449 §7.1): a `DPoP`
    /// challenge, and the nonce to use when one is required.
    Dpop {
        error: OAuthError,
        nonce: Option<String>,
    },
}

/// The admin REST API's error: always `{"error": code, "message": text}`, whatever went
/// wrong, so that scripts parse one shape. Codes: `invalid_request` (400),
/// `invalid_token` (401), `insufficient_scope` (403), `not_found` (404),
/// `method_not_allowed` (405), `conflict` (409), `server_error` (500),
/// `temporarily_unavailable` (503). Authentication failures keep
/// their RFC 6750 `WWW-Authenticate` challenge.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    challenge: Option<String>,
}

/// The body of every admin API error.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    /// A stable, machine-readable code such as `not_found`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource does not support the method",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::conflict(m),
            // Logged, and reduced to a code and a safe description, like every other store
            // failure that reaches a client.
            other => Failure::Json(OAuthError::from(other)).into_api(),
        }
    }
}

impl From<crate::app::AppError> for ApiError {
    fn from(e: crate::app::AppError) -> Self {
        use crate::app::AppError;
        match e {
            AppError::Invalid(m) => ApiError::bad_request(m),
            AppError::Metadata(m) => ApiError::bad_request(m.to_string()),
            AppError::NotFound(m) => ApiError::not_found(m),
            AppError::Conflict(m) => ApiError::conflict(m),
            AppError::Store(s) => s.into(),
        }
    }
}

impl From<crate::app::AppError> for Failure {
    fn from(e: crate::app::AppError) -> Self {
        Failure::Api(e.into())
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
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
            Failure::Json(e)
            | Failure::TooMany(e)
            | Failure::Bearer(e)
            | Failure::Dpop { error: e, .. }
            | Failure::Redirect { error: e, .. } => e.fmt(f),
            Failure::Page { title, .. } => f.write_str(title),
            Failure::BearerMissing => f.write_str("authentication required"),
            Failure::Api(e) => write!(f, "{}: {}", e.code, e.message),
        }
    }
}

impl Failure {
    /// The same failure in the admin API's shape: the status and (for 401 and 403) the
    /// challenge stay as they are; the body becomes `{"error", "message"}`.
    pub fn into_api(self) -> ApiError {
        let status = self.status_code();
        match self {
            Failure::Api(e) => e,
            Failure::Json(e)
            | Failure::TooMany(e)
            | Failure::Bearer(e)
            | Failure::Dpop { error: e, .. }
            | Failure::Redirect { error: e, .. } => {
                let challenge = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                    .then(|| bearer_challenge(&e));
                ApiError {
                    status,
                    code: e.code.as_str(),
                    message: e
                        .description
                        .unwrap_or_else(|| e.code.as_str().replace('_', " ")),
                    challenge,
                }
            }
            Failure::BearerMissing => ApiError {
                status,
                code: ErrorCode::InvalidToken.as_str(),
                message: "a Bearer access token is required".into(),
                // No error attribute for a request without credentials (RFC 6750 §3.1).
                challenge: Some("Bearer realm=\"gatehouse\"".into()),
            },
            Failure::Page { title, message, .. } => {
                ApiError::new(status, "invalid_request", format!("{title}: {message}"))
            }
        }
    }
}

/// RFC 6750 §3: the challenge carrying an error code and its description.
fn bearer_challenge(e: &OAuthError) -> String {
    let mut challenge = format!("Bearer realm=\"gatehouse\", error=\"{}\"", e.code.as_str());
    if let Some(d) = &e.description {
        challenge.push_str(&format!(", error_description=\"{}\"", quote(d)));
    }
    challenge
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

/// RFC 9449 §7.1: a `DPoP` challenge naming the algorithms, the error, and the nonce to
/// use when one is required.
fn dpop_response(status: StatusCode, error: &OAuthError, nonce: Option<&str>) -> HttpResponse {
    let mut challenge = format!(
        "DPoP algs=\"{}\", error=\"{}\"",
        crate::oauth::dpop::ALGS.join(" "),
        error.code.as_str()
    );
    if let Some(d) = &error.description {
        challenge.push_str(&format!(", error_description=\"{}\"", quote(d)));
    }
    let mut body = json!({ "error": error.code.as_str() });
    if let Some(d) = &error.description {
        body["error_description"] = json!(d);
    }
    let mut res = HttpResponse::build(status);
    res.insert_header(("WWW-Authenticate", challenge))
        .insert_header(("Cache-Control", "no-store"));
    if let Some(n) = nonce {
        res.insert_header(("DPoP-Nonce", n));
    }
    res.json(body)
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

/// `redirect_uri` with `params` added to its query (keeping any query it has); `None`
/// when it is not an absolute URL that can carry them.
pub fn redirect_location(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    // No parameters leave the URI as registered (no dangling `?`).
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Some(url.to_string())
}

/// An authorization response (success or error) in the request's response mode: a
/// redirect, or a form the browser posts to the redirect URI (Form Post Response Mode).
pub fn authorization_response(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
    form_post: bool,
) -> HttpResponse {
    if !form_post {
        return redirect_response(redirect_uri, params, state, Some(issuer));
    }
    let mut fields: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    fields.extend(state.map(|s| ("state".to_string(), s.to_string())));
    fields.push(("iss".into(), issuer.to_string()));
    pages::form_post(redirect_uri, fields)
}

/// The one way an answer goes back to a verified redirect URI, success or error alike:
/// the response's own parameters, then `state` and (for authorization responses,
/// RFC 9207) `iss`, as a 303 that is never cached. A URI that cannot carry them gets an
/// error page instead of a broken redirect.
pub fn redirect_response(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: Option<&str>,
) -> HttpResponse {
    let mut all = params.to_vec();
    all.extend(state.map(|s| ("state", s)));
    all.extend(issuer.map(|i| ("iss", i)));
    match redirect_location(redirect_uri, &all) {
        Some(location) => HttpResponse::SeeOther()
            .insert_header(("Location", location))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        None => pages::error_page(
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            "The address to return to is not valid.",
        ),
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        match self {
            Failure::Json(e) => json_status(e.code),
            Failure::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Failure::Dpop { error, .. } => match error.code {
                ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            },
            Failure::Api(e) => e.status,
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
        let mut res = self.response();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("3600"),
            );
        }
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("1"),
            );
        }
        res
    }
}

impl Failure {
    fn response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Failure::Json(e) | Failure::TooMany(e) => {
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
                let challenge = bearer_challenge(e);
                let mut body = json!({ "error": e.code.as_str() });
                if let Some(d) = &e.description {
                    body["error_description"] = json!(d);
                }
                HttpResponse::build(status)
                    .insert_header(("WWW-Authenticate", challenge))
                    .insert_header(("Cache-Control", "no-store"))
                    .json(body)
            }
            Failure::Dpop { error, nonce } => dpop_response(status, error, nonce.as_deref()),
            Failure::BearerMissing => HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer realm=\"gatehouse\""))
                .insert_header(("Cache-Control", "no-store"))
                .finish(),
            Failure::Redirect {
                error,
                redirect_uri,
                state,
                issuer,
                form_post,
            } => {
                let mut params = vec![("error", error.code.as_str())];
                if let Some(d) = &error.description {
                    params.push(("error_description", d));
                }
                authorization_response(redirect_uri, &params, state.as_deref(), issuer, *form_post)
            }
            Failure::Page { title, message, .. } => pages::error_page(status, title, message),
            Failure::Api(e) => {
                let mut res = HttpResponse::build(status);
                res.insert_header(("Cache-Control", "no-store"));
                if let Some(c) = &e.challenge {
                    res.insert_header(("WWW-Authenticate", c.as_str()));
                }
                res.json(ApiErrorBody {
                    error: e.code.to_string(),
                    message: e.message.clone(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_query_and_add_state_and_iss_last() {
        let res = redirect_response(
            "https://app.example/cb?x=1",
            &[("code", "c1")],
            Some("s"),
            Some("https://id.example"),
        );
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let location = res.headers().get("location").unwrap().to_str().unwrap();
        assert_eq!(
            location,
            "https://app.example/cb?x=1&code=c1&state=s&iss=https%3A%2F%2Fid.example"
        );
    }

    #[test]
    fn a_uri_that_cannot_carry_the_answer_gets_a_page_not_a_panic() {
        let res = redirect_response("http://127.0.0.1:99999/cb", &[("code", "c")], None, None);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.headers().get("location").is_none());
    }
}

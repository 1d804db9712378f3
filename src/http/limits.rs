//! Limits on the request line and headers, answered in each endpoint's own error form:
//! 414 for a request target that is too long, 431 for headers that are too large, as
//! OAuth error JSON at the protocol and API endpoints and as a page elsewhere.
//! (Beyond these, the HTTP server itself refuses heads over 128 KiB or 96 headers.)

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::HttpResponse;

/// The longest request target (path and query) accepted.
pub const MAX_TARGET: usize = 8 * 1024;
/// The most header bytes (names and values) accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// The most header fields accepted.
pub const MAX_HEADERS: usize = 64;

/// Paths whose errors are OAuth error JSON rather than pages.
fn speaks_json(path: &str) -> bool {
    [
        "/token",
        "/introspect",
        "/revoke",
        "/register",
        "/userinfo",
        "/admin/api",
    ]
    .iter()
    .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// What is wrong with the request's head, if anything.
fn check(req: &ServiceRequest) -> Option<(StatusCode, &'static str)> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET {
        return Some((StatusCode::URI_TOO_LONG, "the request URI is too long"));
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request headers are too large",
        ));
    }
    None
}

fn refusal(path: &str, status: StatusCode, message: &str) -> HttpResponse {
    if speaks_json(path) {
        return HttpResponse::build(status)
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "error": "invalid_request",
                "error_description": message,
            }));
    }
    let title = if status == StatusCode::URI_TOO_LONG {
        "Address too long"
    } else {
        "Request too large"
    };
    super::pages::error_page(
        status,
        title,
        &format!("The server cannot read this request: {message}."),
    )
}

pub async fn limit_head(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some((status, message)) = check(&req) {
        let res = refusal(req.path(), status, message);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn long_targets_and_large_heads_are_refused() {
        let long = format!("/authorize?x={}", "a".repeat(MAX_TARGET));
        let req = TestRequest::get().uri(&long).to_srv_request();
        assert_eq!(check(&req).unwrap().0, StatusCode::URI_TOO_LONG);
        let req = TestRequest::get()
            .uri("/token")
            .insert_header(("cookie", "c".repeat(MAX_HEADER_BYTES)))
            .to_srv_request();
        assert_eq!(
            check(&req).unwrap().0,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let req = TestRequest::get().uri("/authorize?x=1").to_srv_request();
        assert!(check(&req).is_none());
        assert!(speaks_json("/admin/api/users") && speaks_json("/token"));
        assert!(!speaks_json("/authorize") && !speaks_json("/tokens"));
    }
}

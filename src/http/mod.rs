//! HTTP: handlers translate requests to and from the protocol functions.

pub mod account;
pub mod admin_api;
pub mod admin_pages;
pub mod audit;
pub mod authorize;
pub mod bearer;
pub mod context;
pub mod cookies;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod errors;
pub mod frontchannel;
pub mod health;
pub mod introspect;
pub mod limits;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod pages;
pub mod par;
pub mod passkeys;
pub mod qr;
pub mod registration;
pub mod request_object;
pub mod setup;
pub mod token;
pub mod ui;
pub mod userinfo;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::web;

use crate::startup::Services;

pub type Data = web::Data<Services>;

/// An application operation on the blocking pool, its error in the caller's form (the
/// admin API's, RFC 7591's, a page's).
pub async fn run_app<T, E, F>(services: &Services, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<crate::app::AppError>,
    F: FnOnce(&mut dyn crate::oauth::store::Store) -> Result<T, crate::app::AppError>
        + Send
        + 'static,
{
    match services.db.run(move |s| Ok(f(s))).await {
        Ok(result) => result.map_err(E::from),
        Err(e) => Err(E::from(e.into())),
    }
}

/// A JSON answer that holds tokens or secrets: never stored by a cache (RFC 6749 §5.1).
pub fn no_store_json<T: serde::Serialize>(
    status: actix_web::http::StatusCode,
    body: &T,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

/// The request's context, with this server's trusted proxies.
pub fn context(services: &Services, req: &actix_web::HttpRequest) -> context::RequestContext {
    context::RequestContext::of(req, &services.settings.trusted_proxies)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::FormConfig::default().limit(64 * 1024))
        .app_data(web::JsonConfig::default().limit(256 * 1024))
        .service(
            web::scope("")
                .wrap(from_fn(limits::limit_head))
                .wrap(from_fn(log_request))
                .wrap(from_fn(baseline_headers))
                .wrap(from_fn(ui::scope_request))
                .configure(health::configure)
                .configure(discovery::configure)
                .configure(token::configure)
                .configure(par::configure)
                .configure(device::configure)
                .configure(authorize::configure)
                .configure(login::configure)
                .configure(mfa::configure)
                .configure(passkeys::configure)
                .configure(account::configure)
                .configure(logout::configure)
                .configure(userinfo::configure)
                .configure(introspect::configure)
                .configure(registration::configure)
                .configure(setup::configure)
                // Before any `/admin` page scope, which would otherwise take these paths.
                .configure(admin_api::configure)
                .configure(admin_pages::configure)
                .route("/static/style.css", web::get().to(pages::stylesheet))
                .route(ui::BRAND_CSS_PATH, web::get().to(ui::brand_css))
                .route(ui::LOGO_PATH, web::get().to(ui::logo))
                .route(
                    pages::FORM_POST_SCRIPT_PATH,
                    web::get().to(pages::form_post_script),
                )
                .default_service(web::to(fallback)),
        );
}

/// Endpoints that take only POST: another method gets 405 with `Allow`, in JSON.
const POST_ONLY: [&str; 3] = [token::PATH, introspect::INTROSPECT, introspect::REVOKE];

/// Whatever no route took: 405 on a POST-only endpoint, otherwise a 404 page.
async fn fallback(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    if POST_ONLY.contains(&req.path()) {
        return actix_web::HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "error": "invalid_request",
                "error_description": "this endpoint accepts POST only",
            }));
    }
    pages::error_page(
        actix_web::http::StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

/// Logs method, path (never the query, which may carry codes or tokens), status, time,
/// when `GATEHOUSE_ACCESS_LOG` asks for it.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !req
        .app_data::<Data>()
        .is_some_and(|s| s.settings.access_log)
    {
        return next.call(req).await;
    }
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let res = next.call(req).await?;
    tracing::info!(
        %method,
        path,
        status = res.status().as_u16(),
        ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

/// Headers every response carries.
async fn baseline_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req
        .app_data::<Data>()
        .is_some_and(|s| s.settings.is_https());
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    if https {
        // Browsers come back over https only, for a year (RFC 6797).
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

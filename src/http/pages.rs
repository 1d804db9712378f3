//! HTML pages: rendering with askama and the security headers every page carries.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

/// The stylesheet, compiled in so the binary is self-contained.
pub const STYLE_CSS: &str = include_str!("../../static/style.css");

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    ui: super::ui::Ui,
}

/// The Content-Security-Policy of every page. `form_targets` are extra origins a form
/// may end up at: browsers apply `form-action` to the redirect that follows a POST.
pub fn csp(form_targets: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// An HTML response with the page security headers.
pub fn html(status: StatusCode, body: String, form_targets: &[String]) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp(form_targets)))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

pub fn render<T: Template>(status: StatusCode, page: &T, form_targets: &[String]) -> HttpResponse {
    match page.render() {
        Ok(body) => html(status, body, form_targets),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let ui = super::ui::current();
    render(status, &ErrorPage { title, message, ui }, &[])
}

/// The script that submits the form-post page, compiled in like the stylesheet.
pub const FORM_POST_JS: &str = include_str!("../../static/form_post.js");
pub const FORM_POST_SCRIPT_PATH: &str = "/static/form_post.js";

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(String, String)>,
    script: &'a str,
}

/// An authorization response as a form the browser posts to `action` at once; the page's
/// only script is the static file (no inline script), and `form-action` admits `action`.
pub fn form_post(action: &str, fields: Vec<(String, String)>) -> HttpResponse {
    let targets: Vec<String> = url::Url::parse(action)
        .map(|u| vec![u.origin().ascii_serialization()])
        .unwrap_or_default();
    let page = FormPostPage {
        action,
        fields,
        script: FORM_POST_SCRIPT_PATH,
    };
    // The page's only script is the static file; the policy allows 'self' scripts.
    render(StatusCode::OK, &page, &targets)
}

pub async fn form_post_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(FORM_POST_JS)
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(STYLE_CSS)
}

//! What every page people see is rendered with: its language and the operator's
//! branding. Templates extend `page.html` and ask `ui.t("English text")` for each text.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};

use super::Data;
use crate::config::Settings;
use crate::i18n::{negotiate, Lang};

pub const BRAND_CSS_PATH: &str = "/static/brand.css";
pub const LOGO_PATH: &str = "/static/logo";

/// The language and branding of one page.
/// (The default, until a page sets its own, is English and unbranded.)
#[derive(Clone, Default)]
pub struct Ui {
    pub lang: Lang,
    settings: Option<Arc<Settings>>,
}

impl Ui {
    /// For a request: its `ui_locales` (when it carries an authorization request), then
    /// its `Accept-Language`, then the configured default.
    /// The page's language from `ui_locales` (an authorization request's, else the
    /// page's own query's), then `Accept-Language`, then the configured default.
    pub fn of(services: &Data, req: &HttpRequest, ui_locales: Option<&str>) -> Ui {
        let from_query = match ui_locales {
            Some(_) => None,
            None => Ui::locales_of(req.query_string()),
        };
        let ui_locales = ui_locales.or(from_query.as_deref());
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let default = services.settings.ui.default_locale;
        Ui {
            lang: negotiate(ui_locales, accept, default),
            settings: Some(services.settings.clone()),
        }
    }

    /// `english` in the page's language.
    pub fn t<'a>(&self, english: &'a str) -> &'a str {
        self.lang.text(english)
    }

    /// A message the server made, in the page's language: its own text, or a text with
    /// one number in it translated as its `{}` form ("Wait 12 seconds").
    pub fn message(&self, english: &str) -> String {
        let translated = self.t(english);
        if !std::ptr::eq(translated, english) || self.lang == crate::i18n::Lang::En {
            return translated.to_string();
        }
        let Some(start) = english.find(|c: char| c.is_ascii_digit()) else {
            return english.to_string();
        };
        let len = english[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(english.len() - start);
        let pattern = format!("{}{{}}{}", &english[..start], &english[start + len..]);
        match self.t(&pattern) {
            t if t == pattern => english.to_string(),
            t => t.replacen("{}", &english[start..start + len], 1),
        }
    }

    /// The part of a translated `… {} …` text before its placeholder.
    pub fn before<'a>(&self, english: &'a str) -> &'a str {
        let text = self.t(english);
        text.split_once("{}").map_or(text, |(a, _)| a)
    }

    /// The part after the placeholder.
    pub fn after<'a>(&self, english: &'a str) -> &'a str {
        let text = self.t(english);
        text.split_once("{}").map_or("", |(_, b)| b)
    }

    /// A translated text with its placeholder filled (as text; the page escapes it).
    pub fn fill(&self, english: &str, value: impl std::fmt::Display) -> String {
        self.t(english).replacen("{}", &value.to_string(), 1)
    }

    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    fn ui(&self) -> Option<&crate::config::ui::UiSettings> {
        self.settings.as_deref().map(|s| &s.ui)
    }

    pub fn product(&self) -> Option<&str> {
        self.ui().and_then(|u| u.product_name.as_deref())
    }

    pub fn has_logo(&self) -> bool {
        self.ui().is_some_and(|u| u.logo.is_some())
    }

    pub fn has_accent(&self) -> bool {
        self.ui().is_some_and(|u| u.accent.is_some())
    }

    pub fn support(&self) -> Option<&str> {
        self.ui().and_then(|u| u.support_url.as_deref())
    }

    /// The `ui_locales` of an authorization request carried as a query string.
    pub fn locales_of(query: &str) -> Option<String> {
        crate::oauth::params::Params::parse_query(query)
            .ok()?
            .get("ui_locales")
            .map(str::to_string)
    }

    /// Whether the page has a branded header.
    pub fn branded(&self) -> bool {
        self.has_logo() || self.product().is_some()
    }
}

tokio::task_local! {
    /// The language and branding of the request being answered, for pages rendered
    /// where the request is out of reach (error pages).
    static CURRENT: Ui;
}

/// Runs the rest of the request with its [`Ui`] at hand for error pages (by the query's
/// `ui_locales`, then `Accept-Language`).
pub async fn scope_request<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    let ui = match req.app_data::<Data>() {
        Some(services) => {
            let locales = Ui::locales_of(req.query_string());
            Ui::of(services, req.request(), locales.as_deref())
        }
        None => Ui::default(),
    };
    CURRENT.scope(ui, next.call(req)).await
}

/// The current request's [`Ui`]; English and unbranded outside a request.
pub fn current() -> Ui {
    CURRENT.try_with(Ui::clone).unwrap_or_default()
}

/// `/static/brand.css`: the accent colour, when the operator set one.
pub async fn brand_css(services: Data) -> HttpResponse {
    let css = match &services.settings.ui.accent {
        Some(c) => format!(":root {{ --accent: {c}; }}\n"),
        None => String::new(),
    };
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(css)
}

/// `/static/logo`: the operator's logo; an SVG cannot run script (its own CSP).
pub async fn logo(services: Data) -> HttpResponse {
    match &services.settings.ui.logo {
        Some(l) => HttpResponse::Ok()
            .content_type(l.content_type)
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(l.bytes.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_a_number_is_translated_by_its_pattern() {
        let de = Ui {
            lang: Lang::De,
            settings: None,
        };
        let wait = "Too many wrong codes. Wait 17 seconds, then try again.";
        assert_eq!(
            de.message(wait),
            "Zu viele falsche Codes. Warten Sie 17 Sekunden und versuchen Sie es dann erneut."
        );
        assert_eq!(de.message("Removed."), "Entfernt.");
        assert_eq!(de.message("Unknown 5 text"), "Unknown 5 text");
        assert_eq!(Ui::default().message(wait), wait);
        assert_eq!(de.before("Signed in as {}"), "Angemeldet als ");
        assert_eq!(
            de.after("Allow {} to use your account?"),
            " Ihr Konto verwenden?"
        );
        assert_eq!(
            de.fill("Recovery codes left: {}.", 3),
            "Verbleibende Wiederherstellungscodes: 3."
        );
    }
}

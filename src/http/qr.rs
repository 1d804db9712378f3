//! QR codes as inline SVG, for scanning an authenticator app's secret off the page (no
//! image service, no script).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The SVG of a QR code for `text`, sized by CSS; empty if the text is too long for
/// a QR code (the page shows the secret as text too).
pub fn svg(text: &str) -> String {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
            // The page gives it a role and a name; the XML declaration is not for HTML.
            .replace("<?xml version=\"1.0\" standalone=\"yes\"?>", ""),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg_or_nothing() {
        let s = super::svg("otpauth://totp/x:y?secret=MZXW6YTBOI");
        assert!(
            s.trim_start().starts_with("<svg"),
            "{}",
            &s[..40.min(s.len())]
        );
        assert_eq!(super::svg(&"x".repeat(5000)), "");
    }
}

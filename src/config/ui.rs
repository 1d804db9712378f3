//! Settings of the pages people see: the operator's branding (product name, logo,
//! accent colour, support link) and the default language.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use super::{bad, pick, ConfigError};
use crate::i18n::Lang;

/// Flags of the pages' branding and language.
#[derive(Debug, Clone, Default, Args)]
pub struct UiArgs {
    /// The product name shown at the top of every page people see [default: none]
    #[arg(long, env = "GATEHOUSE_PRODUCT_NAME", global = true)]
    pub product_name: Option<String>,
    /// A logo (PNG, JPEG, WebP or SVG, at most 256 KiB) shown beside the product name
    #[arg(long, env = "GATEHOUSE_LOGO_FILE", global = true, value_name = "FILE")]
    pub logo_file: Option<PathBuf>,
    /// The accent colour of buttons and links, #rrggbb, at least 4.5:1 against white
    /// [default: #0b57d0]
    #[arg(long, env = "GATEHOUSE_ACCENT_COLOR", global = true)]
    pub accent_color: Option<String>,
    /// Where people get help, linked at the bottom of every page they see
    #[arg(long, env = "GATEHOUSE_SUPPORT_URL", global = true)]
    pub support_url: Option<String>,
    /// The pages' language when the request names none we have: en or de [default: en]
    #[arg(long, env = "GATEHOUSE_DEFAULT_LOCALE", global = true)]
    pub default_locale: Option<String>,
}

/// The same settings as read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiFile {
    product_name: Option<String>,
    logo_file: Option<PathBuf>,
    accent_color: Option<String>,
    support_url: Option<String>,
    default_locale: Option<String>,
}

impl UiFile {
    pub const KEYS: &[&str] = &[
        "product_name",
        "logo_file",
        "accent_color",
        "support_url",
        "default_locale",
    ];
}

/// A logo, read at start.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logo({}, {} bytes)", self.content_type, self.bytes.len())
    }
}

/// Resolved page settings. The default is neutral: no name, no logo, the standard
/// colours.
#[derive(Debug, Clone, Default)]
pub struct UiSettings {
    pub product_name: Option<String>,
    pub logo: Option<Logo>,
    pub accent: Option<String>,
    pub support_url: Option<String>,
    pub default_locale: Lang,
}

const MAX_LOGO: u64 = 256 * 1024;

fn logo(path: PathBuf) -> Result<Logo, ConfigError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let content_type = match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        _ => {
            return Err(bad(
                "GATEHOUSE_LOGO_FILE",
                "must be a .png, .jpg, .webp or .svg file",
            ))
        }
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| {
            bad(
                "GATEHOUSE_LOGO_FILE",
                format!("cannot read {}: {e}", path.display()),
            )
        })?
        .len();
    if size > MAX_LOGO {
        return Err(bad("GATEHOUSE_LOGO_FILE", "is larger than 256 KiB"));
    }
    let bytes = std::fs::read(&path).map_err(|e| {
        bad(
            "GATEHOUSE_LOGO_FILE",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(Logo {
        bytes,
        content_type,
    })
}

/// The WCAG 2 contrast ratio of an `#rrggbb` colour against white.
pub fn contrast_with_white(hex: &str) -> Option<f64> {
    let digits = hex.strip_prefix('#').filter(|d| d.len() == 6)?;
    let channel = |i: usize| -> Option<f64> {
        let v = f64::from(u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()?) / 255.0;
        Some(if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        })
    };
    let l = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (l + 0.05))
}

fn accent(raw: String) -> Result<String, ConfigError> {
    let name = "GATEHOUSE_ACCENT_COLOR";
    let ratio = contrast_with_white(&raw).ok_or_else(|| bad(name, "must be #rrggbb"))?;
    if ratio < 4.5 {
        return Err(bad(
            name,
            format!("'{raw}' has a contrast of {ratio:.2}:1 against white; at least 4.5:1 is needed (WCAG 2.2 AA) for white text on buttons and for links"),
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

fn support(raw: String) -> Result<String, ConfigError> {
    match url::Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "https" | "http" | "mailto") => Ok(raw),
        _ => Err(bad(
            "GATEHOUSE_SUPPORT_URL",
            "must be an https, http or mailto URL",
        )),
    }
}

pub fn resolve(args: &UiArgs, file: UiFile) -> Result<UiSettings, ConfigError> {
    let name = pick(&args.product_name, file.product_name).filter(|n| !n.trim().is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        return Err(bad(
            "GATEHOUSE_PRODUCT_NAME",
            "is longer than 64 characters",
        ));
    }
    let default_locale = match pick(&args.default_locale, file.default_locale) {
        None => Lang::En,
        Some(tag) => Lang::parse(&tag).ok_or_else(|| {
            bad(
                "GATEHOUSE_DEFAULT_LOCALE",
                format!("'{tag}' is not en or de"),
            )
        })?,
    };
    Ok(UiSettings {
        product_name: name.map(|n| n.trim().to_string()),
        logo: pick(&args.logo_file, file.logo_file)
            .map(logo)
            .transpose()?,
        accent: pick(&args.accent_color, file.accent_color)
            .map(accent)
            .transpose()?,
        support_url: pick(&args.support_url, file.support_url)
            .map(support)
            .transpose()?,
        default_locale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_are_checked_for_contrast() {
        assert!((contrast_with_white("#000000").unwrap() - 21.0).abs() < 0.01);
        assert!((contrast_with_white("#ffffff").unwrap() - 1.0).abs() < 0.01);
        assert!(accent("#0B57D0".into()).is_ok());
        let pale = accent("#7fb3ff".into()).unwrap_err();
        assert!(pale.reason.contains("4.5:1"), "{}", pale.reason);
        assert!(accent("blue".into()).is_err());
        assert!(accent("#12345".into()).is_err());
    }

    #[test]
    fn the_default_is_neutral_and_bad_values_are_named() {
        let ui = resolve(&UiArgs::default(), UiFile::default()).unwrap();
        assert!(ui.product_name.is_none() && ui.logo.is_none() && ui.accent.is_none());
        assert_eq!(ui.default_locale, Lang::En);
        let args = UiArgs {
            default_locale: Some("fr".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, UiFile::default()).unwrap_err().setting,
            "GATEHOUSE_DEFAULT_LOCALE"
        );
        let args = UiArgs {
            logo_file: Some("logo.gif".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, UiFile::default()).unwrap_err().setting,
            "GATEHOUSE_LOGO_FILE"
        );
        let args = UiArgs {
            support_url: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, UiFile::default()).unwrap_err().setting,
            "GATEHOUSE_SUPPORT_URL"
        );
    }
}

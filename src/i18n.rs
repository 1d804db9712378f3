//! The languages of the pages people see. English is the source: every user-facing
//! string is written in English where it is used, and that text is the key of its
//! translation in `locales/<lang>.toml` (as gettext does), so a missing translation
//! falls back to the English text, never to a key. The language is chosen by the
//! request's `ui_locales`, then `Accept-Language`, then the configured default.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A language the pages are translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The BCP 47 tag (`ui_locales_supported`, `<html lang>`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language of a BCP 47 tag, by its primary subtag (`de-AT` is German).
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }

    fn table(self) -> Option<&'static HashMap<String, String>> {
        static DE: OnceLock<HashMap<String, String>> = OnceLock::new();
        match self {
            Lang::En => None,
            Lang::De => Some(DE.get_or_init(|| load(include_str!("../locales/de.toml")))),
        }
    }

    /// `english` in this language; the English text itself where none is given.
    pub fn text(self, english: &str) -> &str {
        match self.table().and_then(|t| t.get(english)) {
            Some(translated) => translated,
            None => english,
        }
    }
}

/// A translation file: English text = translated text.
fn load(source: &str) -> HashMap<String, String> {
    let table: toml::Table = toml::from_str(source).expect("a translation file parses");
    table
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect()
}

/// The language for a request: the first supported of `ui_locales` (space-separated,
/// in order of preference, OIDC Core §3.1.2.1), else the best supported of
/// `Accept-Language` (by q-value), else `default`.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>, default: Lang) -> Lang {
    if let Some(lang) = ui_locales
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(Lang::parse)
    {
        return lang;
    }
    let mut best: Option<(f32, Lang)> = None;
    for item in accept_language.unwrap_or("").split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or(default, |(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_win_then_accept_language_then_the_default() {
        assert_eq!(negotiate(Some("fr de-CH"), Some("en"), Lang::En), Lang::De);
        assert_eq!(
            negotiate(Some("fr"), Some("de;q=0.8, en;q=0.9"), Lang::De),
            Lang::En
        );
        assert_eq!(negotiate(None, Some("fr, de-DE;q=0.5"), Lang::En), Lang::De);
        assert_eq!(negotiate(None, Some("de;q=0, fr"), Lang::En), Lang::En);
        assert_eq!(negotiate(None, None, Lang::De), Lang::De);
        assert_eq!(
            negotiate(Some(""), Some("garbage;;q=x"), Lang::En),
            Lang::En
        );
    }

    #[test]
    fn a_missing_translation_is_the_english_text() {
        assert_eq!(Lang::De.text("Sign in"), "Anmelden");
        assert_eq!(
            Lang::De.text("No such text anywhere"),
            "No such text anywhere"
        );
        assert_eq!(Lang::En.text("Sign in"), "Sign in");
    }

    /// Every text the pages ask for is translated, and no translation is for a text
    /// no page asks for.
    #[test]
    fn the_german_file_covers_every_page_text() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut used = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "html") {
                let text = std::fs::read_to_string(&path).unwrap();
                for call in ["ui.t(\"", "ui.fill(\"", "ui.before(\"", "ui.after(\""] {
                    for piece in text.split(call).skip(1) {
                        used.insert(piece[..piece.find('"').unwrap()].to_string());
                    }
                }
            }
        }
        let de = Lang::De.table().unwrap();
        let missing: Vec<_> = used.iter().filter(|k| !de.contains_key(*k)).collect();
        assert!(missing.is_empty(), "not in locales/de.toml: {missing:#?}");
        let code = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let stale: Vec<_> = de
            .keys()
            .filter(|k| !used.contains(*k) && !in_code(code, k))
            .collect();
        assert!(stale.is_empty(), "translated but never used: {stale:#?}");
    }

    /// Whether `text` appears in the Rust sources under `dir` (texts pages get from code).
    fn in_code(dir: &str, text: &str) -> bool {
        let quoted = format!("{text:?}");
        std::fs::read_dir(dir).unwrap().any(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                in_code(path.to_str().unwrap(), text)
            } else {
                std::fs::read_to_string(&path).is_ok_and(|s| s.contains(&quoted))
            }
        })
    }
}

//! Settings: command-line flags, each with a `GATEHOUSE_*` environment fallback, and an
//! optional TOML file. Precedence: flag > environment > file > default. Settings are
//! resolved once into [`Settings`] and passed to whatever needs them.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::keys::Alg;

mod outbound;
pub mod ui;
pub use outbound::{Outbound, OutboundArgs, RegistrationPolicy};

/// A setting that could not be accepted: names the setting and says why.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

fn bad(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        reason: reason.into(),
    }
}

/// Flags shared by every command; unset ones fall back to the file, then defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// TOML file with settings (keys as the flags, with underscores)
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Issuer URL; every URL gatehouse publishes is derived from it [default: http://localhost:8080]
    #[arg(long, env = "GATEHOUSE_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "GATEHOUSE_BIND", global = true)]
    pub bind: Option<String>,
    /// Address of a separate listener for Prometheus metrics at /metrics [default: off]
    #[arg(long, env = "GATEHOUSE_METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,
    /// sqlite://FILE or postgres://… [default: sqlite://gatehouse.db]
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Secret (32+ characters) from which the key-encryption key is derived
    #[arg(
        long,
        env = "GATEHOUSE_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Access token lifetime, e.g. 600, 10m [default: 10m]
    #[arg(long, env = "GATEHOUSE_ACCESS_TOKEN_TTL", global = true)]
    pub access_token_ttl: Option<String>,
    /// ID token lifetime [default: 10m]
    #[arg(long, env = "GATEHOUSE_ID_TOKEN_TTL", global = true)]
    pub id_token_ttl: Option<String>,
    /// Authorization code lifetime [default: 60s]
    #[arg(long, env = "GATEHOUSE_CODE_TTL", global = true)]
    pub code_ttl: Option<String>,
    /// Absolute refresh token lifetime [default: 30d]
    #[arg(long, env = "GATEHOUSE_REFRESH_TOKEN_TTL", global = true)]
    pub refresh_token_ttl: Option<String>,
    /// Refresh token idle lifetime [default: 14d]
    #[arg(long, env = "GATEHOUSE_REFRESH_TOKEN_IDLE_TTL", global = true)]
    pub refresh_token_idle_ttl: Option<String>,
    /// Window in which the previous refresh token is still accepted once [default: 0s]
    #[arg(long, env = "GATEHOUSE_REFRESH_GRACE", global = true)]
    pub refresh_grace: Option<String>,
    /// How long audit events are kept; 0 keeps them forever [default: 365d]
    #[arg(long, env = "GATEHOUSE_AUDIT_RETENTION", global = true)]
    pub audit_retention: Option<String>,
    /// How often each algorithm gets a new signing key; 0 turns rotation off [default: 30d]
    #[arg(long, env = "GATEHOUSE_KEY_ROTATION", global = true)]
    pub key_rotation: Option<String>,
    /// How long a new key is published before it signs [default: 1d]
    #[arg(long, env = "GATEHOUSE_KEY_PREPUBLISH", global = true)]
    pub key_prepublish: Option<String>,
    /// Login session lifetime [default: 12h]
    #[arg(long, env = "GATEHOUSE_SESSION_TTL", global = true)]
    pub session_ttl: Option<String>,
    /// Default access token signing algorithm: ES256, RS256 or EdDSA [default: ES256]
    #[arg(long, env = "GATEHOUSE_ACCESS_TOKEN_ALG", global = true)]
    pub access_token_alg: Option<String>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Log one line per HTTP request (method, path, status, time) [default: false]
    #[arg(long, env = "GATEHOUSE_ACCESS_LOG", global = true)]
    pub access_log: Option<bool>,
    /// Comma-separated addresses of reverse proxies whose Forwarded / X-Forwarded-For
    /// headers give the client's address [default: none]
    #[arg(
        long,
        env = "GATEHOUSE_TRUSTED_PROXIES",
        global = true,
        value_name = "IPS"
    )]
    pub trusted_proxies: Option<String>,
    #[command(flatten)]
    pub outbound: OutboundArgs,
    #[command(flatten)]
    pub ui: ui::UiArgs,
}

/// The same settings as read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    issuer: Option<String>,
    bind: Option<String>,
    metrics_bind: Option<String>,
    database_url: Option<String>,
    secret_key: Option<String>,
    access_token_ttl: Option<toml::Value>,
    id_token_ttl: Option<toml::Value>,
    code_ttl: Option<toml::Value>,
    refresh_token_ttl: Option<toml::Value>,
    refresh_token_idle_ttl: Option<toml::Value>,
    refresh_grace: Option<toml::Value>,
    session_ttl: Option<toml::Value>,
    key_rotation: Option<toml::Value>,
    key_prepublish: Option<toml::Value>,
    audit_retention: Option<toml::Value>,
    access_token_alg: Option<String>,
    log_format: Option<String>,
    access_log: Option<bool>,
    trusted_proxies: Option<String>,
    /// Read from the same file by [`read_file`] (serde cannot flatten and refuse
    /// unknown keys at once).
    #[serde(skip)]
    outbound: outbound::OutboundFile,
    #[serde(skip)]
    ui: ui::UiFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        const NAME: &str = "GATEHOUSE_DATABASE_URL";
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad(
                    NAME,
                    "sqlite:// needs a file path, e.g. sqlite://gatehouse.db",
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| bad(NAME, format!("not a valid URL: {e}")))?;
            return Ok(Self::Postgres(raw.to_string()));
        }
        let scheme = raw.split_once(':').map(|(s, _)| s).unwrap_or(raw);
        Err(bad(
            NAME,
            format!("unknown scheme '{scheme}' (use sqlite://FILE or postgres://…)"),
        ))
    }
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_token: i64,
    pub id_token: i64,
    pub code: i64,
    pub refresh_token: i64,
    pub refresh_token_idle: i64,
    pub refresh_grace: i64,
    pub session: i64,
    /// How long audit events are kept; 0 keeps them forever.
    pub audit_retention: i64,
    /// Seconds between signing-key rotations per algorithm; 0: no automatic rotation.
    pub key_rotation: i64,
    /// Seconds a new key is in the JWKS before it signs.
    pub key_prepublish: i64,
}

fn pick<T: Clone>(flag: &Option<T>, file: Option<T>) -> Option<T> {
    flag.clone().or(file)
}

/// A lifetime from the flag (or environment), else the file (seconds or a duration),
/// else `default`.
fn ttl(
    name: &'static str,
    flag: &Option<String>,
    file: &Option<toml::Value>,
    default: i64,
) -> Result<i64, ConfigError> {
    match (flag, file) {
        (Some(s), _) => parse_duration(s).map_err(|r| bad(name, r)),
        (None, Some(toml::Value::Integer(n))) if *n >= 0 => Ok(*n),
        (None, Some(toml::Value::String(s))) => parse_duration(s).map_err(|r| bad(name, r)),
        (None, Some(other)) => Err(bad(
            name,
            format!("expected seconds or a duration, got {}", other.type_str()),
        )),
        (None, None) => Ok(default),
    }
}

fn lifetimes(args: &SettingsArgs, file: &FileSettings) -> Result<Lifetimes, ConfigError> {
    let lifetimes = Lifetimes {
        access_token: ttl(
            "GATEHOUSE_ACCESS_TOKEN_TTL",
            &args.access_token_ttl,
            &file.access_token_ttl,
            600,
        )?,
        id_token: ttl(
            "GATEHOUSE_ID_TOKEN_TTL",
            &args.id_token_ttl,
            &file.id_token_ttl,
            600,
        )?,
        code: ttl("GATEHOUSE_CODE_TTL", &args.code_ttl, &file.code_ttl, 60)?,
        refresh_token: ttl(
            "GATEHOUSE_REFRESH_TOKEN_TTL",
            &args.refresh_token_ttl,
            &file.refresh_token_ttl,
            30 * 86400,
        )?,
        refresh_token_idle: ttl(
            "GATEHOUSE_REFRESH_TOKEN_IDLE_TTL",
            &args.refresh_token_idle_ttl,
            &file.refresh_token_idle_ttl,
            14 * 86400,
        )?,
        refresh_grace: ttl(
            "GATEHOUSE_REFRESH_GRACE",
            &args.refresh_grace,
            &file.refresh_grace,
            0,
        )?,
        session: ttl(
            "GATEHOUSE_SESSION_TTL",
            &args.session_ttl,
            &file.session_ttl,
            12 * 3600,
        )?,
        audit_retention: ttl(
            "GATEHOUSE_AUDIT_RETENTION",
            &args.audit_retention,
            &file.audit_retention,
            365 * 86400,
        )?,
        key_rotation: ttl(
            "GATEHOUSE_KEY_ROTATION",
            &args.key_rotation,
            &file.key_rotation,
            30 * 86400,
        )?,
        key_prepublish: ttl(
            "GATEHOUSE_KEY_PREPUBLISH",
            &args.key_prepublish,
            &file.key_prepublish,
            86400,
        )?,
    };
    check_lifetimes(&lifetimes)?;
    Ok(lifetimes)
}

/// Lifetimes that cannot work: zero where a token must live, a pre-publication that
/// does not fit the rotation.
fn check_lifetimes(l: &Lifetimes) -> Result<(), ConfigError> {
    if l.key_prepublish < 2 {
        return Err(bad(
            "GATEHOUSE_KEY_PREPUBLISH",
            "must be at least 2 seconds",
        ));
    }
    if l.key_rotation > 0 && l.key_prepublish >= l.key_rotation {
        return Err(bad(
            "GATEHOUSE_KEY_PREPUBLISH",
            "must be shorter than GATEHOUSE_KEY_ROTATION",
        ));
    }
    for (name, v) in [
        ("GATEHOUSE_ACCESS_TOKEN_TTL", l.access_token),
        ("GATEHOUSE_ID_TOKEN_TTL", l.id_token),
        ("GATEHOUSE_CODE_TTL", l.code),
        ("GATEHOUSE_SESSION_TTL", l.session),
    ] {
        if v == 0 {
            return Err(bad(name, "must be longer than zero"));
        }
    }
    Ok(())
}

fn secret_key(
    value: Option<String>,
    database: &DatabaseUrl,
) -> Result<Option<crate::crypto::KeySecret>, ConfigError> {
    match value {
        Some(s) if s.chars().count() < 32 => Err(bad(
            "GATEHOUSE_SECRET_KEY",
            "must be at least 32 characters",
        )),
        Some(s) => Ok(Some(crate::crypto::KeySecret::new(s))),
        None if matches!(database, DatabaseUrl::Postgres(_)) => {
            Err(bad("GATEHOUSE_SECRET_KEY", "is required with PostgreSQL"))
        }
        None => Ok(None),
    }
}

fn log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(bad(
            "GATEHOUSE_LOG_FORMAT",
            format!("'{other}' is not text or json"),
        )),
    }
}

fn trusted_proxies(list: &str) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                bad(
                    "GATEHOUSE_TRUSTED_PROXIES",
                    format!("'{s}' is not an IP address"),
                )
            })
        })
        .collect()
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer identifier, without a trailing slash.
    pub issuer: String,
    pub bind: String,
    /// Where `/metrics` is served, on a listener of its own; `None`: nowhere.
    pub metrics_bind: Option<String>,
    pub database: DatabaseUrl,
    /// `None` only for SQLite, where a generated secret file beside the database is used.
    pub secret_key: Option<crate::crypto::KeySecret>,
    pub lifetimes: Lifetimes,
    pub access_token_alg: Alg,
    pub log_format: LogFormat,
    /// One log line per HTTP request; off by default, as `/metrics` counts requests by
    /// route and status for a fraction of the cost.
    pub access_log: bool,
    /// Peers whose forwarding headers are believed (RFC 9700 §4.17).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// What gatehouse fetches, and who may register clients.
    pub outbound: Outbound,
    /// Branding and the default language of the pages.
    pub ui: ui::UiSettings,
}

impl Settings {
    /// An endpoint URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Resolves flags/env, the optional file, and defaults.
    pub fn resolve(args: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let issuer = parse_issuer(
            &pick(&args.issuer, file.issuer.clone())
                .unwrap_or_else(|| "http://localhost:8080".into()),
        )?;
        let bind = pick(&args.bind, file.bind.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
        if bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "GATEHOUSE_BIND",
                format!("'{bind}' is not an address like 127.0.0.1:8080"),
            ));
        }
        let metrics_bind = pick(&args.metrics_bind, file.metrics_bind.clone())
            .filter(|b| !b.is_empty())
            .map(|b| match b.parse::<std::net::SocketAddr>() {
                Ok(_) => Ok(b),
                Err(_) => Err(bad(
                    "GATEHOUSE_METRICS_BIND",
                    format!("'{b}' is not an address like 127.0.0.1:9090"),
                )),
            })
            .transpose()?;
        let database = DatabaseUrl::parse(
            &pick(&args.database_url, file.database_url.clone())
                .unwrap_or_else(|| "sqlite://gatehouse.db".into()),
        )?;
        let secret_key = secret_key(pick(&args.secret_key, file.secret_key.clone()), &database)?;
        let lifetimes = lifetimes(args, &file)?;
        let access_token_alg = match pick(&args.access_token_alg, file.access_token_alg.clone()) {
            None => Alg::ES256,
            Some(s) => Alg::parse(&s).ok_or_else(|| {
                bad(
                    "GATEHOUSE_ACCESS_TOKEN_ALG",
                    format!("'{s}' is not one of ES256, RS256, EdDSA"),
                )
            })?,
        };
        let log_format = log_format(pick(&args.log_format, file.log_format.clone()))?;
        let access_log = args.access_log.or(file.access_log).unwrap_or(false);
        let trusted_proxies = trusted_proxies(
            &pick(&args.trusted_proxies, file.trusted_proxies).unwrap_or_default(),
        )?;
        let outbound = outbound::resolve(&args.outbound, file.outbound)?;
        let ui = ui::resolve(&args.ui, file.ui)?;
        Ok(Settings {
            outbound,
            ui,
            trusted_proxies,
            issuer,
            bind,
            metrics_bind,
            database,
            secret_key,
            lifetimes,
            access_token_alg,
            log_format,
            access_log,
        })
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("--config", format!("cannot read {}: {e}", path.display())))?;
    let fail = |e: toml::de::Error| bad("--config", format!("{}: {}", path.display(), e.message()));
    let mut table: toml::Table = toml::from_str(&text).map_err(fail)?;
    let mut outbound = toml::Table::new();
    for key in outbound::OutboundFile::KEYS {
        if let Some(v) = table.remove(*key) {
            outbound.insert(key.to_string(), v);
        }
    }
    let mut ui = toml::Table::new();
    for key in ui::UiFile::KEYS {
        if let Some(v) = table.remove(*key) {
            ui.insert(key.to_string(), v);
        }
    }
    let mut file: FileSettings = table.try_into().map_err(fail)?;
    file.outbound = outbound.try_into().map_err(fail)?;
    file.ui = ui.try_into().map_err(fail)?;
    Ok(file)
}

/// Validates the issuer: http(s), a host, no query or fragment (OpenID Discovery §3).
pub fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    const NAME: &str = "GATEHOUSE_ISSUER";
    let url = url::Url::parse(raw).map_err(|e| bad(NAME, format!("'{raw}' is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad(NAME, "must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(NAME, "must have a host"));
    }
    if url.query().is_some() || raw.contains('?') {
        return Err(bad(NAME, "must not have a query"));
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad(NAME, "must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(NAME, "must not contain credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Seconds from `600`, `45s`, `10m`, `12h` or `30d`.
pub fn parse_duration(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86400),
        _ => (s, 1),
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("'{raw}' is not a duration like 600, 45s, 10m, 12h or 30d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let s = Settings::resolve(&SettingsArgs::default()).unwrap();
        assert_eq!(s.issuer, "http://localhost:8080");
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database, DatabaseUrl::Sqlite("gatehouse.db".into()));
        assert_eq!(s.lifetimes.code, 60);
        assert_eq!(s.lifetimes.refresh_token, 30 * 86400);
        assert_eq!(s.access_token_alg, Alg::ES256);
        assert!(!s.access_log, "one log line per request is opt-in");
        let on = Settings::resolve(&SettingsArgs {
            access_log: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert!(on.access_log);
    }

    #[test]
    fn issuer_rules() {
        assert_eq!(
            parse_issuer("https://id.example.com/").unwrap(),
            "https://id.example.com"
        );
        assert_eq!(
            parse_issuer("https://ex.com/tenant/a").unwrap(),
            "https://ex.com/tenant/a"
        );
        assert!(parse_issuer("https://ex.com/?a=b").is_err());
        assert!(parse_issuer("https://ex.com/#x").is_err());
        assert!(parse_issuer("ftp://ex.com").is_err());
        assert!(parse_issuer("not a url").is_err());
    }

    #[test]
    fn key_rotation_settings_must_fit() {
        let with = |rotation: &str, prepublish: &str| {
            Settings::resolve(&SettingsArgs {
                key_rotation: Some(rotation.into()),
                key_prepublish: Some(prepublish.into()),
                ..Default::default()
            })
        };
        let ok = with("30d", "1d").unwrap();
        assert_eq!(ok.lifetimes.key_prepublish, 86400);
        assert!(with("0", "1d").is_ok(), "rotation off");
        assert!(
            with("1h", "2h").is_err(),
            "pre-publication longer than the rotation"
        );
        assert!(with("1h", "1").is_err(), "too short to be fetched");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), 600);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("30d").unwrap(), 2_592_000);
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn database_schemes() {
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        let err = DatabaseUrl::parse("mysql://x").unwrap_err();
        assert!(err.to_string().contains("GATEHOUSE_DATABASE_URL"));
        assert!(err.to_string().contains("mysql"));
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nissuer = \"https://file.example\"\ncode_ttl = 30\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path),
            issuer: Some("https://flag.example".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.issuer, "https://flag.example");
        assert_eq!(s.bind, "127.0.0.1:9000");
        assert_eq!(s.lifetimes.code, 30);
    }

    #[test]
    fn trusted_proxies_are_addresses() {
        let args = SettingsArgs {
            trusted_proxies: Some("10.0.0.1, ::1".into()),
            ..Default::default()
        };
        assert_eq!(Settings::resolve(&args).unwrap().trusted_proxies.len(), 2);
        let args = SettingsArgs {
            trusted_proxies: Some("proxy.local".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::resolve(&args).unwrap_err().setting,
            "GATEHOUSE_TRUSTED_PROXIES"
        );
    }

    #[test]
    fn postgres_needs_secret() {
        let args = SettingsArgs {
            database_url: Some("postgres://localhost/x".into()),
            ..Default::default()
        };
        let err = Settings::resolve(&args).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_SECRET_KEY");
    }
}

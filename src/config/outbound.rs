//! Settings for what gatehouse fetches and who may register: the fetch policy, client
//! metadata documents and the registration policy.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::{bad, parse_duration, pick, ConfigError};
use crate::domain::{Scopes, ADMIN_SCOPE};
use crate::fetch::{FetchPolicy, HostPattern};

/// Flags of the fetcher and the registration policy.
#[derive(Debug, Clone, Default, Args)]
pub struct OutboundArgs {
    /// Who may register clients (RFC 7591): admin (a gatehouse:admin token) or open
    /// (anyone, within limits) [default: admin]
    #[arg(long, env = "GATEHOUSE_REGISTRATION", global = true)]
    pub registration: Option<String>,
    /// The scopes an open registration or a client metadata document may hold at most
    /// [default: openid profile email offline_access]
    #[arg(long, env = "GATEHOUSE_REGISTRATION_SCOPES", global = true)]
    pub registration_scopes: Option<String>,
    /// Open registrations allowed per client address per hour [default: 10]
    #[arg(long, env = "GATEHOUSE_REGISTRATION_RATE", global = true)]
    pub registration_rate: Option<u32>,
    /// An open registration that has not been used for this long is deleted [default: 30d]
    #[arg(long, env = "GATEHOUSE_REGISTRATION_UNUSED_TTL", global = true)]
    pub registration_unused_ttl: Option<String>,
    /// Accept https URLs as client_id (client ID metadata documents) [default: true]
    #[arg(long, env = "GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS", global = true)]
    pub client_id_metadata_documents: Option<bool>,
    /// Let the fetcher reach loopback addresses, over http or https (development only)
    /// [default: false]
    #[arg(long, env = "GATEHOUSE_FETCH_ALLOW_LOOPBACK", global = true)]
    pub fetch_allow_loopback: Option<bool>,
    /// PEM file of certificate authorities the fetcher trusts besides the system's
    #[arg(
        long,
        env = "GATEHOUSE_FETCH_CA_FILE",
        global = true,
        value_name = "PEM"
    )]
    pub fetch_ca_file: Option<PathBuf>,
    /// Comma-separated hosts (or *.domain) the fetcher may reach; empty: any public host
    #[arg(long, env = "GATEHOUSE_FETCH_ALLOW_HOSTS", global = true)]
    pub fetch_allow_hosts: Option<String>,
    /// Comma-separated hosts (or *.domain) the fetcher never reaches
    #[arg(long, env = "GATEHOUSE_FETCH_DENY_HOSTS", global = true)]
    pub fetch_deny_hosts: Option<String>,
    /// Require server-provided DPoP nonces at the token and userinfo endpoints
    /// (RFC 9449 §8) [default: true]
    #[arg(long, env = "GATEHOUSE_DPOP_NONCE", global = true)]
    pub dpop_nonce: Option<bool>,
    /// Every authorization request must be pushed first (RFC 9126
    /// require_pushed_authorization_requests) [default: false]
    #[arg(long, env = "GATEHOUSE_REQUIRE_PAR", global = true)]
    pub require_par: Option<bool>,
    /// Everyone must sign in with a second factor or a verified passkey; people who
    /// have none set up an authenticator app at their next sign-in [default: false]
    #[arg(long, env = "GATEHOUSE_REQUIRE_MFA", global = true)]
    pub require_mfa: Option<bool>,
    /// Time limit of one fetch [default: 5s]
    #[arg(long, env = "GATEHOUSE_FETCH_TIMEOUT", global = true)]
    pub fetch_timeout: Option<String>,
}

/// The same settings as read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundFile {
    registration: Option<String>,
    registration_scopes: Option<String>,
    registration_rate: Option<u32>,
    registration_unused_ttl: Option<String>,
    client_id_metadata_documents: Option<bool>,
    fetch_allow_loopback: Option<bool>,
    fetch_ca_file: Option<PathBuf>,
    fetch_allow_hosts: Option<String>,
    fetch_deny_hosts: Option<String>,
    fetch_timeout: Option<String>,
    dpop_nonce: Option<bool>,
    require_par: Option<bool>,
    require_mfa: Option<bool>,
}

impl OutboundFile {
    /// The file's keys of these settings.
    pub const KEYS: &[&str] = &[
        "registration",
        "registration_scopes",
        "registration_rate",
        "registration_unused_ttl",
        "client_id_metadata_documents",
        "fetch_allow_loopback",
        "fetch_ca_file",
        "fetch_allow_hosts",
        "fetch_deny_hosts",
        "fetch_timeout",
        "dpop_nonce",
        "require_par",
        "require_mfa",
    ];
}

/// Who may register clients with RFC 7591.
#[derive(Debug, Clone)]
pub struct RegistrationPolicy {
    /// Anyone may register (as MCP clients do), not only holders of `gatehouse:admin`.
    pub open: bool,
    /// The most an open registration or a client metadata document may hold.
    pub scopes: Scopes,
    /// Open registrations per client address per hour.
    pub rate: u32,
    /// Seconds after which an unused open registration is deleted.
    pub unused_ttl: i64,
}

/// Resolved outbound settings.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub fetch: FetchPolicy,
    pub registration: RegistrationPolicy,
    pub metadata_documents: bool,
    /// DPoP proofs must carry a nonce this server handed out.
    pub dpop_nonce: bool,
    /// Every authorization request must be pushed (RFC 9126).
    pub require_par: bool,
    /// Every sign-in must be multi-factor.
    pub require_mfa: bool,
}

fn hosts(name: &'static str, raw: Option<String>) -> Result<Vec<HostPattern>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| HostPattern::parse(s).map_err(|r| bad(name, r)))
        .collect()
}

fn registration_scopes(raw: Option<String>) -> Result<Scopes, ConfigError> {
    const NAME: &str = "GATEHOUSE_REGISTRATION_SCOPES";
    let raw = raw.unwrap_or_else(|| "openid profile email offline_access".into());
    let scopes =
        Scopes::parse(&raw).ok_or_else(|| bad(NAME, format!("'{raw}' is not a scope list")))?;
    if scopes.contains(ADMIN_SCOPE) {
        return Err(bad(
            NAME,
            format!("{ADMIN_SCOPE} is never granted to a self-registered client"),
        ));
    }
    Ok(scopes)
}

pub fn resolve(args: &OutboundArgs, file: OutboundFile) -> Result<Outbound, ConfigError> {
    let open = match pick(&args.registration, file.registration).as_deref() {
        None | Some("admin") => false,
        Some("open") => true,
        Some(other) => {
            return Err(bad(
                "GATEHOUSE_REGISTRATION",
                format!("'{other}' is not admin or open"),
            ))
        }
    };
    let unused = pick(&args.registration_unused_ttl, file.registration_unused_ttl);
    let unused_ttl = match unused {
        Some(s) => parse_duration(&s).map_err(|r| bad("GATEHOUSE_REGISTRATION_UNUSED_TTL", r))?,
        None => 30 * 86400,
    };
    let timeout = match pick(&args.fetch_timeout, file.fetch_timeout) {
        Some(s) => parse_duration(&s).map_err(|r| bad("GATEHOUSE_FETCH_TIMEOUT", r))?,
        None => 5,
    };
    if !(1..=60).contains(&timeout) {
        return Err(bad("GATEHOUSE_FETCH_TIMEOUT", "must be between 1s and 60s"));
    }
    let fetch = FetchPolicy {
        allow_loopback: pick(&args.fetch_allow_loopback, file.fetch_allow_loopback)
            .unwrap_or(false),
        ca_file: pick(&args.fetch_ca_file, file.fetch_ca_file),
        allow_hosts: hosts(
            "GATEHOUSE_FETCH_ALLOW_HOSTS",
            pick(&args.fetch_allow_hosts, file.fetch_allow_hosts),
        )?,
        deny_hosts: hosts(
            "GATEHOUSE_FETCH_DENY_HOSTS",
            pick(&args.fetch_deny_hosts, file.fetch_deny_hosts),
        )?,
        timeout: Duration::from_secs(timeout as u64),
    };
    if let Some(path) = &fetch.ca_file {
        if !path.is_file() {
            return Err(bad(
                "GATEHOUSE_FETCH_CA_FILE",
                format!("{} is not a file", path.display()),
            ));
        }
    }
    Ok(Outbound {
        fetch,
        registration: RegistrationPolicy {
            open,
            scopes: registration_scopes(pick(&args.registration_scopes, file.registration_scopes))?,
            rate: pick(&args.registration_rate, file.registration_rate).unwrap_or(10),
            unused_ttl,
        },
        dpop_nonce: pick(&args.dpop_nonce, file.dpop_nonce).unwrap_or(true),
        require_par: pick(&args.require_par, file.require_par).unwrap_or(false),
        require_mfa: pick(&args.require_mfa, file.require_mfa).unwrap_or(false),
        metadata_documents: pick(
            &args.client_id_metadata_documents,
            file.client_id_metadata_documents,
        )
        .unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_closed_and_strict() {
        let o = resolve(&OutboundArgs::default(), OutboundFile::default()).unwrap();
        assert!(!o.registration.open);
        assert!(!o.fetch.allow_loopback);
        assert!(o.metadata_documents);
        assert!(o.registration.scopes.contains("openid"));
    }

    #[test]
    fn bad_values_name_their_setting() {
        let args = OutboundArgs {
            registration: Some("anyone".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, OutboundFile::default()).unwrap_err().setting,
            "GATEHOUSE_REGISTRATION"
        );
        let args = OutboundArgs {
            registration_scopes: Some("openid gatehouse:admin".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, OutboundFile::default()).unwrap_err().setting,
            "GATEHOUSE_REGISTRATION_SCOPES"
        );
        let args = OutboundArgs {
            fetch_ca_file: Some("/nonexistent.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, OutboundFile::default()).unwrap_err().setting,
            "GATEHOUSE_FETCH_CA_FILE"
        );
    }
}

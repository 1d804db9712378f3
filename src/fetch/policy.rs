//! What the operator lets the fetcher reach: schemes, host patterns, addresses, the
//! certificate authorities it trusts, and how long it waits.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::address::{is_loopback, is_public};
use super::FetchError;

/// A host pattern: `example.com` (that host) or `*.example.com` (its subdomains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn parse(raw: &str) -> Result<HostPattern, String> {
        let p = raw.trim().to_ascii_lowercase();
        let name = p.strip_prefix("*.").unwrap_or(&p);
        let ok = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
            });
        ok.then(|| HostPattern(p.clone()))
            .ok_or_else(|| format!("'{raw}' is not a host name or *.domain pattern"))
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == self.0,
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The operator's rules for outgoing requests.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Lets the fetcher reach loopback addresses, over http or https (development and
    /// tests on one machine).
    pub allow_loopback: bool,
    /// Extra certificate authorities (PEM) trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// When not empty, only hosts matching one of these are fetched from.
    pub allow_hosts: Vec<HostPattern>,
    /// Hosts never fetched from; these win over `allow_hosts`.
    pub deny_hosts: Vec<HostPattern>,
    /// Time limit of one fetch, connection included.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_loopback: false,
            ca_file: None,
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
            timeout: super::default_timeout(),
        }
    }
}

fn refused(message: impl Into<String>) -> FetchError {
    FetchError::Refused(message.into())
}

impl FetchPolicy {
    /// The URL, when its scheme and host are ones gatehouse may fetch from.
    pub fn check_url(&self, raw: &str) -> Result<url::Url, FetchError> {
        let url = url::Url::parse(raw).map_err(|_| refused(format!("'{raw}' is not a URL")))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host.is_empty() {
            return Err(refused(format!("'{raw}' has no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused(format!("'{raw}' must not contain credentials")));
        }
        let loopback_name = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(is_loopback);
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback && loopback_name => {}
            _ => return Err(refused(format!("'{raw}' must be an https URL"))),
        }
        if self.deny_hosts.iter().any(|p| p.matches(&host)) {
            return Err(refused(format!("fetching from {host} is not allowed here")));
        }
        if !self.allow_hosts.is_empty() && !self.allow_hosts.iter().any(|p| p.matches(&host)) {
            return Err(refused(format!(
                "{host} is not among the hosts gatehouse may fetch from"
            )));
        }
        Ok(url)
    }

    /// Whether a connection to `ip` (what `host` resolved to) is allowed.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), FetchError> {
        if is_public(ip) || (self.allow_loopback && is_loopback(ip)) {
            return Ok(());
        }
        Err(refused(format!(
            "{host} resolves to {ip}, a private or special-use address gatehouse does not fetch from"
        )))
    }
}

/// The resolver's refusal, kept through the HTTP client's error chain.
#[derive(Debug)]
pub struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// Resolves `host` and keeps the addresses the policy allows; refuses when any address
/// is not allowed (a name that also resolves to a private address is not trusted).
pub async fn resolve(policy: &FetchPolicy, host: &str) -> Result<Vec<SocketAddr>, AddressRefused> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| AddressRefused(format!("cannot resolve {host}: {e}")))?
        .collect();
    if found.is_empty() {
        return Err(AddressRefused(format!("{host} has no address")));
    }
    for a in &found {
        if let Err(FetchError::Refused(m) | FetchError::Failed(m)) =
            policy.check_address(host, a.ip())
        {
            return Err(AddressRefused(m));
        }
    }
    Ok(found)
}

/// The HTTP client's resolver: the connection goes only to addresses that were checked.
pub struct CheckedResolver(pub Arc<FetchPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&policy, &host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// TLS with the system's roots and the operator's extra authorities.
pub fn tls_config(policy: &FetchPolicy) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &policy.ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            format!(
                "GATEHOUSE_FETCH_CA_FILE: cannot read {}: {e}",
                path.display()
            )
        })?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| {
                format!(
                    "GATEHOUSE_FETCH_CA_FILE: {} is not PEM: {e}",
                    path.display()
                )
            })?;
            roots.add(cert).map_err(|e| {
                format!(
                    "GATEHOUSE_FETCH_CA_FILE: a certificate in {} is unusable: {e}",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "GATEHOUSE_FETCH_CA_FILE: {} holds no certificate",
                path.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FetchPolicy {
        FetchPolicy::default()
    }

    #[test]
    fn only_https_unless_loopback_is_allowed() {
        let p = policy();
        assert!(p.check_url("https://example.com/a").is_ok());
        assert!(p.check_url("http://example.com/a").is_err());
        assert!(p.check_url("http://127.0.0.1:9/a").is_err());
        assert!(p.check_url("ftp://example.com/a").is_err());
        assert!(p.check_url("https://user:pw@example.com/a").is_err());
        let dev = FetchPolicy {
            allow_loopback: true,
            ..policy()
        };
        assert!(dev.check_url("http://127.0.0.1:9/a").is_ok());
        assert!(dev.check_url("http://[::1]:9/a").is_ok());
        assert!(dev.check_url("http://localhost:9/a").is_ok());
        assert!(dev.check_url("http://example.com/a").is_err());
    }

    #[test]
    fn host_patterns() {
        let p = FetchPolicy {
            allow_hosts: vec![HostPattern::parse("*.example.com").unwrap()],
            deny_hosts: vec![HostPattern::parse("evil.example.com").unwrap()],
            ..policy()
        };
        assert!(p.check_url("https://app.example.com/x").is_ok());
        assert!(p.check_url("https://example.com/x").is_err());
        assert!(p.check_url("https://evil.example.com/x").is_err());
        assert!(p.check_url("https://other.org/x").is_err());
        assert!(HostPattern::parse("a b").is_err());
    }

    #[test]
    fn addresses_after_resolving() {
        let p = policy();
        assert!(p
            .check_address("x", "93.184.215.14".parse().unwrap())
            .is_ok());
        assert!(p.check_address("x", "10.0.0.1".parse().unwrap()).is_err());
        assert!(p.check_address("x", "127.0.0.1".parse().unwrap()).is_err());
        let dev = FetchPolicy {
            allow_loopback: true,
            ..policy()
        };
        assert!(dev.check_address("x", "127.0.0.1".parse().unwrap()).is_ok());
        assert!(dev
            .check_address("x", "192.168.0.1".parse().unwrap())
            .is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let err = resolve(&policy(), "localhost").await.unwrap_err();
        assert!(err.to_string().contains("private or special-use"), "{err}");
    }
}

//! The one client for outgoing requests: client metadata documents, client keys
//! (`jwks_uri`) and protected-resource metadata. Every fetch is a GET over https that
//! follows no redirects, reaches only public addresses (checked after resolving, and the
//! connection goes to the address that was checked), and is bounded in size, time and
//! concurrency per host. Concurrent fetches of one URL share a single request.

mod address;
mod cache;
mod policy;

pub use address::{is_loopback, is_public};
pub use cache::DocumentCache;
pub use policy::{FetchPolicy, HostPattern};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OnceCell, Semaphore};

/// At most this many fetches run against one host at a time.
const PER_HOST: usize = 4;

/// Why a document could not be fetched, in words for an operator or a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL or the address it resolves to is not one gatehouse may reach.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached or answered with something unusable.
    #[error("{0}")]
    Failed(String),
}

/// A fetched document: its body and how long it may be cached (from `Cache-Control`).
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// `Some(0)` for `no-store`/`no-cache`; `None` when the server said nothing.
    pub max_age: Option<u64>,
}

type Shared = Arc<OnceCell<Result<Arc<Fetched>, FetchError>>>;

/// The outgoing HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    inflight: Arc<Mutex<HashMap<String, Shared>>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish()
    }
}

/// Installs aws-lc-rs as the process's TLS provider (idempotent). Every rustls user in
/// the process (the fetcher, and any other client built without its own configuration)
/// then uses the same cryptography as token signing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Result<Fetcher, String> {
        install_tls_provider();
        let tls = policy::tls_config(&policy)?;
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .dns_resolver(Arc::new(policy::CheckedResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // Fetches are rare and cached; a pool would tie connections to one worker.
            .pool_max_idle_per_host(0)
            .no_proxy()
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Fetcher {
            client,
            policy,
            hosts: Default::default(),
            inflight: Default::default(),
        })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// GETs `url` (at most `limit` bytes), sharing the request with concurrent callers.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Arc<Fetched>, FetchError> {
        let cell = {
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(url.to_string()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async { self.fetch_once(url, limit).await.map(Arc::new) })
            .await
            .clone();
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(url).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            map.remove(url);
        }
        result
    }

    /// Checks `raw` against the policy and waits for a permit of its host.
    async fn admit(
        &self,
        raw: &str,
    ) -> Result<(url::Url, tokio::sync::OwnedSemaphorePermit), FetchError> {
        let url = self.policy.check_url(raw)?;
        let host = url.host_str().unwrap_or_default().to_string();
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            // An address literal is not resolved, so it is checked here.
            self.policy.check_address(&host, ip)?;
        }
        let permits = self.host_permits(&host);
        let permit = tokio::time::timeout(self.policy.timeout, permits.acquire_owned())
            .await
            .map_err(|_| FetchError::Failed(format!("too many fetches from {host} at once")))?
            .map_err(|_| FetchError::Failed("the fetcher is shutting down".into()))?;
        Ok((url, permit))
    }

    /// POSTs a form to `url` under the same rules as a fetch, and reads at most a few
    /// KiB of the answer; `Ok` with the status of any answer that is not a redirect.
    pub async fn post_form(&self, raw: &str, form: &[(&str, &str)]) -> Result<u16, FetchError> {
        let (url, _permit) = self.admit(raw).await?;
        let response = self
            .client
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| describe(raw, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Failed(format!(
                "{raw} answered {status}; redirects are not followed"
            )));
        }
        // The body is read (up to a limit) so the connection can be reused.
        let _ = read_limited(response, raw, 8 * 1024).await;
        Ok(status.as_u16())
    }

    async fn fetch_once(&self, raw: &str, limit: usize) -> Result<Fetched, FetchError> {
        let (url, _permit) = self.admit(raw).await?;
        let response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| describe(raw, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Failed(format!(
                "{raw} answered {status}; redirects are not followed"
            )));
        }
        if !status.is_success() {
            return Err(FetchError::Failed(format!("{raw} answered {status}")));
        }
        let headers = response.headers().clone();
        let body = read_limited(response, raw, limit).await?;
        Ok(Fetched {
            body,
            content_type: header(&headers, "content-type"),
            max_age: header(&headers, "cache-control").and_then(|v| cache::max_age(&v)),
        })
    }

    fn host_permits(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, s| s.available_permits() < PER_HOST);
        }
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST)))
            .clone()
    }
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn read_limited(
    mut response: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::Failed(format!("{url} is larger than {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(url, e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error in words, with the resolver's refusal (a special-use address) kept.
fn describe(url: &str, e: reqwest::Error) -> FetchError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<policy::AddressRefused>() {
            return FetchError::Refused(refused.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Failed(format!("{url} did not answer in time"));
    }
    if e.is_connect() {
        return FetchError::Failed(format!("cannot connect to {url}"));
    }
    FetchError::Failed(format!("cannot fetch {url}: {e}"))
}

/// For tests and the CLI: resolves `host` the way the fetcher does.
pub async fn resolve_checked(
    policy: &FetchPolicy,
    host: &str,
) -> Result<Vec<SocketAddr>, FetchError> {
    policy::resolve(policy, host)
        .await
        .map_err(|e| FetchError::Refused(e.to_string()))
}

pub fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

//! Fetched documents kept for as long as their server allows (`Cache-Control`), within a
//! floor (so a client cannot make gatehouse fetch on every request) and a ceiling (so a
//! changed document is seen). A failure is remembered briefly, for the same reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{FetchError, Fetched, Fetcher};

const MAX_ENTRIES: usize = 10_000;
/// How long a failed fetch is remembered.
const FAILURE_TTL: Duration = Duration::from_secs(10);

/// `max-age` of a `Cache-Control` value; 0 for `no-store` and `no-cache`.
pub fn max_age(value: &str) -> Option<u64> {
    let mut age = None;
    for d in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if d == "no-store" || d == "no-cache" {
            return Some(0);
        }
        if let Some(n) = d.strip_prefix("max-age=") {
            age = n.trim_matches('"').parse().ok();
        }
    }
    age
}

struct Entry {
    result: Result<Arc<Fetched>, FetchError>,
    fetched: Instant,
    expires: Instant,
}

/// A cache of documents of one kind (one size limit, one floor and ceiling).
#[derive(Clone)]
pub struct DocumentCache {
    fetcher: Fetcher,
    limit: usize,
    floor: Duration,
    ceiling: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("limit", &self.limit)
            .finish()
    }
}

impl DocumentCache {
    pub fn new(fetcher: Fetcher, limit: usize, floor: Duration, ceiling: Duration) -> Self {
        DocumentCache {
            fetcher,
            limit,
            floor,
            ceiling,
            entries: Default::default(),
        }
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The document at `url`, from the cache while it is fresh.
    pub async fn get(&self, url: &str) -> Result<Arc<Fetched>, FetchError> {
        if let Some(hit) = self.lookup(url, |e| e.expires > Instant::now()) {
            return hit;
        }
        self.fetch(url).await
    }

    /// The document fetched again (a client key was not found in it), unless it was
    /// fetched less than the floor ago: at most one fetch per floor per URL.
    pub async fn refresh(&self, url: &str) -> Result<Arc<Fetched>, FetchError> {
        if let Some(hit) = self.lookup(url, |e| e.fetched.elapsed() < self.floor) {
            return hit;
        }
        self.fetch(url).await
    }

    /// Drops a document (its client was changed or deleted).
    pub fn forget(&self, url: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(url);
    }

    fn lookup(
        &self,
        url: &str,
        usable: impl Fn(&Entry) -> bool,
    ) -> Option<Result<Arc<Fetched>, FetchError>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(url).filter(|e| usable(e)).map(|e| e.result.clone())
    }

    async fn fetch(&self, url: &str) -> Result<Arc<Fetched>, FetchError> {
        let result = self.fetcher.get(url, self.limit).await;
        let ttl = match &result {
            Ok(doc) => doc
                .max_age
                .map_or(self.floor, Duration::from_secs)
                .clamp(self.floor, self.ceiling),
            Err(_) => FAILURE_TTL.min(self.floor),
        };
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.expires > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            url.to_string(),
            Entry {
                result: result.clone(),
                fetched: now,
                expires: now + ttl,
            },
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::max_age;

    #[test]
    fn cache_control() {
        assert_eq!(max_age("max-age=300"), Some(300));
        assert_eq!(max_age("public, max-age=60"), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("max-age=60, no-cache"), Some(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}

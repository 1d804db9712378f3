//! Finding what a request names: a client (registered, or described by a client ID
//! metadata document), a client's keys published at its `jwks_uri`, and the registered
//! protected resources. Each comes from a short-lived cache where it can.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::StoreError;
use crate::domain::client::{check_sector_document, MetadataError, NewClient};
use crate::domain::{Client, ResourceSet};
use crate::fetch::{DocumentCache, FetchError, Fetcher};
use crate::oauth::metadata_document;
use crate::startup::Services;

/// Why a client could not be found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Lookup {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The `client_id` is a metadata document URL that could not be used; says why.
    #[error("{0}")]
    Document(String),
}

/// The fetch-backed caches: metadata documents and client key sets.
#[derive(Clone, Debug)]
pub struct Remote {
    pub documents: DocumentCache,
    pub client_keys: DocumentCache,
    /// For everything else that goes out: sector documents, logout tokens.
    pub fetcher: Fetcher,
}

impl Remote {
    pub fn new(fetcher: Fetcher) -> Remote {
        let minute = Duration::from_secs(60);
        Remote {
            documents: DocumentCache::new(
                fetcher.clone(),
                metadata_document::MAX_DOCUMENT_BYTES,
                minute,
                Duration::from_secs(24 * 3600),
            ),
            client_keys: DocumentCache::new(
                fetcher.clone(),
                64 * 1024,
                Duration::from_secs(10),
                Duration::from_secs(3600),
            ),
            fetcher,
        }
    }
}

/// The registered resources, re-read at most once a second (another instance may have
/// changed them); the last copy serves while the database cannot be reached.
#[derive(Debug, Default, Clone)]
pub struct ResourceCache {
    inner: Arc<RwLock<Option<Snapshot>>>,
}

/// The set and when it was read.
type Snapshot = (Arc<ResourceSet>, Instant);

const RESOURCES_TTL: Duration = Duration::from_secs(1);

impl ResourceCache {
    fn get(&self, fresh: bool) -> Option<Arc<ResourceSet>> {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(_, at)| !fresh || at.elapsed() < RESOURCES_TTL)
            .map(|(set, _)| set.clone())
    }

    fn put(&self, set: Arc<ResourceSet>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Some((set, Instant::now()));
    }

    /// Forces the next read to go to the database (this instance changed a resource).
    pub fn forget(&self) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Services {
    /// Fetches the sector identifier document of a client that names one and checks that
    /// it lists every redirect URI (OIDC Core §8.1), through the safe fetcher.
    pub async fn check_sector(&self, new: &NewClient) -> Result<(), MetadataError> {
        let Some(uri) = new.openid.sector_identifier_uri.as_deref() else {
            return Ok(());
        };
        let refused = |message: String| MetadataError {
            field: "sector_identifier_uri",
            message,
            redirect: false,
        };
        let doc = self
            .remote
            .fetcher
            .get(uri, 64 * 1024)
            .await
            .map_err(|e| refused(format!("cannot be fetched: {e}")))?;
        let uris: Vec<String> = new
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_string())
            .collect();
        check_sector_document(&doc.body, &uris).map_err(refused)
    }

    /// A client by id: a registered one, or the client a metadata document describes.
    pub async fn resolve_client(&self, client_id: &str) -> Result<Option<Arc<Client>>, Lookup> {
        if !metadata_document::is_document_url(client_id) {
            return Ok(self.stored_client(client_id).await?);
        }
        let outbound = &self.settings.outbound;
        if !outbound.metadata_documents {
            return Err(Lookup::Document(
                "this server does not accept URLs as client_id".into(),
            ));
        }
        metadata_document::check_url(client_id, outbound.fetch.allow_loopback)
            .map_err(Lookup::Document)?;
        if let Some(c) = self.clients.get(client_id) {
            return Ok(Some(c));
        }
        let doc = self.remote.documents.get(client_id).await.map_err(|e| {
            Lookup::Document(format!(
                "the client metadata document cannot be fetched: {e}"
            ))
        })?;
        let client = metadata_document::parse(
            client_id,
            &doc.body,
            &outbound.registration.scopes,
            crate::db::unix_now(),
        )
        .map_err(Lookup::Document)?;
        // Stored like any client, so codes, refresh tokens and consents can refer to it.
        let saved = client.clone();
        let stored = self
            .db
            .run(move |c| {
                c.save_document_client(&saved)?;
                c.find_client(&saved.client_id)
            })
            .await?;
        let client = Arc::new(stored.unwrap_or(client));
        self.clients.put(client.clone());
        Ok(Some(client))
    }

    /// The client with its keys filled in from its `jwks_uri`, when it authenticates with
    /// an assertion signed by `kid`. An unknown `kid` fetches the set again, at most once
    /// a minute (the client may have rotated its keys).
    pub async fn with_client_keys(
        &self,
        client: Arc<Client>,
        kid: Option<&str>,
    ) -> Result<Arc<Client>, FetchError> {
        let Some(url) = client.jwks_uri.clone().filter(|_| client.jwks.is_none()) else {
            return Ok(client);
        };
        let keys = &self.remote.client_keys;
        let mut set = parse_key_set(&keys.get(&url).await?.body, &url)?;
        if kid.is_some_and(|k| !has_kid(&set, k)) {
            set = parse_key_set(&keys.refresh(&url).await?.body, &url)?;
        }
        let mut with = (*client).clone();
        with.jwks = Some(set);
        Ok(Arc::new(with))
    }

    /// The registered protected resources.
    pub async fn resources(&self) -> Result<Arc<ResourceSet>, StoreError> {
        if let Some(set) = self.resource_cache.get(true) {
            return Ok(set);
        }
        match self.db.run(|c| c.list_resources()).await {
            Ok(list) => {
                let set = Arc::new(ResourceSet::new(list));
                self.resource_cache.put(set.clone());
                Ok(set)
            }
            Err(e) if e.is_transient() => self.resource_cache.get(false).ok_or(e),
            Err(e) => Err(e),
        }
    }
}

fn parse_key_set(body: &[u8], url: &str) -> Result<serde_json::Value, FetchError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| FetchError::Failed(format!("{url} is not a JWK set")))?;
    if !value.get("keys").is_some_and(|k| k.is_array()) {
        return Err(FetchError::Failed(format!("{url} is not a JWK set")));
    }
    Ok(value)
}

fn has_kid(set: &serde_json::Value, kid: &str) -> bool {
    set["keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| k["kid"] == kid))
}

impl Services {
    /// A resource's RFC 9728 metadata, fetched from its well-known address and checked
    /// to be about it and to name this issuer.
    pub async fn fetch_resource_metadata(
        &self,
        uri: &crate::domain::ResourceUri,
    ) -> Result<crate::oauth::protected_resource::ResourceMetadata, String> {
        use crate::oauth::protected_resource::{parse, MAX_METADATA_BYTES};
        let url = uri.metadata_url();
        let doc = self
            .remote
            .documents
            .fetcher()
            .get(&url, MAX_METADATA_BYTES)
            .await
            .map_err(|e| format!("cannot fetch the resource's metadata: {e}"))?;
        parse(&doc.body, uri.as_str(), &self.settings.issuer)
    }

    /// The resource to store for `raw`: from its metadata unless `fetch` is false, with
    /// the operator's `input` winning.
    pub async fn prepare_resource(
        &self,
        raw: &str,
        input: &crate::app::resources::ResourceInput,
        fetch: bool,
    ) -> Result<crate::domain::ProtectedResource, crate::app::AppError> {
        use crate::app::AppError;
        let uri = crate::domain::ResourceUri::parse(raw)
            .map_err(|m| AppError::Invalid(format!("resource: {m}")))?;
        let metadata = match fetch {
            true => Some(
                self.fetch_resource_metadata(&uri)
                    .await
                    .map_err(|m| AppError::Invalid(format!("resource: {m}")))?,
            ),
            false => None,
        };
        crate::app::resources::describe(&uri, metadata, input, crate::db::unix_now())
    }
}

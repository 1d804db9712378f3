//! Opening the services a server or CLI command needs, and running the HTTP server.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::{DatabaseUrl, Settings};
use crate::crypto::{KeySecret, Sealer};
use crate::db::{unix_now, Db};
use crate::keys::Keyring;
use crate::oauth::store::prelude::*;

/// A failure to start: one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Everything request handlers and CLI commands work with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub keys: Keyring,
    pub sealer: Arc<Sealer>,
    pub clients: crate::cache::ClientCache,
    /// Permits to run a password hash: about one per core, so a burst of logins cannot
    /// take the memory of hundreds of concurrent argon2 runs.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Documents fetched from elsewhere: client metadata documents and client keys.
    pub remote: crate::resolve::Remote,
    pub resource_cache: crate::resolve::ResourceCache,
    /// Open registrations per client address.
    pub registrations: crate::cache::HourlyLimit,
    /// User codes tried at the device verification page, per client address.
    pub device_guesses: crate::cache::HourlyLimit,
    /// Wakes the back-channel logout delivery loop.
    pub logout_wake: crate::deliver::Wake,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Access tokens that verified, for repeated introspection.
    pub verified: crate::cache::VerifiedTokens,
}

impl Services {
    /// Connects, migrates, makes sure signing keys exist and loads them.
    pub fn open(settings: Settings) -> Result<Services, StartError> {
        let secret = resolve_secret(&settings)?;
        let db = Db::connect(&settings.database).map_err(|e| {
            StartError(format!(
                "GATEHOUSE_DATABASE_URL: cannot open the database: {e}"
            ))
        })?;
        let fetcher =
            crate::fetch::Fetcher::new(settings.outbound.fetch.clone()).map_err(StartError)?;
        let clients = crate::cache::ClientCache::default();
        let metrics = Arc::new(crate::metrics::Metrics::new(&db, &clients));
        let services = Services {
            metrics,
            verified: Default::default(),
            remote: crate::resolve::Remote::new(fetcher),
            resource_cache: Default::default(),
            registrations: Default::default(),
            device_guesses: Default::default(),
            logout_wake: Default::default(),
            settings: Arc::new(settings),
            db,
            keys: Keyring::default(),
            sealer: Arc::new(Sealer::from_secret(secret.secret())),
            clients,
            hashing: Arc::new(tokio::sync::Semaphore::new(hashing_permits())),
        };
        // Instances starting together: one migrates and creates the keys, the others
        // wait for it and find both done.
        let created =
            crate::db::startup_lock::hold(&services.db, &services.settings.database, || {
                services.db.migrate()?;
                let mut conn = services.db.conn().map_err(|e| e.to_string())?;
                conn.ensure_keys(&services.sealer, unix_now())
                    .map_err(|e| e.to_string())
            })
            .map_err(StartError)?;
        for kid in created {
            tracing::info!(kid, "generated signing key");
        }
        services
            .reload_keys()
            .map_err(|e| StartError(e.to_string()))?;
        Ok(services)
    }

    /// How long a retired key stays published: the longest lifetime of a token it signed.
    /// How long a retired key stays in the JWKS: until every access and ID token it
    /// signed has expired, and while an ID token it signed may come back as an
    /// `id_token_hint` (for as long as the session it came from may last).
    pub fn publish_after_retire(&self) -> i64 {
        let l = &self.settings.lifetimes;
        l.access_token.max(l.id_token).max(l.session)
    }

    /// A client, registered or described by a metadata document; `None` also when the
    /// document cannot be used (see [`Services::resolve_client`] for why).
    pub async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<crate::domain::Client>>, crate::db::StoreError> {
        match self.resolve_client(client_id).await {
            Ok(found) => Ok(found),
            Err(crate::resolve::Lookup::Store(e)) => Err(e),
            Err(crate::resolve::Lookup::Document(_)) => Ok(None),
        }
    }

    /// A registered client, from the short-lived cache or the database.
    pub async fn stored_client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<crate::domain::Client>>, crate::db::StoreError> {
        if let Some(c) = self.clients.get(client_id) {
            return Ok(Some(c));
        }
        let id = client_id.to_string();
        let found = match self.db.run(move |conn| conn.find_client(&id)).await {
            Ok(found) => found.map(Arc::new),
            Err(e) if e.is_transient() => {
                return self.clients.get_stale(client_id).map(Some).ok_or(e);
            }
            Err(e) => return Err(e),
        };
        if let Some(c) = &found {
            self.clients.put(c.clone());
        }
        Ok(found)
    }

    /// Schedules the successors of keys that are due (one instance wins each claim).
    pub fn rotate_when_due(&self) {
        let l = &self.settings.lifetimes;
        let result = self.db.conn().map_err(Into::into).and_then(|mut conn| {
            let now = unix_now();
            crate::app::keys::rotate_due(
                &mut *conn,
                &self.sealer,
                l.key_rotation,
                l.key_prepublish,
                now,
            )
        });
        match result {
            Ok(kids) => {
                for kid in kids {
                    tracing::info!(kid, "scheduled a new signing key");
                }
            }
            Err(e) => tracing::warn!(error = %e, "scheduling key rotation failed"),
        }
    }

    pub fn reload_keys(&self) -> Result<(), crate::db::StoreError> {
        let mut conn = self.db.conn()?;
        let set = conn.load_key_set(&self.sealer, unix_now(), self.publish_after_retire())?;
        self.keys.replace(set);
        Ok(())
    }
}

/// How many password hashes may run at once: the number of cores.
fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `f` (a password hash or check) on the blocking pool once a hashing permit is
/// free; `None` when none frees up within `wait` (the server is saturated: answer 503).
pub async fn hash_bounded<T: Send + 'static>(
    services: &Services,
    wait: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let permit = tokio::time::timeout(wait, services.hashing.clone().acquire_owned())
        .await
        .ok()?
        .ok()?;
    tokio::task::spawn_blocking(move || {
        let out = f();
        drop(permit);
        out
    })
    .await
    .ok()
}

/// The key-encryption secret: configured, or for SQLite a generated file beside the
/// database (mode 0600), created on first start.
fn resolve_secret(settings: &Settings) -> Result<KeySecret, StartError> {
    if let Some(s) = &settings.secret_key {
        return Ok(s.clone());
    }
    let DatabaseUrl::Sqlite(db_path) = &settings.database else {
        return Err(StartError(
            "invalid setting GATEHOUSE_SECRET_KEY: is required with PostgreSQL".into(),
        ));
    };
    let mut path = db_path.as_os_str().to_owned();
    path.push(".secret");
    let path = Path::new(&path);
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().chars().count() >= 32 => Ok(KeySecret::new(s.trim().to_string())),
        Ok(_) => Err(StartError(format!(
            "invalid setting GATEHOUSE_SECRET_KEY: {} holds fewer than 32 characters",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let secret = crate::crypto::random_token(32);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StartError(format!("cannot create {}: {e}", path.display())))?;
            f.write_all(secret.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| StartError(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), "generated key-encryption secret");
            Ok(KeySecret::new(secret))
        }
        Err(e) => Err(StartError(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Starts the HTTP server on `listener` and its background tasks.
pub fn run(listener: TcpListener, services: Services) -> Result<Server, StartError> {
    let outbound = &services.settings.outbound;
    if outbound.fetch.allow_loopback {
        tracing::warn!(
            "GATEHOUSE_FETCH_ALLOW_LOOPBACK is on: client metadata documents, client keys and \
             resource metadata may be fetched from this machine's loopback addresses \
             (for development only)"
        );
    }
    if outbound.registration.open {
        tracing::info!(
            "open registration: anyone may register a client (GATEHOUSE_REGISTRATION=open)"
        );
    }
    // The tasks end with the server: the guard lives in the app data, which goes when
    // the server stops.
    let mut background = spawn_background(services.clone());
    if let Some(bind) = services.settings.metrics_bind.clone() {
        background.metrics = Some(metrics_server(&bind, services.clone())?);
    }
    let tasks = web::Data::new(background);
    let data = web::Data::new(services);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(crate::metrics::record))
            .app_data(data.clone())
            .app_data(tasks.clone())
            .configure(crate::http::configure)
    })
    .shutdown_timeout(10)
    .listen(listener)
    .map_err(|e| StartError(format!("cannot listen: {e}")))?
    .run();
    Ok(server)
}

/// How often keys are re-read (and a scheduled rotation looked for): every ten seconds,
/// and always well within the pre-publication time, so every instance signs with a new
/// key only after relying parties could have fetched it.
pub fn key_reload_interval(settings: &Settings) -> Duration {
    let prepublish = settings.lifetimes.key_prepublish.max(1) as u64;
    Duration::from_secs((prepublish / 3).clamp(1, 10))
}

/// `/metrics` on a listener of its own, one worker: scrapes are rare and cheap.
fn metrics_server(
    bind: &str,
    services: Services,
) -> Result<actix_web::dev::ServerHandle, StartError> {
    let data = web::Data::new(services);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(crate::metrics::scrape))
    })
    .workers(1)
    .bind(bind)
    .map_err(|e| {
        StartError(format!(
            "GATEHOUSE_METRICS_BIND: cannot listen on {bind}: {e}"
        ))
    })?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    tracing::info!(bind, "serving Prometheus metrics at /metrics");
    Ok(handle)
}

/// The background tasks of a server (and its metrics listener), stopped when it is
/// dropped.
pub struct Background {
    tasks: Vec<tokio::task::AbortHandle>,
    metrics: Option<actix_web::dev::ServerHandle>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let (Some(handle), Ok(rt)) = (self.metrics.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move { handle.stop(false).await });
        }
    }
}

/// Periodic work: reload keys (so rotation elsewhere is picked up), delete expired rows,
/// deliver logout tokens.
fn spawn_background(services: Services) -> Background {
    let cleanup = spawn_cleanup(services.clone());
    let deliveries = crate::deliver::spawn(services.clone());
    let reload = tokio::spawn(async move {
        let mut tick = tokio::time::interval(key_reload_interval(&services.settings));
        tick.tick().await;
        loop {
            tick.tick().await;
            let s = services.clone();
            let result = tokio::task::spawn_blocking(move || {
                s.rotate_when_due();
                s.reload_keys()
            })
            .await;
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
        }
    });
    Background {
        tasks: vec![
            cleanup.abort_handle(),
            deliveries.abort_handle(),
            reload.abort_handle(),
        ],
        metrics: None,
    }
}

/// Deletes expired rows every five minutes, the first time a minute after start.
fn spawn_cleanup(services: Services) -> tokio::task::JoinHandle<()> {
    let db = services.db.clone();
    let audit_retention = services.settings.lifetimes.audit_retention;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(60),
            Duration::from_secs(300),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // On the blocking pool; each batch of at most 500 rows is its own statement.
            let db = db.clone();
            let s = services.clone();
            let result = tokio::task::spawn_blocking(move || {
                let mut conn = db.conn()?;
                let now = unix_now();
                let before = now - s.settings.outbound.registration.unused_ttl;
                let clients = &s.clients;
                if let Err(e) = crate::app::clients::delete_unused_self_registered(
                    &mut *conn, clients, before, 500, now,
                ) {
                    tracing::warn!(error = %e, "deleting unused self-registered clients failed");
                }
                crate::db::cleanup::cleanup_expired(&mut conn, now, 500, audit_retention)
            })
            .await
            .unwrap_or_else(|_| {
                Err(crate::db::StoreError::Unavailable(
                    "the clean-up task failed".into(),
                ))
            });
            if let Ok(r) = &result {
                services
                    .metrics
                    .housekeeping(&serde_json::to_value(r).unwrap_or_default());
            }
            match result {
                Ok(r) if r.total() > 0 => tracing::info!(
                    authorization_codes = r.authorization_codes,
                    login_sessions = r.login_sessions,
                    refresh_tokens = r.refresh_tokens,
                    revoked_tokens = r.revoked_tokens,
                    used_assertions = r.used_assertions,
                    login_failures = r.login_failures,
                    audit_events = r.audit_events,
                    "deleted expired rows"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deleting expired rows failed"),
            }
        }
    })
}

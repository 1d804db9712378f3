//! Storage: one diesel connection type over SQLite and PostgreSQL, chosen by the URL
//! scheme, behind an r2d2 pool. Query code is written once against [`DbConn`].

pub mod audit;
pub mod cleanup;
pub mod clients;
pub mod consents;
pub mod copy;
pub mod devices;
pub mod factors;
pub mod grants;
pub mod keys;
pub mod logouts;
pub mod pushed;
pub mod resources;
pub mod schema;
pub mod sessions;
pub mod setup;
pub mod startup_lock;
pub mod throttle;
pub mod users;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;
use crate::oauth::store::Store;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub use crate::oauth::store::StoreError;
use crate::oauth::store::StoreResult;

/// Failures that a retry may cure: the connection or the server went away, the disk is
/// full, the database is locked or read-only for now. They are 503s, not 500s.
fn is_transient(kind: &diesel::result::DatabaseErrorKind, message: &str) -> bool {
    use diesel::result::DatabaseErrorKind as K;
    if matches!(kind, K::ClosedConnection | K::SerializationFailure) {
        return true;
    }
    let m = message.to_ascii_lowercase();
    [
        "database or disk is full",
        "database is locked",
        "disk i/o error",
        "attempt to write a readonly database",
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "could not connect",
        "no connection to the server",
        "the database system is shutting down",
        "the database system is starting up",
        "deadlock detected",
    ]
    .iter()
    .any(|t| m.contains(t))
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                StoreError::Conflict("a record with this key exists".into())
            }
            Error::DatabaseError(kind, info) if is_transient(kind, info.message()) => {
                StoreError::Unavailable(e.to_string())
            }
            Error::BrokenTransactionManager => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// A unique-key violation as a [`StoreError::Conflict`] saying `what`.
pub fn conflict_on_unique(e: diesel::result::Error, what: &str) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(what.to_string()),
        other => other,
    }
}

/// A diesel transaction (a savepoint when one is open) with store errors.
pub(crate) fn transaction<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> StoreResult<T>,
) -> StoreResult<T> {
    diesel::Connection::transaction(conn, f)
}

impl crate::oauth::store::Store for DbConn {
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn crate::oauth::store::Store) -> StoreResult<()>,
    ) -> StoreResult<()> {
        transaction(self, |conn| f(conn))
    }
}

/// Opens connections of the backend named by the URL, with SQLite's per-connection
/// settings applied.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers proceed during a write; busy_timeout makes concurrent
                // writers wait for the lock instead of failing at once.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        use diesel::r2d2::R2D2Connection;
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub type Conn = PooledConnection<Manager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a request waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// After a connection could not be had, requests are answered 503 at once for this long
/// instead of each waiting the acquire timeout while the database is known to be down.
const KNOWN_DOWN: Duration = Duration::from_secs(1);

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The connection pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    pub backend: Backend,
    /// How long each [`Db::run`] took, and how often a connection was waited for.
    pub latency: prometheus_client::metrics::histogram::Histogram,
    pub waits: prometheus_client::metrics::counter::Counter,
    /// Until when (Unix milliseconds) the database counts as down.
    down_until: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    pub fn connect(url: &DatabaseUrl) -> StoreResult<Self> {
        if let DatabaseUrl::Sqlite(path) = url {
            create_private(path)?;
            refuse_read_only(path)?;
        }
        let backend = match url {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        };
        let pool = r2d2::Pool::builder()
            .max_size(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .min_idle(Some(1))
            .connection_timeout(ACQUIRE_TIMEOUT)
            .build(Manager { url: url.clone() })?;
        Ok(Db {
            pool,
            backend,
            latency: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.000_1, 2.0, 16),
            ),
            waits: Default::default(),
            down_until: Default::default(),
        })
    }

    /// A connection from the pool; while the database is known to be down, a
    /// [`StoreError::Unavailable`] at once.
    pub fn conn(&self) -> StoreResult<Conn> {
        use std::sync::atomic::Ordering::Relaxed;
        if now_millis() < self.down_until.load(Relaxed) {
            return Err(StoreError::Unavailable(
                "the database cannot be reached; retry shortly".into(),
            ));
        }
        // No idle connection: this request waits for one (counted for the metrics).
        if self.pool.state().idle_connections == 0 {
            self.waits.inc();
        }
        self.pool.get().map_err(|e| {
            let until = now_millis() + KNOWN_DOWN.as_millis() as u64;
            self.down_until.store(until, Relaxed);
            StoreError::from(e)
        })
    }

    /// Applies pending migrations of this backend's tree.
    pub fn migrate(&self) -> Result<(), String> {
        let mut conn = self.conn().map_err(|e| e.to_string())?;
        let result = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| format!("migration failed: {e}"))
    }

    /// The pool's connections and idle connections now.
    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Runs blocking database work on the blocking thread pool, off the async workers.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let db = self.clone();
        let start = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            let out = f(&mut *conn);
            db.latency.observe(start.elapsed().as_secs_f64());
            out
        })
        .await
        .map_err(|_| StoreError::Unavailable("the blocking pool failed".into()))?
    }

    /// Whether the database can be written: one row written and committed. A read-only
    /// database or a full disk fails this where a read would still succeed.
    pub fn ping(&self) -> StoreResult<()> {
        // A short wait: a readiness probe must answer quickly when the database is gone.
        let mut conn = self.pool.get_timeout(Duration::from_secs(2))?;
        // The database answered: requests need not wait out the known-down second.
        self.down_until
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let now = unix_now();
        transaction(&mut conn, |c| {
            use schema::health_checks::dsl::*;
            let n = diesel::update(health_checks.filter(id.eq(1)))
                .set(checked_at.eq(now))
                .execute(c)?;
            if n == 0 {
                diesel::insert_into(health_checks)
                    .values((id.eq(1), checked_at.eq(now)))
                    .execute(c)?;
            }
            Ok(())
        })
    }
}

/// Creates a new SQLite database file readable by its owner only (0600); SQLite gives
/// its `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &std::path::Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// A database file this process cannot write is refused before SQLite opens it (which
/// would create a `-shm` file that later starts cannot use).
fn refuse_read_only(path: &std::path::Path) -> StoreResult<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(StoreError::Unavailable(
            format!("{} is read-only for this process", path.display()),
        )),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot open {}: {e}",
            path.display()
        ))),
    }
}

/// The current time as Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn outages_and_full_disks_are_transient_other_failures_are_not() {
        for (kind, message) in [
            (DatabaseErrorKind::Unknown, "database or disk is full"),
            (
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
            (
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            (DatabaseErrorKind::Unknown, "deadlock detected"),
            (
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
        ] {
            let e = StoreError::from(db_error(kind, message));
            assert!(e.is_transient(), "{message}: {e:?}");
        }
        let e = StoreError::from(db_error(DatabaseErrorKind::UniqueViolation, "dup"));
        assert!(matches!(e, StoreError::Conflict(_)));
        let e = StoreError::from(db_error(DatabaseErrorKind::Unknown, "syntax error"));
        assert!(matches!(e, StoreError::Backend(_)));
    }
}

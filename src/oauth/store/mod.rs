//! The storage the protocol and the application layer need, as traits the protocol owns.
//! `db` implements them over SQLite and PostgreSQL; [`memory::MemoryStore`] implements
//! them in memory for the grants' unit tests. Records are typed: a row that does not
//! parse is [`StoreError::Corrupt`], never a default.

pub mod device;
pub mod factors;
pub mod logout;
pub mod memory;
mod records;
pub mod setup;

pub use records::{
    new_session, Amr, AuditEvent, CodeRecord, Consent, Consumed, KeyInfo, RefreshRecord,
    Replacement, Rotation, SessionCookie, SessionInfo, SessionRecord, UserChanges,
};

use crate::crypto::Sealer;
use crate::domain::client::Client;
use crate::domain::user::User;
use crate::domain::{ProtectedResource, Scopes};
use crate::keys::{Alg, KeySet};

/// Why storage could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, is shutting down, or is full: worth a retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other failure of the database.
    #[error("database error: {0}")]
    Backend(String),
    /// A uniqueness rule was broken; the text says which.
    #[error("{0}")]
    Conflict(String),
    /// A stored value does not parse.
    #[error("{0}")]
    Corrupt(String),
    /// Not an error of storage: [`atomically`] rolls back for a caller's own error.
    #[error("rolled back")]
    Rollback,
}

/// What a store operation returns.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the request may succeed if retried shortly (HTTP 503, not 500).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Registered OAuth clients.
pub trait ClientRegistry {
    /// Stores a new client; `Conflict` if its id is taken.
    fn insert_client(&mut self, client: &Client) -> StoreResult<()>;
    fn find_client(&mut self, client_id: &str) -> StoreResult<Option<Client>>;
    fn list_clients(&mut self, offset: i64, limit: i64) -> StoreResult<Vec<Client>>;
    fn count_clients(&mut self) -> StoreResult<i64>;
    /// Replaces the metadata; the secret hash is replaced only when `Some`.
    fn replace_client(&mut self, id: &str, with: &Replacement) -> StoreResult<Option<Client>>;
    fn set_client_secret(&mut self, id: &str, hash: &str, now: i64) -> StoreResult<bool>;
    /// Access tokens of the client issued before `at` no longer count.
    fn invalidate_client_tokens(&mut self, client_id: &str, at: i64) -> StoreResult<bool>;
    /// Deletes the client and everything issued to it.
    fn delete_client(&mut self, client_id: &str) -> StoreResult<bool>;
    /// Records that the client obtained a token at `now`; writes only when the last
    /// record is an hour old or more, so the hot path rarely writes.
    fn mark_client_used(&mut self, client_id: &str, now: i64) -> StoreResult<()>;
    /// Stores the client a metadata document describes: inserted the first time, its
    /// metadata replaced when the document changed (creation time, last use and token
    /// cut-off stay). Codes, refresh tokens and consents refer to it like to any client.
    fn save_document_client(&mut self, client: &Client) -> StoreResult<()>;
    /// Clients no operator registered (self-registered, or from a metadata document) not
    /// used (nor created) since `before`, at most `limit`.
    fn unused_self_registered(&mut self, before: i64, limit: i64) -> StoreResult<Vec<String>>;
}

/// Pushed authorization requests (RFC 9126), each usable once before it expires.
pub trait PushedRequestStore {
    fn push_request(
        &mut self,
        request_uri_hash: &str,
        client_id: &str,
        params: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The pushed parameters, removed: of concurrent callers only one gets them, and
    /// only for the client that pushed them and before they expire.
    fn take_pushed_request(
        &mut self,
        request_uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<String>>;
}

/// Registered protected resources (RFC 8707 / RFC 9728).
pub trait ResourceRegistry {
    /// Stores a new resource; `Conflict` if it is registered already.
    fn insert_resource(&mut self, resource: &ProtectedResource) -> StoreResult<()>;
    /// Replaces a registered resource; false if there is none.
    fn update_resource(&mut self, resource: &ProtectedResource) -> StoreResult<bool>;
    fn find_resource(&mut self, resource: &str) -> StoreResult<Option<ProtectedResource>>;
    fn list_resources(&mut self) -> StoreResult<Vec<ProtectedResource>>;
    fn delete_resource(&mut self, resource: &str) -> StoreResult<bool>;
}

/// Authorization codes (RFC 6749 §4.1.2): single use, bound to their request.
pub trait CodeStore {
    fn insert_code(&mut self, code: &CodeRecord) -> StoreResult<()>;
    fn find_code(&mut self, code_hash: &str) -> StoreResult<Option<CodeRecord>>;
    /// Marks the code used. Single-use by construction: of any number of concurrent
    /// callers, exactly one gets [`Consumed::Won`].
    fn consume_code(&mut self, code_hash: &str, now: i64) -> StoreResult<Consumed>;
    /// Remembers the access token minted from a code, so a replay can revoke it.
    fn record_code_access_token(&mut self, code_hash: &str, jti: &str, exp: i64)
        -> StoreResult<()>;
}

/// Refresh tokens, in families: every token rotated from one authorization.
pub trait RefreshFamilyStore {
    fn insert_refresh(&mut self, token: &RefreshRecord) -> StoreResult<()>;
    fn find_refresh(&mut self, token_hash: &str) -> StoreResult<Option<RefreshRecord>>;
    /// Rotates `old` to `new` atomically: true for exactly one of concurrent callers.
    fn rotate_refresh(&mut self, rotation: &Rotation) -> StoreResult<bool>;
    /// Takes the one replay the grace window allows: true for exactly one caller.
    fn take_grace_replay(&mut self, token_hash: &str) -> StoreResult<bool>;
    /// Revokes every refresh token of a family and the access tokens minted from them.
    fn revoke_family(&mut self, family_id: &str, now: i64) -> StoreResult<usize>;
    /// Revokes every family of a user (and their live access tokens).
    fn revoke_user_families(&mut self, user_id: &str, now: i64) -> StoreResult<usize>;
    /// Revokes every family held by a client (and their live access tokens).
    fn revoke_client_families(&mut self, client_id: &str, now: i64) -> StoreResult<usize>;
    /// Revokes the families one user granted one client.
    fn revoke_grant_families(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<usize>;
}

/// Access tokens revoked before their expiry, by `jti`.
pub trait RevocationList {
    fn revoke_jti(&mut self, jti: &str, expires_at: i64) -> StoreResult<()>;
    fn is_jti_revoked(&mut self, jti: &str) -> StoreResult<bool>;
    /// Remembers that `issued_jti` was exchanged (RFC 8693) from `subject_jti`.
    fn record_exchange(
        &mut self,
        issued_jti: &str,
        subject_jti: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The token `issued_jti` was exchanged from, if it was.
    fn exchanged_from(&mut self, issued_jti: &str) -> StoreResult<Option<String>>;
}

/// Whether an access token is revoked, or (for a token from an exchange, which names
/// its actor in `act`) any token it was exchanged from; other tokens cost one lookup.
pub fn is_revoked(
    store: &mut (impl RevocationList + ?Sized),
    claims: &crate::oauth::tokens::AccessClaims,
) -> StoreResult<bool> {
    if claims.act.is_none() {
        return store.is_jti_revoked(&claims.jti);
    }
    let mut current = claims.jti.clone();
    // Exchanges of exchanges are followed a few steps up.
    for _ in 0..8 {
        if store.is_jti_revoked(&current)? {
            return Ok(true);
        }
        match store.exchanged_from(&current)? {
            Some(subject) => current = subject,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// Client assertions (RFC 7523) seen, so none is accepted twice.
pub trait AssertionReplayGuard {
    /// Records an assertion's key; false if it was seen before (a replay).
    fn use_assertion(&mut self, key: &str, expires_at: i64) -> StoreResult<bool>;
}

/// Browser login sessions, found by the hash of their cookie.
pub trait SessionStore {
    fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()>;
    /// The session behind a cookie, unless it expired or its user is disabled or gone.
    fn find_session(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<SessionInfo>>;
    fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool>;
    /// Ends every session of a user.
    fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<usize>;
    /// The user behind an unexpired session, enabled or not (the admin pages tell a
    /// disabled user so, where [`SessionStore::find_session`] would not find them).
    fn session_user_id(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<String>>;
    /// The user's unexpired sessions, newest sign-in first.
    fn list_user_sessions(&mut self, user_id: &str, now: i64) -> StoreResult<Vec<SessionInfo>>;
}

/// The scopes each user has allowed each client.
pub trait ConsentStore {
    fn find_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<Option<Scopes>>;
    /// Adds `scopes` to what the user already allowed this client.
    fn remember_consent(&mut self, consent: &Consent) -> StoreResult<()>;
    /// Every client the user allowed, with the scopes and when first allowed.
    fn list_consents(&mut self, user_id: &str) -> StoreResult<Vec<(String, Scopes, i64)>>;
    /// Forgets what the user allowed a client; false if nothing was allowed.
    fn forget_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<bool>;
}

/// The people who log in.
pub trait UserDirectory {
    /// `password_hash` is computed by the caller (argon2 is slow; keep it out of the
    /// connection's hold time).
    /// Stores a new user; `Conflict` if the username is taken.
    fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    fn find_user_by_name(&mut self, username: &str) -> StoreResult<Option<User>>;
    fn find_user(&mut self, id: &str) -> StoreResult<Option<User>>;
    /// Users whose username, e-mail or name contains `search`, ignoring case.
    fn list_users(&mut self, search: Option<&str>, skip: i64, max: i64) -> StoreResult<Vec<User>>;
    /// How many users [`UserDirectory::list_users`] would find with no paging.
    fn count_users(&mut self, search: Option<&str>) -> StoreResult<i64>;
    fn update_user(&mut self, name: &str, changes: &UserChanges, now: i64) -> StoreResult<bool>;
    fn delete_user(&mut self, username: &str) -> StoreResult<bool>;
}

/// Login-attempt counters, shared by every instance (the policy is `domain::throttle`).
pub trait LoginThrottle {
    /// Counts an attempt on `key` atomically and returns the seconds it must wait (0 when
    /// it may be checked, otherwise it was refused and not counted) and the count.
    fn count_login_attempt(&mut self, key: &str, now: i64) -> StoreResult<(i64, i32)>;
    /// Takes back one counted attempt (a success from a shared address).
    fn forgive_login_attempt(&mut self, key: &str) -> StoreResult<()>;
    fn clear_login_failures(&mut self, key: &str) -> StoreResult<()>;
}

/// The append-only audit log.
pub trait AuditLog {
    fn record(&mut self, event: &AuditEvent) -> StoreResult<()>;
    /// Events created at or after `since` (all when `None`), newest first, at most
    /// `limit` of them.
    fn list_events(&mut self, since: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEvent>>;
}

/// Signing keys, private parts sealed under the key-encryption secret.
pub trait KeyStore {
    /// Generates a key for every algorithm that has no active one.
    fn ensure_keys(&mut self, sealer: &Sealer, now: i64) -> StoreResult<Vec<String>>;
    /// Adds a key for each algorithm that signs from `activates_at`, when the keys before
    /// it retire. The write comes first.
    fn rotate_keys(
        &mut self,
        sealer: &Sealer,
        algs: &[Alg],
        now: i64,
        activates_at: i64,
    ) -> StoreResult<Vec<String>>;
    /// The scheduled rotation of `alg`: when its active key has signed since
    /// `due_before` or earlier and no successor is scheduled, schedules one from
    /// `activates_at`. Of concurrent callers on one database at most one succeeds: the
    /// claim is one conditional update (the transaction's first statement).
    fn rotate_due(
        &mut self,
        sealer: &Sealer,
        alg: Alg,
        now: i64,
        due_before: i64,
        activates_at: i64,
    ) -> StoreResult<Option<String>>;
    /// The active keys (parsed) and every key still published: retired keys stay
    /// published for `keep` seconds, so tokens they signed still verify.
    fn load_key_set(&mut self, sealer: &Sealer, now: i64, keep: i64) -> StoreResult<KeySet>;
    fn list_keys(&mut self, now: i64, publish_after_retire: i64) -> StoreResult<Vec<KeyInfo>>;
}

/// Everything at once, with transactions: what a request or a command works with.
pub trait Store:
    ClientRegistry
    + ResourceRegistry
    + PushedRequestStore
    + device::DeviceStore
    + factors::FactorStore
    + logout::LogoutQueue
    + setup::SetupStore
    + CodeStore
    + RefreshFamilyStore
    + RevocationList
    + AssertionReplayGuard
    + SessionStore
    + ConsentStore
    + UserDirectory
    + LoginThrottle
    + AuditLog
    + KeyStore
{
    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise. On SQLite the first statement of `f` should write, so the write lock
    /// is taken at once rather than upgraded later (which can fail under contention).
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Store) -> StoreResult<()>,
    ) -> StoreResult<()>;
}

/// [`Store::transaction`] for a closure with a result and an error of its own: an
/// `Err` of any kind rolls back, and is returned as it was.
pub fn atomically<T, E: From<StoreError>>(
    store: &mut dyn Store,
    mut f: impl FnMut(&mut dyn Store) -> Result<T, E>,
) -> Result<T, E> {
    let mut out: Option<Result<T, E>> = None;
    let result = store.transaction(&mut |s| match f(s) {
        Ok(v) => {
            out = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            out = Some(Err(e));
            Err(StoreError::Rollback)
        }
    });
    match (result, out) {
        (_, Some(Err(e))) => Err(e),
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(e.into()),
        (Ok(()), None) => Err(StoreError::Backend("the transaction did not run".into()).into()),
    }
}

/// Every store trait, for code that works with a [`Store`] and calls its methods.
pub mod prelude {
    pub use super::{
        device::DeviceStore, factors::FactorStore, logout::LogoutQueue, setup::SetupStore,
        AssertionReplayGuard, AuditLog, ClientRegistry, CodeStore, ConsentStore, KeyStore,
        LoginThrottle, PushedRequestStore, RefreshFamilyStore, ResourceRegistry, RevocationList,
        SessionStore, Store, StoreResult, UserDirectory,
    };
}

//! Every store trait in memory, for the grants' and the application layer's unit tests.
//! It keeps the same rules as the database (single-use codes, one rotation per token,
//! uniqueness) so a test on it says something about the protocol; a transaction is a
//! snapshot restored on rollback.

mod device;
mod factors;
mod keys;
mod logout;
mod setup;

use std::collections::{BTreeMap, HashMap};

use super::StoreResult;
use super::{
    AssertionReplayGuard, AuditEvent, AuditLog, ClientRegistry, CodeRecord, CodeStore, Consent,
    ConsentStore, Consumed, KeyInfo, LoginThrottle, PushedRequestStore, RefreshFamilyStore,
    RefreshRecord, Replacement, ResourceRegistry, RevocationList, Rotation, SessionInfo,
    SessionRecord, SessionStore, Store, StoreError, UserChanges, UserDirectory,
};
use crate::domain::client::Client;
use crate::domain::client::Provenance;
use crate::domain::throttle;
use crate::domain::user::User;
use crate::domain::{ProtectedResource, Scopes};

#[derive(Clone)]
pub(super) struct StoredKey {
    info: KeyInfo,
    sealed: Vec<u8>,
    public_jwk: serde_json::Value,
}

#[derive(Clone, Default)]
struct State {
    clients: BTreeMap<String, Client>,
    codes: HashMap<String, CodeRecord>,
    refresh: HashMap<String, RefreshRecord>,
    revoked: HashMap<String, i64>,
    assertions: HashMap<String, i64>,
    sessions: HashMap<String, SessionRecord>,
    consents: HashMap<(String, String), Scopes>,
    users: BTreeMap<String, User>,
    /// Per throttle key: failures, last failure, blocked until.
    failures: HashMap<String, (i32, i64, i64)>,
    audit: Vec<AuditEvent>,
    keys: Vec<StoredKey>,
    resources: BTreeMap<String, ProtectedResource>,
    /// Pushed requests: client, parameters, expiry.
    pushed: HashMap<String, (String, String, i64)>,
    devices: HashMap<String, super::device::DeviceRecord>,
    /// Exchanged token → the token it came from.
    exchanges: HashMap<String, String>,
    session_clients: Vec<super::logout::SessionClient>,
    logouts: BTreeMap<String, super::logout::LogoutDelivery>,
    /// Setup token hash → (expiry, used).
    setup_tokens: HashMap<String, (i64, bool)>,
    factors: Vec<super::factors::Factor>,
}

/// The in-memory store.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: State,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every audit event recorded, oldest first.
    pub fn audit_events(&self) -> &[AuditEvent] {
        &self.state.audit
    }

    /// Whether a user (by id) still has a session.
    pub fn has_sessions(&self, user_id: &str) -> bool {
        self.state.sessions.values().any(|s| s.user_id == user_id)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl ClientRegistry for MemoryStore {
    fn insert_client(&mut self, client: &Client) -> StoreResult<()> {
        if self.state.clients.contains_key(&client.client_id) {
            return Err(StoreError::Conflict("a client with this id exists".into()));
        }
        let c = client.clone();
        self.state.clients.insert(c.client_id.clone(), c);
        Ok(())
    }

    fn find_client(&mut self, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self.state.clients.get(client_id).cloned())
    }

    fn list_clients(&mut self, offset: i64, limit: i64) -> StoreResult<Vec<Client>> {
        let mut all: Vec<Client> = self.state.clients.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(page(all, offset, limit))
    }

    fn count_clients(&mut self) -> StoreResult<i64> {
        Ok(self.state.clients.len() as i64)
    }

    fn replace_client(&mut self, id: &str, with: &Replacement) -> StoreResult<Option<Client>> {
        let Some(existing) = self.state.clients.get(id).cloned() else {
            return Ok(None);
        };
        let c = with
            .new
            .replacing(existing, with.secret_hash.clone(), with.now);
        self.state.clients.insert(id.into(), c.clone());
        Ok(Some(c))
    }

    fn set_client_secret(&mut self, id: &str, hash: &str, now: i64) -> StoreResult<bool> {
        Ok(match self.state.clients.get_mut(id) {
            Some(c) => {
                c.secret_hash = Some(hash.into());
                c.updated_at = now;
                true
            }
            None => false,
        })
    }

    fn invalidate_client_tokens(&mut self, client_id: &str, at: i64) -> StoreResult<bool> {
        Ok(match self.state.clients.get_mut(client_id) {
            Some(c) => {
                c.tokens_valid_after = at;
                true
            }
            None => false,
        })
    }

    fn delete_client(&mut self, client_id: &str) -> StoreResult<bool> {
        let s = &mut self.state;
        s.codes.retain(|_, c| c.client_id != client_id);
        s.refresh.retain(|_, r| r.client_id != client_id);
        s.consents.retain(|(_, c), _| c != client_id);
        Ok(s.clients.remove(client_id).is_some())
    }

    fn mark_client_used(&mut self, client_id: &str, now: i64) -> StoreResult<()> {
        if let Some(c) = self.state.clients.get_mut(client_id) {
            if c.used_at.is_none_or(|t| t <= now - 3600) {
                c.used_at = Some(now);
            }
        }
        Ok(())
    }

    fn save_document_client(&mut self, client: &Client) -> StoreResult<()> {
        let mut c = client.clone();
        if let Some(existing) = self.state.clients.get(&client.client_id) {
            c.created_at = existing.created_at;
            c.used_at = existing.used_at;
            c.tokens_valid_after = existing.tokens_valid_after;
        }
        self.state.clients.insert(c.client_id.clone(), c);
        Ok(())
    }

    fn unused_self_registered(&mut self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        let ids = self
            .state
            .clients
            .values()
            .filter(|c| c.provenance != Provenance::Operator)
            .filter(|c| c.used_at.unwrap_or(c.created_at) < before)
            .map(|c| c.client_id.clone())
            .collect();
        Ok(page(ids, 0, limit))
    }
}

impl PushedRequestStore for MemoryStore {
    fn push_request(
        &mut self,
        hash: &str,
        client_id: &str,
        params: &str,
        exp: i64,
    ) -> StoreResult<()> {
        let entry = (client_id.to_string(), params.to_string(), exp);
        self.state.pushed.insert(hash.to_string(), entry);
        Ok(())
    }

    fn take_pushed_request(
        &mut self,
        hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        Ok(match self.state.pushed.remove(hash) {
            Some((c, params, exp)) if c == client_id && exp > now => Some(params),
            _ => None,
        })
    }
}

impl ResourceRegistry for MemoryStore {
    fn insert_resource(&mut self, r: &ProtectedResource) -> StoreResult<()> {
        if self.state.resources.contains_key(&r.resource) {
            return Err(StoreError::Conflict(
                "this resource is registered already".into(),
            ));
        }
        self.state.resources.insert(r.resource.clone(), r.clone());
        Ok(())
    }

    fn update_resource(&mut self, r: &ProtectedResource) -> StoreResult<bool> {
        Ok(match self.state.resources.get_mut(&r.resource) {
            Some(existing) => {
                *existing = r.clone();
                true
            }
            None => false,
        })
    }

    fn find_resource(&mut self, resource: &str) -> StoreResult<Option<ProtectedResource>> {
        Ok(self.state.resources.get(resource).cloned())
    }

    fn list_resources(&mut self) -> StoreResult<Vec<ProtectedResource>> {
        Ok(self.state.resources.values().cloned().collect())
    }

    fn delete_resource(&mut self, resource: &str) -> StoreResult<bool> {
        Ok(self.state.resources.remove(resource).is_some())
    }
}

fn page<T>(all: Vec<T>, offset: i64, limit: i64) -> Vec<T> {
    let offset = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
    all.into_iter().skip(offset).take(limit).collect()
}

impl CodeStore for MemoryStore {
    fn insert_code(&mut self, code: &CodeRecord) -> StoreResult<()> {
        if self.state.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Conflict("duplicate code".into()));
        }
        self.state
            .codes
            .insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    fn find_code(&mut self, code_hash: &str) -> StoreResult<Option<CodeRecord>> {
        Ok(self.state.codes.get(code_hash).cloned())
    }

    fn consume_code(&mut self, code_hash: &str, now: i64) -> StoreResult<Consumed> {
        Ok(match self.state.codes.get_mut(code_hash) {
            None => Consumed::Unknown,
            Some(c) if c.consumed_at.is_some() => Consumed::AlreadyUsed(c.clone()),
            Some(c) => {
                c.consumed_at = Some(now);
                Consumed::Won(c.clone())
            }
        })
    }

    fn record_code_access_token(&mut self, code: &str, jti: &str, exp: i64) -> StoreResult<()> {
        if let Some(c) = self.state.codes.get_mut(code) {
            c.access_jti = Some(jti.into());
            c.access_expires_at = Some(exp);
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Revokes the refresh tokens `which` selects (by family, user and client) and the live
    /// access tokens minted from them or from the codes of the same selection.
    fn revoke_where(&mut self, now: i64, which: impl Fn(&str, &str, &str) -> bool) -> usize {
        let s = &mut self.state;
        let mut n = 0;
        let mut jtis = Vec::new();
        for r in s.refresh.values_mut() {
            if which(&r.family_id, &r.user_id, &r.client_id) {
                r.revoked = true;
                r.grace_response = None;
                n += 1;
                jtis.push((r.access_jti.clone(), r.access_expires_at));
            }
        }
        for c in s.codes.values() {
            if which(&c.family_id, &c.user_id, &c.client_id) {
                jtis.push((c.access_jti.clone(), c.access_expires_at));
            }
        }
        for (jti, exp) in jtis {
            if let (Some(jti), Some(exp)) = (jti, exp) {
                if exp > now {
                    s.revoked.insert(jti, exp);
                }
            }
        }
        n
    }
}

impl RefreshFamilyStore for MemoryStore {
    fn insert_refresh(&mut self, token: &RefreshRecord) -> StoreResult<()> {
        if self.state.refresh.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict("duplicate refresh token".into()));
        }
        self.state
            .refresh
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    fn find_refresh(&mut self, token_hash: &str) -> StoreResult<Option<RefreshRecord>> {
        Ok(self.state.refresh.get(token_hash).cloned())
    }

    fn rotate_refresh(&mut self, r: &Rotation) -> StoreResult<bool> {
        match self.state.refresh.get_mut(r.old_hash) {
            Some(old) if old.used_at.is_none() && !old.revoked => {
                old.used_at = Some(r.now);
                old.replaced_by = Some(r.new.token_hash.clone());
                old.grace_response = r.grace_response.clone();
            }
            _ => return Ok(false),
        }
        self.insert_refresh(r.new)?;
        Ok(true)
    }

    fn take_grace_replay(&mut self, token_hash: &str) -> StoreResult<bool> {
        Ok(self
            .state
            .refresh
            .get_mut(token_hash)
            .and_then(|r| r.grace_response.take())
            .is_some())
    }

    fn revoke_family(&mut self, family_id: &str, now: i64) -> StoreResult<usize> {
        Ok(self.revoke_where(now, |f, _, _| f == family_id))
    }

    fn revoke_user_families(&mut self, user_id: &str, now: i64) -> StoreResult<usize> {
        Ok(self.revoke_where(now, |_, u, _| u == user_id))
    }

    fn revoke_client_families(&mut self, client_id: &str, now: i64) -> StoreResult<usize> {
        Ok(self.revoke_where(now, |_, _, c| c == client_id))
    }

    fn revoke_grant_families(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<usize> {
        Ok(self.revoke_where(now, |_, u, c| u == user_id && c == client_id))
    }
}

impl RevocationList for MemoryStore {
    fn revoke_jti(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.state.revoked.insert(jti.into(), expires_at);
        Ok(())
    }

    fn is_jti_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        Ok(self.state.revoked.contains_key(jti))
    }

    fn record_exchange(
        &mut self,
        issued: &str,
        subject: &str,
        _expires_at: i64,
    ) -> StoreResult<()> {
        self.state.exchanges.insert(issued.into(), subject.into());
        Ok(())
    }

    fn exchanged_from(&mut self, issued: &str) -> StoreResult<Option<String>> {
        Ok(self.state.exchanges.get(issued).cloned())
    }
}

impl AssertionReplayGuard for MemoryStore {
    fn use_assertion(&mut self, key: &str, expires_at: i64) -> StoreResult<bool> {
        Ok(self
            .state
            .assertions
            .insert(key.into(), expires_at)
            .is_none())
    }
}

impl SessionStore for MemoryStore {
    fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()> {
        self.state
            .sessions
            .insert(session.id_hash.clone(), session.clone());
        Ok(())
    }

    fn find_session(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<SessionInfo>> {
        let Some(s) = self
            .state
            .sessions
            .get(id_hash)
            .filter(|s| s.expires_at > now)
        else {
            return Ok(None);
        };
        let Some(u) = self.state.users.get(&s.user_id).filter(|u| !u.disabled) else {
            return Ok(None);
        };
        Ok(Some(SessionInfo {
            id_hash: id_hash.to_string(),
            sid: s.sid.clone(),
            user_id: s.user_id.clone(),
            username: u.username.clone(),
            auth_time: s.auth_time,
            amr: s.amr.clone(),
            expires_at: s.expires_at,
        }))
    }

    fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool> {
        Ok(self.state.sessions.remove(id_hash).is_some())
    }

    fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<usize> {
        let before = self.state.sessions.len();
        self.state.sessions.retain(|_, s| s.user_id != user_id);
        Ok(before - self.state.sessions.len())
    }

    fn session_user_id(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<String>> {
        Ok(self
            .state
            .sessions
            .get(id_hash)
            .filter(|s| s.expires_at > now)
            .map(|s| s.user_id.clone()))
    }

    fn list_user_sessions(&mut self, user_id: &str, now: i64) -> StoreResult<Vec<SessionInfo>> {
        let hashes: Vec<String> = (self.state.sessions.iter())
            .filter(|(_, s)| s.user_id == user_id)
            .map(|(h, _)| h.clone())
            .collect();
        let mut all = Vec::new();
        for h in hashes {
            all.extend(self.find_session(&h, now)?);
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.auth_time));
        Ok(all)
    }
}

impl ConsentStore for MemoryStore {
    fn find_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<Option<Scopes>> {
        Ok(self
            .state
            .consents
            .get(&(user_id.into(), client_id.into()))
            .cloned())
    }

    fn list_consents(&mut self, user_id: &str) -> StoreResult<Vec<(String, Scopes, i64)>> {
        Ok((self.state.consents.iter())
            .filter(|((u, _), _)| u == user_id)
            .map(|((_, c), s)| (c.clone(), s.clone(), 0))
            .collect())
    }

    fn forget_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let key = (user_id.to_string(), client_id.to_string());
        Ok(self.state.consents.remove(&key).is_some())
    }

    fn remember_consent(&mut self, c: &Consent) -> StoreResult<()> {
        let key = (c.user_id.to_string(), c.client_id.to_string());
        let entry = self.state.consents.entry(key).or_default();
        for s in c.scopes.iter() {
            entry.insert(s);
        }
        Ok(())
    }
}

impl UserDirectory for MemoryStore {
    fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        let name = &user.username;
        if self.state.users.values().any(|u| u.username == *name) {
            return Err(StoreError::Conflict(format!(
                "user '{name}' already exists"
            )));
        }
        self.state.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    fn find_user_by_name(&mut self, username: &str) -> StoreResult<Option<User>> {
        Ok(self
            .state
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    fn find_user(&mut self, id: &str) -> StoreResult<Option<User>> {
        Ok(self.state.users.get(id).cloned())
    }

    fn list_users(&mut self, search: Option<&str>, skip: i64, max: i64) -> StoreResult<Vec<User>> {
        let needle = search.unwrap_or("").to_lowercase();
        let hit = |f: &Option<String>| f.as_deref().unwrap_or("").to_lowercase().contains(&needle);
        let mut all: Vec<User> = self
            .state
            .users
            .values()
            .filter(|u| {
                u.username.to_lowercase().contains(&needle) || hit(&u.email) || hit(&u.name)
            })
            .cloned()
            .collect();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(page(all, skip, max))
    }

    fn count_users(&mut self, search: Option<&str>) -> StoreResult<i64> {
        Ok(self.list_users(search, 0, i64::MAX)?.len() as i64)
    }

    fn update_user(&mut self, name: &str, changes: &UserChanges, now: i64) -> StoreResult<bool> {
        let username = name;
        let Some(u) = self
            .state
            .users
            .values_mut()
            .find(|u| u.username == username)
        else {
            return Ok(false);
        };
        changes.apply(u);
        u.updated_at = now;
        Ok(true)
    }

    fn delete_user(&mut self, username: &str) -> StoreResult<bool> {
        let Some(id) = self
            .state
            .users
            .values()
            .find(|u| u.username == username)
            .map(|u| u.id.clone())
        else {
            return Ok(false);
        };
        let s = &mut self.state;
        s.users.remove(&id);
        s.sessions.retain(|_, x| x.user_id != id);
        s.codes.retain(|_, x| x.user_id != id);
        s.refresh.retain(|_, x| x.user_id != id);
        s.consents.retain(|(u, _), _| *u != id);
        s.factors.retain(|f| f.user_id != id);
        Ok(true)
    }
}

impl LoginThrottle for MemoryStore {
    fn count_login_attempt(&mut self, key: &str, now: i64) -> StoreResult<(i64, i32)> {
        let state = self.state.failures.get(key).copied();
        let (next, wait) = throttle::count_attempt(key, state, now);
        self.state.failures.insert(key.into(), next);
        Ok((wait, next.0))
    }

    fn forgive_login_attempt(&mut self, key: &str) -> StoreResult<()> {
        if let Some(c) = self.state.failures.get_mut(key) {
            c.0 = (c.0 - 1).max(0);
        }
        Ok(())
    }

    fn clear_login_failures(&mut self, key: &str) -> StoreResult<()> {
        self.state.failures.remove(key);
        Ok(())
    }
}

impl AuditLog for MemoryStore {
    fn record(&mut self, event: &AuditEvent) -> StoreResult<()> {
        self.state.audit.push(event.clone());
        Ok(())
    }

    fn list_events(&mut self, since: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        let mut v: Vec<AuditEvent> = self
            .state
            .audit
            .iter()
            .filter(|e| since.is_none_or(|s| e.created_at >= s))
            .cloned()
            .collect();
        v.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(page(v, 0, limit))
    }
}

impl Store for MemoryStore {
    fn transaction(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Store) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let snapshot = self.state.clone();
        let result = f(self);
        if result.is_err() {
            self.state = snapshot;
        }
        result
    }
}

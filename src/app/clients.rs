//! Client administration: create, replace, delete, rotate the secret. The metadata
//! arrive validated ([`NewClient`]); these operations issue secrets, store the change
//! with its audit event in one transaction, and drop the cached record.

use serde_json::json;

use super::{Actor, AppError};
use crate::cache::ClientCache;
use crate::crypto::{random_token, secret_hash};
use crate::domain::client::{AuthMethod, Ceiling, ClientSecret, NewClient};
use crate::domain::{Client, ClientId};
use crate::oauth::registration::{secret_change, SecretChange};
use crate::oauth::store::{atomically, Replacement, Store};

/// What the audit log keeps about a client: its metadata, never a secret.
pub fn audit_detail(c: &Client) -> serde_json::Value {
    json!({
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scopes.to_string(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
    })
}

fn not_found(client_id: &str) -> AppError {
    AppError::NotFound(format!("no client with id '{client_id}'"))
}

fn new_secret() -> ClientSecret {
    ClientSecret::new(random_token(32))
}

/// A new client, with its secret and registration access token when it has them: both
/// are shown this once and only their hashes are kept.
#[derive(Debug)]
pub struct Created {
    pub client: Client,
    pub secret: Option<ClientSecret>,
    pub registration_token: Option<ClientSecret>,
}

/// Through which door a change came, for the audit log (`None`: an operator's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Operator,
    Registration,
}

impl Via {
    fn mark(self, mut detail: serde_json::Value) -> serde_json::Value {
        if self == Via::Registration {
            detail["via"] = json!("registration");
        }
        detail
    }
}

/// Registers a client under `id`. A registration through RFC 7591 also gets a
/// registration access token for RFC 7592.
pub fn create_client(
    store: &mut dyn Store,
    actor: &Actor,
    id: &ClientId,
    new: &NewClient,
    via: Via,
    now: i64,
) -> Result<Created, AppError> {
    let secret = new.auth_method.uses_secret().then(new_secret);
    let hash = secret.as_ref().map(|s| secret_hash(s.secret()));
    let token = (via == Via::Registration).then(new_secret);
    let token_hash = token.as_ref().map(|t| secret_hash(t.secret()));
    // What the administrator registering it approved is what it may later ask for.
    let mut new = new.clone();
    new.ceiling = token.is_some().then(|| Ceiling::of(&new));
    let client = new.to_client(id.as_str(), hash, token_hash, now, now);
    let client = atomically(store, |s| {
        s.insert_client(&client)?;
        let c = client.clone();
        let detail = via.mark(audit_detail(&c));
        s.record(
            &actor
                .event("client.create", &c.client_id, now)
                .detail(detail),
        )?;
        Ok::<_, AppError>(c)
    })?;
    Ok(Created {
        client,
        secret,
        registration_token: token,
    })
}

/// Whether a change of method leaves the client's secret as it is, drops it, or needs a
/// new one (issued and shown once).
fn secret_for(
    existing: &Client,
    method: AuthMethod,
) -> (Option<ClientSecret>, Option<Option<String>>) {
    match secret_change(existing.secret_hash.is_some(), method) {
        SecretChange::Keep => (None, None),
        SecretChange::Issue => {
            let s = new_secret();
            let h = secret_hash(s.secret());
            (Some(s), Some(Some(h)))
        }
        SecretChange::Clear => (None, Some(None)),
    }
}

/// Replaces a client's metadata. The secret stays unless the new method needs one the
/// client lacks (then one is issued and returned, once) or uses none (then it is dropped).
pub fn replace_client(
    store: &mut dyn Store,
    cache: &ClientCache,
    actor: &Actor,
    existing: &Client,
    new: &NewClient,
    via: Via,
    now: i64,
) -> Result<(Client, Option<ClientSecret>), AppError> {
    let id = existing.client_id.as_str();
    let new = within_ceiling(existing, new, via)?;
    let (secret, hash) = secret_for(existing, new.auth_method);
    let method_changed = existing.auth_method != new.auth_method;
    let scope_lost = existing.scopes.outside(&new.scopes).next().is_some();
    let client = atomically(store, |s| {
        let with = Replacement {
            new: &new,
            secret_hash: hash.clone(),
            now,
        };
        let mut c = s.replace_client(id, &with)?.ok_or_else(|| not_found(id))?;
        if method_changed {
            // Tokens issued under the old way of authenticating are not the new one's.
            s.revoke_client_families(id, now)?;
        }
        if method_changed || scope_lost {
            s.invalidate_client_tokens(id, now)?;
            c.tokens_valid_after = now;
        }
        let detail = via.mark(audit_detail(&c));
        s.record(&actor.event("client.update", id, now).detail(detail))?;
        Ok::<_, AppError>(c)
    })?;
    cache.forget(id);
    Ok((client, secret))
}

/// The metadata to store: through RFC 7592 within what was approved (and the ceiling
/// kept); from an operator, the new metadata are what is approved from now on.
fn within_ceiling(existing: &Client, new: &NewClient, via: Via) -> Result<NewClient, AppError> {
    let mut new = new.clone();
    new.ceiling = match via {
        Via::Registration => {
            if let Some(ceiling) = &existing.ceiling {
                ceiling.admits(&new)?;
            }
            existing.ceiling.clone()
        }
        Via::Operator => existing
            .registration_token_hash
            .is_some()
            .then(|| Ceiling::of(&new)),
    };
    Ok(new)
}

/// Deletes a client and everything issued to it.
pub fn delete_client(
    store: &mut dyn Store,
    cache: &ClientCache,
    actor: &Actor,
    id: &str,
    via: Via,
    now: i64,
) -> Result<(), AppError> {
    atomically(store, |s| {
        if !s.delete_client(id)? {
            return Err(not_found(id));
        }
        let detail = via.mark(json!({}));
        s.record(&actor.event("client.delete", id, now).detail(detail))?;
        Ok::<_, AppError>(())
    })?;
    cache.forget(id);
    Ok(())
}

/// Deletes self-registered clients unused since `before` (at most `limit`), each with its
/// audit event; returns how many.
pub fn delete_unused_self_registered(
    store: &mut dyn Store,
    cache: &ClientCache,
    before: i64,
    limit: i64,
    now: i64,
) -> Result<usize, AppError> {
    let ids = store.unused_self_registered(before, limit)?;
    let actor = Actor::new("cleanup", None);
    for id in &ids {
        match delete_client(store, cache, &actor, id, Via::Registration, now) {
            Ok(()) | Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ids.len())
}

/// Issues a new secret; the old one stops working at once. A client that authenticates
/// without a secret is a conflict.
pub fn rotate_secret(
    store: &mut dyn Store,
    cache: &ClientCache,
    actor: &Actor,
    id: &str,
    now: i64,
) -> Result<ClientSecret, AppError> {
    let client = store.find_client(id)?.ok_or_else(|| not_found(id))?;
    if !client.auth_method.uses_secret() {
        return Err(AppError::Conflict(format!(
            "client {id} authenticates with {}, not a secret",
            client.auth_method.as_str()
        )));
    }
    let secret = new_secret();
    let hash = secret_hash(secret.secret());
    atomically(store, |s| {
        if !s.set_client_secret(id, &hash, now)? {
            return Err(not_found(id));
        }
        // Tokens from the old secret no longer open gatehouse's own endpoints.
        s.invalidate_client_tokens(id, now)?;
        s.record(&actor.event("client.secret_rotate", id, now))?;
        Ok::<_, AppError>(())
    })?;
    cache.forget(id);
    Ok(secret)
}

/// A client by id; `NotFound` otherwise.
pub fn find_client(store: &mut dyn Store, id: &str) -> Result<Client, AppError> {
    store.find_client(id)?.ok_or_else(|| not_found(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientSpec;
    use crate::oauth::store::memory::MemoryStore;

    fn spec(method: &str) -> NewClient {
        ClientSpec {
            name: "App".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            auth_method: Some(method.into()),
            ..Default::default()
        }
        .validate(false)
        .unwrap()
    }

    #[test]
    fn create_issues_secrets_once_and_audits_in_the_same_transaction() {
        let mut store = MemoryStore::new();
        let id = ClientId::generate();
        let c = create_client(
            &mut store,
            &Actor::cli(),
            &id,
            &spec("client_secret_basic"),
            Via::Registration,
            5,
        )
        .unwrap();
        let secret = c.secret.unwrap();
        assert_eq!(
            c.client.secret_hash.as_deref(),
            Some(secret_hash(secret.secret()).as_str())
        );
        assert!(c.registration_token.is_some());
        let e = &store.audit_events()[0];
        assert_eq!(
            (e.action.as_str(), e.detail["via"].as_str()),
            ("client.create", Some("registration"))
        );
        let again = create_client(
            &mut store,
            &Actor::cli(),
            &id,
            &spec("none"),
            Via::Operator,
            5,
        );
        assert!(matches!(again, Err(AppError::Conflict(_))));
        assert_eq!(store.audit_events().len(), 1);
    }

    #[test]
    fn replacing_keeps_issues_or_drops_the_secret() {
        let mut store = MemoryStore::new();
        let cache = ClientCache::default();
        let id = ClientId::generate();
        let public = create_client(
            &mut store,
            &Actor::cli(),
            &id,
            &spec("none"),
            Via::Operator,
            1,
        )
        .unwrap()
        .client;
        let (c, s) = replace_client(
            &mut store,
            &cache,
            &Actor::cli(),
            &public,
            &spec("client_secret_post"),
            Via::Operator,
            2,
        )
        .unwrap();
        assert!(s.is_some() && c.secret_hash.is_some(), "issued");
        let (c2, s2) = replace_client(
            &mut store,
            &cache,
            &Actor::cli(),
            &c,
            &spec("client_secret_basic"),
            Via::Operator,
            3,
        )
        .unwrap();
        assert!(s2.is_none());
        assert_eq!(c2.secret_hash, c.secret_hash, "kept");
        let (c3, _) = replace_client(
            &mut store,
            &cache,
            &Actor::cli(),
            &c2,
            &spec("none"),
            Via::Operator,
            4,
        )
        .unwrap();
        assert!(c3.secret_hash.is_none(), "dropped");
    }

    #[test]
    fn registration_updates_stay_within_what_was_approved() {
        let mut store = MemoryStore::new();
        let cache = ClientCache::default();
        let id = ClientId::generate();
        let mut approved = spec("client_secret_basic");
        approved.scopes = crate::domain::Scopes::parse("openid read").unwrap();
        let reg = Via::Registration;
        let c = create_client(&mut store, &Actor::cli(), &id, &approved, reg, 1).unwrap();
        let c = c.client;
        let wider = |f: fn(&mut NewClient)| {
            let mut n = approved.clone();
            f(&mut n);
            n
        };
        type Widen = fn(&mut NewClient);
        let cases: [(Widen, &str); 4] = [
            (|n| n.scopes.insert("payments:admin"), "scope"),
            (
                |n| {
                    n.grant_types
                        .push(crate::oauth::grants::client_credentials::ID)
                },
                "grant_types",
            ),
            (
                |n| n.auth_method = AuthMethod::None,
                "token_endpoint_auth_method",
            ),
            (
                |n| {
                    n.redirect_uris
                        .push(crate::domain::RedirectUri::parse("https://evil.example/cb").unwrap())
                },
                "redirect_uris",
            ),
        ];
        for (change, field) in cases {
            let e = replace_client(
                &mut store,
                &cache,
                &Actor::cli(),
                &c,
                &wider(change),
                reg,
                2,
            );
            match e {
                Err(AppError::Metadata(m)) => assert_eq!(m.field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // Narrowing is fine, and the same origin may carry another path.
        let narrower = wider(|n| {
            n.scopes = crate::domain::Scopes::parse("openid").unwrap();
            n.redirect_uris =
                vec![crate::domain::RedirectUri::parse("https://app.example/other").unwrap()];
        });
        let (c2, _) =
            replace_client(&mut store, &cache, &Actor::cli(), &c, &narrower, reg, 3).unwrap();
        assert_eq!(c2.tokens_valid_after, 3, "a scope was dropped");
        // And back up to the ceiling, which an update never moves.
        let (c3, _) =
            replace_client(&mut store, &cache, &Actor::cli(), &c2, &approved, reg, 4).unwrap();
        assert_eq!(c3.ceiling, c.ceiling);
    }

    #[test]
    fn rotation_needs_a_secret_and_deletion_a_client() {
        let mut store = MemoryStore::new();
        let cache = ClientCache::default();
        let id = ClientId::generate();
        create_client(
            &mut store,
            &Actor::cli(),
            &id,
            &spec("none"),
            Via::Operator,
            1,
        )
        .unwrap();
        let e = rotate_secret(&mut store, &cache, &Actor::cli(), id.as_str(), 2).unwrap_err();
        assert!(matches!(e, AppError::Conflict(_)));
        delete_client(
            &mut store,
            &cache,
            &Actor::cli(),
            id.as_str(),
            Via::Operator,
            3,
        )
        .unwrap();
        let e = delete_client(
            &mut store,
            &cache,
            &Actor::cli(),
            id.as_str(),
            Via::Operator,
            3,
        );
        assert!(matches!(e, Err(AppError::NotFound(_))));
    }
}

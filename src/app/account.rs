//! What signed-in people do for themselves on their account page: end one of their
//! sessions, and take back what they allowed an app. Each change is audited in the
//! transaction that makes it.

use serde_json::json;

use super::{Actor, AppError};
use crate::oauth::store::{atomically, Store};

/// Ends another session of the user, by its `sid` (the clients that took part in it
/// are told on the back channel).
pub fn end_own_session(
    store: &mut dyn Store,
    actor: &Actor,
    user_id: &str,
    sid: &str,
    now: i64,
) -> Result<(), AppError> {
    let session = store
        .list_user_sessions(user_id, now)?
        .into_iter()
        .find(|s| s.sid == sid)
        .ok_or_else(|| AppError::NotFound("that session has ended already".into()))?;
    super::sessions::end_session(store, actor, &session.id_hash, Some((sid, user_id)), now)?;
    Ok(())
}

/// Takes back what the user allowed a client: the consent is forgotten (the app asks
/// again next time) and the refresh tokens it holds for the user are revoked, with the
/// access tokens minted from them.
pub fn revoke_app(
    store: &mut dyn Store,
    actor: &Actor,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> Result<usize, AppError> {
    atomically(store, |s| {
        // Idempotent, like token revocation: a second press finds nothing more to end.
        let forgotten = s.forget_consent(user_id, client_id)?;
        let revoked = s.revoke_grant_families(user_id, client_id, now)?;
        if !forgotten && revoked == 0 {
            return Ok(0);
        }
        s.record(
            &actor
                .event("consent.revoked", user_id, now)
                .detail(json!({ "client_id": client_id, "families": revoked })),
        )?;
        Ok(revoked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scopes;
    use crate::oauth::store::memory::MemoryStore;
    use crate::oauth::store::prelude::*;
    use crate::oauth::store::Consent;

    #[test]
    fn revoking_an_app_forgets_the_consent_and_audits_once() {
        let mut store = MemoryStore::new();
        let scopes = Scopes::parse("openid profile").unwrap();
        store
            .remember_consent(&Consent {
                user_id: "u1",
                client_id: "app",
                scopes: &scopes,
                at: 1,
            })
            .unwrap();
        let actor = Actor::new("user:kim", None);
        revoke_app(&mut store, &actor, "u1", "app", 2).unwrap();
        assert_eq!(store.find_consent("u1", "app").unwrap(), None);
        assert_eq!(revoke_app(&mut store, &actor, "u1", "app", 3), Ok(0));
        let revoked = store
            .audit_events()
            .iter()
            .filter(|e| e.action == "consent.revoked");
        assert_eq!(revoked.count(), 1);
        assert!(matches!(
            end_own_session(&mut store, &actor, "u1", "nope", 3),
            Err(AppError::NotFound(_))
        ));
    }
}

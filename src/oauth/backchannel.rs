//! OpenID Back-Channel Logout 1.0: when sessions end, a logout token is queued for each
//! client with a `backchannel_logout_uri` that took part in them; the logout token's
//! claims; and the retry schedule. Delivery itself (HTTP) is `crate::deliver`.

use serde::Serialize;

use super::store::logout::{Ended, LogoutDelivery, SessionClient};
use super::store::{Store, StoreResult};
use crate::domain::Client;

/// The event a logout token carries (Back-Channel Logout §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token (Back-Channel Logout §2.4, RFC 8725 §3.11).
pub const LOGOUT_TYP: &str = "logout+jwt";
/// A delivery not made within a day is given up (and audited).
pub const GIVE_UP_AFTER: i64 = 24 * 3600;
/// Seconds a delivering instance holds a delivery before another may retry it.
pub const LEASE: i64 = 60;

/// Queues logout tokens for the clients of the ended sessions that asked for them, and
/// forgets those sessions' clients. Returns the clients told, with the session each was
/// part of (the front channel uses the same list).
pub fn queue(
    store: &mut dyn Store,
    ended: Ended<'_>,
    now: i64,
) -> StoreResult<Vec<(Client, SessionClient)>> {
    let mut told = Vec::new();
    for sc in store.session_clients(ended)? {
        let Some(client) = store.find_client(&sc.client_id)? else {
            continue;
        };
        if client.openid.backchannel_logout_uri.is_some() {
            store.queue_logout(&LogoutDelivery {
                id: super::tokens::new_jti(),
                client_id: sc.client_id.clone(),
                user_id: sc.user_id.clone(),
                sid: Some(sc.sid.clone()),
                attempts: 0,
                next_attempt_at: now,
                created_at: now,
                last_error: None,
            })?;
        }
        told.push((client, sc));
    }
    store.forget_session_clients(ended)?;
    Ok(told)
}

/// The claims of a logout token (Back-Channel Logout §2.4): no `nonce`, an `events`
/// member, and `sub` (the client's own) with `sid` when the session is known.
#[derive(Debug, Clone, Serialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub events: serde_json::Value,
}

impl LogoutClaims {
    /// The token for delivery `d` to `client`, about the subject `sub` as that client
    /// knows it. Two minutes to live: it is signed again for each attempt.
    pub fn new(issuer: &str, client: &Client, d: &LogoutDelivery, sub: String, now: i64) -> Self {
        LogoutClaims {
            iss: issuer.to_string(),
            aud: client.client_id.clone(),
            iat: now,
            exp: now + 120,
            jti: d.id.clone(),
            sub,
            sid: d.sid.clone(),
            events: serde_json::json!({ LOGOUT_EVENT: {} }),
        }
    }
}

/// When to try again after `attempts` failures: 2 s, doubling, at most an hour apart.
pub fn next_attempt(attempts: i32, now: i64) -> i64 {
    let exp = attempts.clamp(1, 12) as u32;
    now + (1i64 << exp).min(3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::logout::LogoutQueue;
    use crate::oauth::store::memory::MemoryStore;
    use crate::oauth::store::ClientRegistry;

    #[test]
    fn ending_a_session_queues_only_clients_that_listen() {
        let mut store = MemoryStore::new();
        let mut listening = crate::oauth::redirect::test_support::client();
        listening.client_id = "listens".into();
        listening.openid.backchannel_logout_uri = Some("https://rp.example/bc".into());
        let mut deaf = crate::oauth::redirect::test_support::client();
        deaf.client_id = "deaf".into();
        store.insert_client(&listening).unwrap();
        store.insert_client(&deaf).unwrap();
        for (sid, client) in [("s1", "listens"), ("s1", "deaf"), ("s2", "listens")] {
            let sc = SessionClient {
                sid: sid.into(),
                client_id: client.into(),
                user_id: "u1".into(),
                expires_at: 100,
            };
            store.record_session_client(&sc).unwrap();
            store.record_session_client(&sc).unwrap();
        }
        let told = queue(&mut store, Ended::Session("s1"), 10).unwrap();
        assert_eq!(told.len(), 2, "both clients of the session are told");
        let due = store.due_logouts(10, 10).unwrap();
        assert_eq!(due.len(), 1, "only the listening client gets a token");
        assert_eq!(due[0].sid.as_deref(), Some("s1"));
        assert!(store
            .session_clients(Ended::Session("s1"))
            .unwrap()
            .is_empty());
        assert_eq!(store.session_clients(Ended::User("u1")).unwrap().len(), 1);
        // One of two instances leases a delivery.
        assert!(store.lease_logout(&due[0].id, 10, 70).unwrap());
        assert!(!store.lease_logout(&due[0].id, 10, 70).unwrap());
        assert!(store.due_logouts(10, 10).unwrap().is_empty());
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(next_attempt(1, 0), 2);
        assert_eq!(next_attempt(3, 0), 8);
        assert_eq!(next_attempt(40, 0), 3600);
    }
}

//! Ending a browser session: the session goes, and the clients that took part in it are
//! told (a logout token queued for each that listens on the back channel).

use serde_json::json;

use super::{Actor, AppError};
use crate::domain::Client;
use crate::oauth::backchannel;
use crate::oauth::store::logout::{Ended, SessionClient};
use crate::oauth::store::{atomically, Store};

/// Ends the session whose cookie hashes to `id_hash`; `sid` is the session's, when it
/// was still valid. Returns the clients of the session (for front-channel logout).
pub fn end_session(
    store: &mut dyn Store,
    actor: &Actor,
    id_hash: &str,
    session: Option<(&str, &str)>,
    now: i64,
) -> Result<Vec<(Client, SessionClient)>, AppError> {
    atomically(store, |s| {
        // The write comes first (the SQLite rule).
        s.delete_session(id_hash)?;
        let Some((sid, user_id)) = session else {
            return Ok(Vec::new());
        };
        let told = backchannel::queue(s, Ended::Session(sid), now)?;
        let clients: Vec<&str> = told.iter().map(|(c, _)| c.client_id.as_str()).collect();
        s.record(
            &actor
                .event("session.end", user_id, now)
                .detail(json!({ "sid": sid, "clients": clients })),
        )?;
        Ok(told)
    })
}

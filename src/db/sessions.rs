//! `SessionStore`: browser login sessions. They live in the database so any instance can
//! serve them and logging out ends them everywhere. The cookie holds a random value; only
//! its hash is stored, so a database leak yields no usable cookies.

use diesel::prelude::*;

use super::schema::{login_sessions, users};
use super::{DbConn, StoreError};
use crate::crypto::{random_token, secret_hash};
use crate::secret_type;

secret_type!(
    /// The value of the session cookie.
    SessionCookie
);

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = login_sessions)]
pub struct SessionRecord {
    pub id_hash: String,
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    /// A JSON array of authentication methods (RFC 8176), e.g. `["pwd"]`.
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session of an enabled user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The `sid` claim: identifies the session without being the cookie.
    pub sid: String,
    pub user_id: String,
    pub username: String,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
}

/// A new session after a login with `amr` methods: the cookie value and the record.
pub fn new_session(
    user_id: &str,
    amr: &[&str],
    now: i64,
    lifetime: i64,
) -> (SessionCookie, SessionRecord) {
    let cookie = SessionCookie::new(random_token(32));
    let record = SessionRecord {
        id_hash: secret_hash(cookie.secret()),
        sid: random_token(16),
        user_id: user_id.to_string(),
        auth_time: now,
        amr: serde_json::to_string(amr).expect("a string list serializes"),
        created_at: now,
        expires_at: now + lifetime,
    };
    (cookie, record)
}

pub trait SessionStore {
    fn insert_session(&mut self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session behind a cookie, unless it expired or its user is disabled or gone.
    fn find_session(&mut self, id_hash: &str, now: i64) -> Result<Option<SessionInfo>, StoreError>;
    fn delete_session(&mut self, id_hash: &str) -> Result<bool, StoreError>;
    /// The user behind an unexpired session, enabled or not (the admin pages tell a
    /// disabled user so, where [`SessionStore::find_session`] would not find them).
    fn session_user_id(&mut self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError>;
}

impl SessionStore for DbConn {
    fn insert_session(&mut self, session: &SessionRecord) -> Result<(), StoreError> {
        diesel::insert_into(login_sessions::table)
            .values(session)
            .execute(self)?;
        Ok(())
    }

    fn find_session(&mut self, id_hash: &str, now: i64) -> Result<Option<SessionInfo>, StoreError> {
        let row: Option<(String, String, String, i64, String, i64)> = login_sessions::table
            .inner_join(users::table)
            .filter(login_sessions::id_hash.eq(id_hash))
            .filter(login_sessions::expires_at.gt(now))
            .filter(users::disabled.eq(false))
            .select((
                login_sessions::sid,
                login_sessions::user_id,
                users::username,
                login_sessions::auth_time,
                login_sessions::amr,
                login_sessions::expires_at,
            ))
            .first(self)
            .optional()?;
        Ok(row.map(
            |(sid, user_id, username, auth_time, amr, expires_at)| SessionInfo {
                sid,
                user_id,
                username,
                auth_time,
                amr,
                expires_at,
            },
        ))
    }

    fn delete_session(&mut self, id_hash: &str) -> Result<bool, StoreError> {
        let n = diesel::delete(login_sessions::table.filter(login_sessions::id_hash.eq(id_hash)))
            .execute(self)?;
        Ok(n == 1)
    }

    fn session_user_id(&mut self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(login_sessions::table
            .filter(login_sessions::id_hash.eq(id_hash))
            .filter(login_sessions::expires_at.gt(now))
            .select(login_sessions::user_id)
            .first(self)
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sessions_store_only_the_cookie_hash() {
        let (cookie, rec) = new_session("u1", &["pwd"], 100, 3600);
        assert_eq!(
            crate::crypto::b64url_decode(cookie.secret()).unwrap().len(),
            32
        );
        assert_eq!(rec.id_hash, secret_hash(cookie.secret()));
        assert_ne!(rec.id_hash, cookie.secret());
        assert_eq!(rec.amr, "[\"pwd\"]");
        assert_eq!((rec.auth_time, rec.expires_at), (100, 3700));
        let (_, other) = new_session("u1", &["pwd"], 100, 3600);
        assert_ne!(rec.sid, other.sid);
    }
}

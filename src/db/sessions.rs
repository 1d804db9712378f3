//! `SessionStore` over diesel: browser login sessions. They live in the database so any
//! instance can serve them and logging out ends them everywhere. The cookie holds a
//! random value; only its hash is stored, so a database leak yields no usable cookies.

use diesel::prelude::*;

use super::schema::{login_sessions, users};
use super::DbConn;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{Amr, SessionInfo, SessionRecord, SessionStore};

#[derive(Queryable, Insertable)]
#[diesel(table_name = login_sessions)]
struct SessionRow {
    id_hash: String,
    sid: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    created_at: i64,
    expires_at: i64,
}

impl From<&SessionRecord> for SessionRow {
    fn from(s: &SessionRecord) -> Self {
        SessionRow {
            id_hash: s.id_hash.clone(),
            sid: s.sid.clone(),
            user_id: s.user_id.clone(),
            auth_time: s.auth_time,
            amr: Amr::encode_list(&s.amr),
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }
}

impl SessionStore for DbConn {
    fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()> {
        diesel::insert_into(login_sessions::table)
            .values(SessionRow::from(session))
            .execute(self)?;
        Ok(())
    }

    fn find_session(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<SessionInfo>> {
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
        let Some((sid, user_id, username, auth_time, amr, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(SessionInfo {
            id_hash: id_hash.to_string(),
            amr: super::grants::amr("login session", &amr)?,
            sid,
            user_id,
            username,
            auth_time,
            expires_at,
        }))
    }

    fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool> {
        let n = diesel::delete(login_sessions::table.filter(login_sessions::id_hash.eq(id_hash)))
            .execute(self)?;
        Ok(n == 1)
    }

    fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<usize> {
        Ok(
            diesel::delete(login_sessions::table.filter(login_sessions::user_id.eq(user_id)))
                .execute(self)?,
        )
    }

    fn list_user_sessions(&mut self, user_id: &str, now: i64) -> StoreResult<Vec<SessionInfo>> {
        let rows: Vec<(String, String, String, i64, String, i64)> = login_sessions::table
            .inner_join(users::table)
            .filter(login_sessions::user_id.eq(user_id))
            .filter(login_sessions::expires_at.gt(now))
            .order(login_sessions::auth_time.desc())
            .select((
                login_sessions::id_hash,
                login_sessions::sid,
                users::username,
                login_sessions::auth_time,
                login_sessions::amr,
                login_sessions::expires_at,
            ))
            .load(self)?;
        rows.into_iter()
            .map(|(id_hash, sid, username, auth_time, amr, expires_at)| {
                Ok(SessionInfo {
                    id_hash,
                    amr: super::grants::amr("login session", &amr)?,
                    sid,
                    user_id: user_id.to_string(),
                    username,
                    auth_time,
                    expires_at,
                })
            })
            .collect()
    }

    fn session_user_id(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<String>> {
        Ok(login_sessions::table
            .filter(login_sessions::id_hash.eq(id_hash))
            .filter(login_sessions::expires_at.gt(now))
            .select(login_sessions::user_id)
            .first(self)
            .optional()?)
    }
}

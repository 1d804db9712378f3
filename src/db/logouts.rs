//! `LogoutQueue` over diesel: the clients of each session and the queue of logout
//! tokens to deliver.

use diesel::prelude::*;

use super::schema::{logout_deliveries as ld, session_clients as sc};
use super::DbConn;
use crate::oauth::store::logout::{Ended, LogoutDelivery, LogoutQueue, SessionClient};
use crate::oauth::store::{StoreError, StoreResult};

#[derive(Queryable, Insertable)]
#[diesel(table_name = sc)]
struct SessionClientRow {
    sid: String,
    client_id: String,
    user_id: String,
    expires_at: i64,
}

#[derive(Queryable, Insertable)]
#[diesel(table_name = ld)]
struct DeliveryRow {
    id: String,
    client_id: String,
    user_id: String,
    sid: Option<String>,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
    last_error: Option<String>,
}

impl From<DeliveryRow> for LogoutDelivery {
    fn from(r: DeliveryRow) -> Self {
        LogoutDelivery {
            id: r.id,
            client_id: r.client_id,
            user_id: r.user_id,
            sid: r.sid,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            last_error: r.last_error,
        }
    }
}

type Filtered = sc::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend>;

fn ended_filter(ended: Ended<'_>) -> Filtered {
    match ended {
        Ended::Session(sid) => sc::table.filter(sc::sid.eq(sid.to_string())).into_boxed(),
        Ended::User(u) => sc::table.filter(sc::user_id.eq(u.to_string())).into_boxed(),
    }
}

impl LogoutQueue for DbConn {
    fn record_session_client(&mut self, s: &SessionClient) -> StoreResult<()> {
        // Update first: the common case (another code in the same session) then never
        // meets a unique violation, which would abort a PostgreSQL transaction.
        let n = diesel::update(
            sc::table
                .filter(sc::sid.eq(&s.sid))
                .filter(sc::client_id.eq(&s.client_id)),
        )
        .set(sc::expires_at.eq(s.expires_at))
        .execute(self)?;
        if n > 0 {
            return Ok(());
        }
        let row = SessionClientRow {
            sid: s.sid.clone(),
            client_id: s.client_id.clone(),
            user_id: s.user_id.clone(),
            expires_at: s.expires_at,
        };
        match diesel::insert_into(sc::table).values(row).execute(self) {
            Ok(_) => Ok(()),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    fn session_clients(&mut self, ended: Ended<'_>) -> StoreResult<Vec<SessionClient>> {
        Ok(ended_filter(ended)
            .order((sc::sid.asc(), sc::client_id.asc()))
            .load::<SessionClientRow>(self)?
            .into_iter()
            .map(|r| SessionClient {
                sid: r.sid,
                client_id: r.client_id,
                user_id: r.user_id,
                expires_at: r.expires_at,
            })
            .collect())
    }

    fn forget_session_clients(&mut self, ended: Ended<'_>) -> StoreResult<usize> {
        Ok(match ended {
            Ended::Session(sid) => {
                diesel::delete(sc::table.filter(sc::sid.eq(sid))).execute(self)?
            }
            Ended::User(u) => diesel::delete(sc::table.filter(sc::user_id.eq(u))).execute(self)?,
        })
    }

    fn queue_logout(&mut self, d: &LogoutDelivery) -> StoreResult<()> {
        let row = DeliveryRow {
            id: d.id.clone(),
            client_id: d.client_id.clone(),
            user_id: d.user_id.clone(),
            sid: d.sid.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            last_error: d.last_error.clone(),
        };
        diesel::insert_into(ld::table).values(row).execute(self)?;
        Ok(())
    }

    fn due_logouts(&mut self, now: i64, max: i64) -> StoreResult<Vec<LogoutDelivery>> {
        Ok(ld::table
            .filter(ld::next_attempt_at.le(now))
            .order((ld::next_attempt_at.asc(), ld::created_at.asc()))
            .limit(max)
            .load::<DeliveryRow>(self)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    fn lease_logout(&mut self, id: &str, seen: i64, until: i64) -> StoreResult<bool> {
        let n = diesel::update(
            ld::table
                .filter(ld::id.eq(id))
                .filter(ld::next_attempt_at.eq(seen)),
        )
        .set(ld::next_attempt_at.eq(until))
        .execute(self)?;
        Ok(n == 1)
    }

    fn retry_logout(&mut self, id: &str, attempts: i32, at: i64, error: &str) -> StoreResult<()> {
        diesel::update(ld::table.filter(ld::id.eq(id)))
            .set((
                ld::attempts.eq(attempts),
                ld::next_attempt_at.eq(at),
                ld::last_error.eq(Some(error.chars().take(500).collect::<String>())),
            ))
            .execute(self)?;
        Ok(())
    }

    fn finish_logout(&mut self, id: &str) -> StoreResult<()> {
        diesel::delete(ld::table.filter(ld::id.eq(id))).execute(self)?;
        Ok(())
    }

    fn count_logouts(&mut self) -> StoreResult<i64> {
        Ok(ld::table.count().get_result(self)?)
    }
}

//! `ConsentStore` over diesel: the scopes each user has allowed each client, so a later request for
//! the same or fewer scopes does not ask again.

use diesel::prelude::*;

use super::schema::consents;
use super::DbConn;
use crate::domain::Scopes;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{Consent, ConsentStore, StoreError};

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(_))
}

impl DbConn {
    fn merge_consent(&mut self, c: &Consent) -> StoreResult<()> {
        let (user_id, client_id, scopes, now) = (c.user_id, c.client_id, c.scopes, c.at);
        self.transaction(|conn| {
            let key = consents::table
                .filter(consents::user_id.eq(user_id))
                .filter(consents::client_id.eq(client_id));
            // Touch the row first so SQLite takes its write lock (and PostgreSQL the row
            // lock) before the read: two concurrent merges cannot lose each other's scopes.
            let n = diesel::update(key)
                .set(consents::created_at.eq(now))
                .execute(conn)?;
            if n == 0 {
                diesel::insert_into(consents::table)
                    .values((
                        consents::user_id.eq(user_id),
                        consents::client_id.eq(client_id),
                        consents::scopes.eq(scopes.to_string()),
                        consents::created_at.eq(now),
                    ))
                    .execute(conn)?;
                return Ok(());
            }
            let stored: String = key.select(consents::scopes).first(conn)?;
            let mut merged = super::grants::scopes("consent", &stored)?;
            for s in scopes.iter() {
                merged.insert(s);
            }
            diesel::update(key)
                .set(consents::scopes.eq(merged.to_string()))
                .execute(conn)?;
            Ok(())
        })
    }
}

impl ConsentStore for DbConn {
    fn find_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<Option<Scopes>> {
        let stored: Option<String> = consents::table
            .filter(consents::user_id.eq(user_id))
            .filter(consents::client_id.eq(client_id))
            .select(consents::scopes)
            .first(self)
            .optional()?;
        stored
            .map(|s| super::grants::scopes("consent", &s))
            .transpose()
    }

    fn list_consents(&mut self, user_id: &str) -> StoreResult<Vec<(String, Scopes, i64)>> {
        let rows: Vec<(String, String, i64)> = consents::table
            .filter(consents::user_id.eq(user_id))
            .order(consents::created_at.asc())
            .select((consents::client_id, consents::scopes, consents::created_at))
            .load(self)?;
        rows.into_iter()
            .map(|(c, s, at)| Ok((c, super::grants::scopes("consent", &s)?, at)))
            .collect()
    }

    fn forget_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let n = diesel::delete(
            consents::table
                .filter(consents::user_id.eq(user_id))
                .filter(consents::client_id.eq(client_id)),
        )
        .execute(self)?;
        Ok(n == 1)
    }

    fn remember_consent(&mut self, c: &Consent) -> StoreResult<()> {
        match self.merge_consent(c) {
            // Another request inserted the row between our update and insert: merge again.
            Err(e) if is_unique_violation(&e) => self.merge_consent(c),
            other => other,
        }
    }
}

//! `GrantStore`: authorization codes, refresh-token families and revocations.

use diesel::prelude::*;

use super::schema::{authorization_codes, refresh_tokens, revoked_tokens, used_assertions};
use super::{DbConn, StoreError};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub sid: String,
    pub auth_time: i64,
    pub amr: String,
    pub family_id: String,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: String,
    pub sid: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub idle_expires_at: i64,
    pub used_at: Option<i64>,
    pub replaced_by: Option<String>,
    pub grace_response: Option<Vec<u8>>,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
    pub revoked: bool,
}

/// The outcome of trying to consume a code.
#[derive(Debug)]
pub enum Consumed {
    /// This caller consumed it; no one else ever will.
    Won(CodeRecord),
    /// It had been consumed before: a replay.
    AlreadyUsed(CodeRecord),
    Unknown,
}

pub trait GrantStore {
    fn insert_code(&mut self, code: &CodeRecord) -> Result<(), StoreError>;
    fn find_code(&mut self, code_hash: &str) -> Result<Option<CodeRecord>, StoreError>;
    /// Marks the code used. Single-use by construction: of any number of concurrent
    /// callers, exactly one gets [`Consumed::Won`].
    fn consume_code(&mut self, code_hash: &str, now: i64) -> Result<Consumed, StoreError>;
    /// Remembers the access token minted from a code, so a replay can revoke it.
    fn record_code_access_token(
        &mut self,
        code_hash: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    fn insert_refresh(&mut self, token: &RefreshRecord) -> Result<(), StoreError>;
    fn find_refresh(&mut self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Rotates `old` to `new` atomically: true for exactly one of concurrent callers.
    fn rotate_refresh(
        &mut self,
        old_hash: &str,
        new: &RefreshRecord,
        grace_response: Option<Vec<u8>>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Revokes every refresh token of a family and the access tokens minted from them.
    fn revoke_family(&mut self, family_id: &str, now: i64) -> Result<usize, StoreError>;
    /// Revokes the refresh tokens of a user, e.g. when the user is disabled.
    fn revoke_user_refresh_tokens(&mut self, user_id: &str) -> Result<usize, StoreError>;

    fn revoke_jti(&mut self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    fn is_jti_revoked(&mut self, jti: &str) -> Result<bool, StoreError>;
    /// Records a client assertion's `jti`; false if it was seen before (a replay).
    fn use_assertion(&mut self, key: &str, expires_at: i64) -> Result<bool, StoreError>;
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl GrantStore for DbConn {
    fn insert_code(&mut self, code: &CodeRecord) -> Result<(), StoreError> {
        diesel::insert_into(authorization_codes::table)
            .values(code)
            .execute(self)?;
        Ok(())
    }

    fn find_code(&mut self, code_hash: &str) -> Result<Option<CodeRecord>, StoreError> {
        Ok(authorization_codes::table
            .filter(authorization_codes::code_hash.eq(code_hash))
            .first(self)
            .optional()?)
    }

    fn consume_code(&mut self, code_hash: &str, now: i64) -> Result<Consumed, StoreError> {
        // A conditional UPDATE is atomic on both backends: the row lock (PostgreSQL) or the
        // write lock (SQLite) lets one statement see consumed_at IS NULL.
        let n = diesel::update(
            authorization_codes::table
                .filter(authorization_codes::code_hash.eq(code_hash))
                .filter(authorization_codes::consumed_at.is_null()),
        )
        .set(authorization_codes::consumed_at.eq(Some(now)))
        .execute(self)?;
        let record = self.find_code(code_hash)?;
        Ok(match (n, record) {
            (1, Some(r)) => Consumed::Won(r),
            (_, Some(r)) => Consumed::AlreadyUsed(r),
            (_, None) => Consumed::Unknown,
        })
    }

    fn record_code_access_token(
        &mut self,
        code_hash: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        diesel::update(
            authorization_codes::table.filter(authorization_codes::code_hash.eq(code_hash)),
        )
        .set((
            authorization_codes::access_jti.eq(Some(jti)),
            authorization_codes::access_expires_at.eq(Some(expires_at)),
        ))
        .execute(self)?;
        Ok(())
    }

    fn insert_refresh(&mut self, token: &RefreshRecord) -> Result<(), StoreError> {
        diesel::insert_into(refresh_tokens::table)
            .values(token)
            .execute(self)?;
        Ok(())
    }

    fn find_refresh(&mut self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .first(self)
            .optional()?)
    }

    fn rotate_refresh(
        &mut self,
        old_hash: &str,
        new: &RefreshRecord,
        grace_response: Option<Vec<u8>>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.transaction(|conn| {
            // The UPDATE comes first so SQLite takes its write lock at once.
            let n = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(old_hash))
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::revoked.eq(false)),
            )
            .set((
                refresh_tokens::used_at.eq(Some(now)),
                refresh_tokens::replaced_by.eq(Some(&new.token_hash)),
                refresh_tokens::grace_response.eq(grace_response),
            ))
            .execute(conn)?;
            if n != 1 {
                return Ok(false);
            }
            diesel::insert_into(refresh_tokens::table)
                .values(new)
                .execute(conn)?;
            Ok(true)
        })
    }

    fn revoke_family(&mut self, family_id: &str, now: i64) -> Result<usize, StoreError> {
        let jtis: Vec<(Option<String>, Option<i64>)> = refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .select((
                refresh_tokens::access_jti,
                refresh_tokens::access_expires_at,
            ))
            .load(self)?;
        let code_jtis: Vec<(Option<String>, Option<i64>)> = authorization_codes::table
            .filter(authorization_codes::family_id.eq(family_id))
            .select((
                authorization_codes::access_jti,
                authorization_codes::access_expires_at,
            ))
            .load(self)?;
        for (jti, exp) in jtis.into_iter().chain(code_jtis) {
            if let (Some(jti), Some(exp)) = (jti, exp) {
                if exp > now {
                    self.revoke_jti(&jti, exp)?;
                }
            }
        }
        Ok(
            diesel::update(refresh_tokens::table.filter(refresh_tokens::family_id.eq(family_id)))
                .set((
                    refresh_tokens::revoked.eq(true),
                    refresh_tokens::grace_response.eq(None::<Vec<u8>>),
                ))
                .execute(self)?,
        )
    }

    fn revoke_user_refresh_tokens(&mut self, user_id: &str) -> Result<usize, StoreError> {
        Ok(
            diesel::update(refresh_tokens::table.filter(refresh_tokens::user_id.eq(user_id)))
                .set(refresh_tokens::revoked.eq(true))
                .execute(self)?,
        )
    }

    fn revoke_jti(&mut self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        match diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::jti.eq(jti),
                revoked_tokens::expires_at.eq(expires_at),
            ))
            .execute(self)
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn is_jti_revoked(&mut self, jti: &str) -> Result<bool, StoreError> {
        let n: i64 = revoked_tokens::table
            .filter(revoked_tokens::jti.eq(jti))
            .count()
            .get_result(self)?;
        Ok(n > 0)
    }

    fn use_assertion(&mut self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        match diesel::insert_into(used_assertions::table)
            .values((
                used_assertions::jti_key.eq(key),
                used_assertions::expires_at.eq(expires_at),
            ))
            .execute(self)
        {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

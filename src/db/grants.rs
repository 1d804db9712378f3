//! Codes, refresh-token families, revocations and used assertions over diesel. Rows are
//! private; they become the protocol's typed records through `TryFrom`, and a row that
//! does not parse is an error, never a default.

use diesel::prelude::*;

use super::schema::{authorization_codes, refresh_tokens, revoked_tokens, used_assertions};
use super::DbConn;
use crate::domain::Scopes;
use crate::oauth::claims::ClaimsRequest;
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{
    Amr, AssertionReplayGuard, CodeRecord, CodeStore, Consumed, RefreshFamilyStore, RefreshRecord,
    RevocationList, Rotation, StoreError,
};

#[derive(Queryable, Insertable)]
#[diesel(table_name = authorization_codes)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    redirect_uri: String,
    scopes: String,
    nonce: Option<String>,
    code_challenge: String,
    sid: String,
    auth_time: i64,
    amr: String,
    family_id: String,
    access_jti: Option<String>,
    access_expires_at: Option<i64>,
    created_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    redirect_uri_given: bool,
    resources: String,
    dpop_jkt: Option<String>,
    claims: Option<String>,
}

fn corrupt(what: &str, field: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: bad {field}"))
}

pub(super) fn scopes(what: &str, raw: &str) -> StoreResult<Scopes> {
    Scopes::parse(raw).ok_or_else(|| corrupt(what, "scopes"))
}

pub(super) fn resources(what: &str, raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|_| corrupt(what, "resources"))
}

pub(super) fn encode(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn claims(what: &str, raw: Option<String>) -> StoreResult<Option<ClaimsRequest>> {
    raw.map(|c| ClaimsRequest::decode(&c).ok_or_else(|| corrupt(what, "claims")))
        .transpose()
}

pub(super) fn amr(what: &str, raw: &str) -> StoreResult<Vec<Amr>> {
    Amr::decode_list(raw).ok_or_else(|| corrupt(what, "amr"))
}

impl TryFrom<CodeRow> for CodeRecord {
    type Error = StoreError;

    fn try_from(r: CodeRow) -> StoreResult<Self> {
        let what = "authorization code";
        Ok(CodeRecord {
            scopes: scopes(what, &r.scopes)?,
            amr: amr(what, &r.amr)?,
            code_challenge: CodeChallenge::from_stored(r.code_challenge)
                .ok_or_else(|| corrupt(what, "code_challenge"))?,
            code_hash: r.code_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_given: r.redirect_uri_given,
            resources: resources(what, &r.resources)?,
            nonce: r.nonce,
            sid: r.sid,
            auth_time: r.auth_time,
            family_id: r.family_id,
            access_jti: r.access_jti,
            access_expires_at: r.access_expires_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
            dpop_jkt: r.dpop_jkt,
            claims: claims(what, r.claims)?,
        })
    }
}

impl From<&CodeRecord> for CodeRow {
    fn from(r: &CodeRecord) -> Self {
        CodeRow {
            code_hash: r.code_hash.clone(),
            client_id: r.client_id.clone(),
            user_id: r.user_id.clone(),
            redirect_uri: r.redirect_uri.clone(),
            scopes: r.scopes.to_string(),
            nonce: r.nonce.clone(),
            code_challenge: r.code_challenge.as_str().to_string(),
            sid: r.sid.clone(),
            auth_time: r.auth_time,
            amr: Amr::encode_list(&r.amr),
            family_id: r.family_id.clone(),
            access_jti: r.access_jti.clone(),
            access_expires_at: r.access_expires_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
            consumed_at: r.consumed_at,
            redirect_uri_given: r.redirect_uri_given,
            resources: encode(&r.resources),
            dpop_jkt: r.dpop_jkt.clone(),
            claims: r.claims.as_ref().map(ClaimsRequest::encode),
        }
    }
}

#[derive(Queryable, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    user_id: String,
    scopes: String,
    sid: Option<String>,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    idle_expires_at: i64,
    used_at: Option<i64>,
    replaced_by: Option<String>,
    grace_response: Option<Vec<u8>>,
    access_jti: Option<String>,
    access_expires_at: Option<i64>,
    revoked: bool,
    amr: String,
    resources: String,
    dpop_jkt: Option<String>,
    claims: Option<String>,
}

impl TryFrom<RefreshRow> for RefreshRecord {
    type Error = StoreError;

    fn try_from(r: RefreshRow) -> StoreResult<Self> {
        let what = "refresh token";
        Ok(RefreshRecord {
            scopes: scopes(what, &r.scopes)?,
            amr: amr(what, &r.amr)?,
            resources: resources(what, &r.resources)?,
            token_hash: r.token_hash,
            family_id: r.family_id,
            client_id: r.client_id,
            user_id: r.user_id,
            sid: r.sid,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
            idle_expires_at: r.idle_expires_at,
            used_at: r.used_at,
            replaced_by: r.replaced_by,
            grace_response: r.grace_response,
            access_jti: r.access_jti,
            access_expires_at: r.access_expires_at,
            revoked: r.revoked,
            dpop_jkt: r.dpop_jkt,
            claims: claims(what, r.claims)?,
        })
    }
}

impl From<&RefreshRecord> for RefreshRow {
    fn from(r: &RefreshRecord) -> Self {
        RefreshRow {
            token_hash: r.token_hash.clone(),
            family_id: r.family_id.clone(),
            client_id: r.client_id.clone(),
            user_id: r.user_id.clone(),
            scopes: r.scopes.to_string(),
            sid: r.sid.clone(),
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
            idle_expires_at: r.idle_expires_at,
            used_at: r.used_at,
            replaced_by: r.replaced_by.clone(),
            grace_response: r.grace_response.clone(),
            access_jti: r.access_jti.clone(),
            access_expires_at: r.access_expires_at,
            revoked: r.revoked,
            amr: Amr::encode_list(&r.amr),
            resources: encode(&r.resources),
            dpop_jkt: r.dpop_jkt.clone(),
            claims: r.claims.as_ref().map(ClaimsRequest::encode),
        }
    }
}

impl CodeStore for DbConn {
    fn insert_code(&mut self, code: &CodeRecord) -> StoreResult<()> {
        diesel::insert_into(authorization_codes::table)
            .values(CodeRow::from(code))
            .execute(self)?;
        Ok(())
    }

    fn find_code(&mut self, code_hash: &str) -> StoreResult<Option<CodeRecord>> {
        authorization_codes::table
            .filter(authorization_codes::code_hash.eq(code_hash))
            .first::<CodeRow>(self)
            .optional()?
            .map(CodeRecord::try_from)
            .transpose()
    }

    fn consume_code(&mut self, code_hash: &str, now: i64) -> StoreResult<Consumed> {
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

    fn record_code_access_token(&mut self, code: &str, jti: &str, exp: i64) -> StoreResult<()> {
        diesel::update(authorization_codes::table.filter(authorization_codes::code_hash.eq(code)))
            .set((
                authorization_codes::access_jti.eq(Some(jti)),
                authorization_codes::access_expires_at.eq(Some(exp)),
            ))
            .execute(self)?;
        Ok(())
    }
}

impl DbConn {
    /// Revokes the refresh tokens of `families`, and every live access token
    /// minted from them or from the codes of those families. The family rows are updated
    /// first, so every revocation takes its locks in the same order as a rotation.
    fn revoke_families(&mut self, families: &[String], now: i64) -> StoreResult<usize> {
        super::transaction(self, |conn| {
            let family =
                || refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(families));
            let revoke = || {
                diesel::update(family()).set((
                    refresh_tokens::revoked.eq(true),
                    refresh_tokens::grace_response.eq(None::<Vec<u8>>),
                ))
            };
            // The rows first, so a revocation takes its locks in the order a rotation does
            // and the write lock (SQLite) at once. A rotation this waited for may have
            // committed a new token since the statement began: the second statement sees
            // it (each statement reads what is committed when it starts).
            let n = revoke().execute(conn)?;
            let n = n.max(revoke().execute(conn)?);
            let jtis: Vec<(Option<String>, Option<i64>)> = family()
                .select((
                    refresh_tokens::access_jti,
                    refresh_tokens::access_expires_at,
                ))
                .load(conn)?;
            let code_jtis: Vec<(Option<String>, Option<i64>)> = authorization_codes::table
                .filter(authorization_codes::family_id.eq_any(families))
                .select((
                    authorization_codes::access_jti,
                    authorization_codes::access_expires_at,
                ))
                .load(conn)?;
            for (jti, exp) in jtis.into_iter().chain(code_jtis) {
                if let (Some(jti), Some(exp)) = (jti, exp) {
                    if exp > now {
                        conn.revoke_jti(&jti, exp)?;
                    }
                }
            }
            Ok(n)
        })
    }

    /// In batches: a database caps the number of bound parameters.
    fn revoke_in_batches(&mut self, families: Vec<String>, now: i64) -> StoreResult<usize> {
        let mut n = 0;
        for chunk in families.chunks(500) {
            n += self.revoke_families(chunk, now)?;
        }
        Ok(n)
    }
}

/// Whose refresh-token families to find.
enum Owner<'a> {
    User(&'a str),
    Client(&'a str),
    Grant(&'a str, &'a str),
}

impl DbConn {
    /// Every family of a user's or a client's codes and refresh tokens.
    fn families_of(&mut self, owner: Owner) -> StoreResult<Vec<String>> {
        let mut tokens = refresh_tokens::table.into_boxed();
        let mut codes = authorization_codes::table.into_boxed();
        match owner {
            Owner::User(id) => {
                tokens = tokens.filter(refresh_tokens::user_id.eq(id));
                codes = codes.filter(authorization_codes::user_id.eq(id));
            }
            Owner::Client(id) => {
                tokens = tokens.filter(refresh_tokens::client_id.eq(id));
                codes = codes.filter(authorization_codes::client_id.eq(id));
            }
            Owner::Grant(user, client) => {
                tokens = tokens
                    .filter(refresh_tokens::user_id.eq(user))
                    .filter(refresh_tokens::client_id.eq(client));
                codes = codes
                    .filter(authorization_codes::user_id.eq(user))
                    .filter(authorization_codes::client_id.eq(client));
            }
        }
        let mut families: Vec<String> = tokens
            .select(refresh_tokens::family_id)
            .distinct()
            .load(self)?;
        let from_codes: Vec<String> = codes.select(authorization_codes::family_id).load(self)?;
        families.extend(from_codes);
        families.sort();
        families.dedup();
        Ok(families)
    }
}

impl RefreshFamilyStore for DbConn {
    fn insert_refresh(&mut self, token: &RefreshRecord) -> StoreResult<()> {
        diesel::insert_into(refresh_tokens::table)
            .values(RefreshRow::from(token))
            .execute(self)?;
        Ok(())
    }

    fn find_refresh(&mut self, token_hash: &str) -> StoreResult<Option<RefreshRecord>> {
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .first::<RefreshRow>(self)
            .optional()?
            .map(RefreshRecord::try_from)
            .transpose()
    }

    fn rotate_refresh(&mut self, r: &Rotation) -> StoreResult<bool> {
        let new = RefreshRow::from(r.new);
        super::transaction(self, |conn| {
            // The UPDATE comes first so SQLite takes its write lock at once.
            let n = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(r.old_hash))
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::revoked.eq(false)),
            )
            .set((
                refresh_tokens::used_at.eq(Some(r.now)),
                refresh_tokens::replaced_by.eq(Some(&new.token_hash)),
                refresh_tokens::grace_response.eq(r.grace_response.clone()),
            ))
            .execute(conn)?;
            if n != 1 {
                return Ok(false);
            }
            diesel::insert_into(refresh_tokens::table)
                .values(&new)
                .execute(conn)?;
            Ok(true)
        })
    }

    fn take_grace_replay(&mut self, token_hash: &str) -> StoreResult<bool> {
        let n = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(token_hash))
                .filter(refresh_tokens::grace_response.is_not_null()),
        )
        .set(refresh_tokens::grace_response.eq(None::<Vec<u8>>))
        .execute(self)?;
        Ok(n == 1)
    }

    fn revoke_family(&mut self, family_id: &str, now: i64) -> StoreResult<usize> {
        self.revoke_families(&[family_id.to_string()], now)
    }

    fn revoke_user_families(&mut self, user_id: &str, now: i64) -> StoreResult<usize> {
        let families = self.families_of(Owner::User(user_id))?;
        self.revoke_in_batches(families, now)
    }

    fn revoke_client_families(&mut self, client_id: &str, now: i64) -> StoreResult<usize> {
        let families = self.families_of(Owner::Client(client_id))?;
        self.revoke_in_batches(families, now)
    }

    fn revoke_grant_families(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<usize> {
        let families = self.families_of(Owner::Grant(user_id, client_id))?;
        self.revoke_in_batches(families, now)
    }
}

impl RevocationList for DbConn {
    fn revoke_jti(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        // In a savepoint: on PostgreSQL a failed statement would end the transaction.
        let inserted = super::transaction(self, |c| {
            diesel::insert_into(revoked_tokens::table)
                .values((
                    revoked_tokens::jti.eq(jti),
                    revoked_tokens::expires_at.eq(expires_at),
                ))
                .execute(c)?;
            Ok(())
        });
        match inserted {
            Err(StoreError::Conflict(_)) => Ok(()),
            other => other,
        }
    }

    fn is_jti_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        let n: i64 = revoked_tokens::table
            .filter(revoked_tokens::jti.eq(jti))
            .count()
            .get_result(self)?;
        Ok(n > 0)
    }

    fn record_exchange(&mut self, issued: &str, subject: &str, expires_at: i64) -> StoreResult<()> {
        use super::schema::token_exchanges as tx;
        diesel::insert_into(tx::table)
            .values((
                tx::issued_jti.eq(issued),
                tx::subject_jti.eq(subject),
                tx::expires_at.eq(expires_at),
            ))
            .execute(self)?;
        Ok(())
    }

    fn exchanged_from(&mut self, issued: &str) -> StoreResult<Option<String>> {
        use super::schema::token_exchanges as tx;
        Ok(tx::table
            .filter(tx::issued_jti.eq(issued))
            .select(tx::subject_jti)
            .first(self)
            .optional()?)
    }
}

impl AssertionReplayGuard for DbConn {
    fn use_assertion(&mut self, key: &str, expires_at: i64) -> StoreResult<bool> {
        let inserted = super::transaction(self, |c| {
            diesel::insert_into(used_assertions::table)
                .values((
                    used_assertions::jti_key.eq(key),
                    used_assertions::expires_at.eq(expires_at),
                ))
                .execute(c)?;
            Ok(())
        });
        match inserted {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

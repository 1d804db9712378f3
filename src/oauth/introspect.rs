//! Introspection (RFC 7662) and revocation (RFC 7009): who may learn about or revoke
//! which token, and what the answer says.

use crate::crypto::Sealer;
use crate::oauth::subject::{subject_for, token_user};
use serde_json::{json, Value};

use super::error::OAuthError;
use super::store::{RefreshRecord, Store};
use super::tokens::AccessClaims;
use crate::domain::Client;
use crate::oauth::store::StoreResult;

/// The only answer for a token the caller may not learn about: `{"active": false}`.
pub fn inactive() -> Value {
    json!({ "active": false })
}

/// Whether `caller` may see an access token: its own, or one whose audience it is (a
/// resource server), by client id or by one of its configured audiences.
pub fn may_see_access_token(caller: &Client, claims: &AccessClaims) -> bool {
    claims.client_id == caller.client_id
        || claims.aud.contains(&caller.client_id)
        || caller
            .audience
            .as_deref()
            .is_some_and(|a| a.split_whitespace().any(|x| claims.aud.contains(x)))
}

pub fn access_token_response(claims: &AccessClaims) -> Value {
    let mut v = json!({
        "active": true,
        "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if let Some(t) = claims.auth_time {
        v["auth_time"] = json!(t);
    }
    // RFC 9449 §6.2: the resource server checks the proof against this key.
    if let Some(cnf) = &claims.cnf {
        v["cnf"] = json!({ "jkt": cnf.jkt });
    }
    v
}

/// Whether a refresh token is usable now.
pub fn refresh_is_active(r: &RefreshRecord, now: i64) -> bool {
    !r.revoked && r.used_at.is_none() && r.expires_at > now && r.idle_expires_at > now
}

/// `sub` is the user as the token's client knows them.
pub fn refresh_token_response(r: &RefreshRecord, issuer: &str, sub: &str) -> Value {
    json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": r.scopes.to_string(),
        "client_id": r.client_id,
        "sub": sub,
        "aud": r.client_id,
        "iss": issuer,
        "exp": r.expires_at.min(r.idle_expires_at),
        "iat": r.created_at,
    })
}

/// The answer about an access token that verified: active only for a caller who may see
/// it, while it is not revoked and (for a user's token) its user is enabled.
pub fn introspect_access(
    store: &mut dyn Store,
    sealer: &Sealer,
    caller: &Client,
    claims: &AccessClaims,
) -> StoreResult<Value> {
    if !may_see_access_token(caller, claims) || crate::oauth::store::is_revoked(store, claims)? {
        return Ok(inactive());
    }
    if claims.is_user_token() {
        let user = match token_user(store, sealer, claims)? {
            Some(id) => store.find_user(&id)?,
            None => None,
        };
        if user.is_none_or(|u| u.disabled) {
            return Ok(inactive());
        }
    }
    Ok(access_token_response(claims))
}

/// The answer about a refresh token (by its hash): only its own client learns about it.
pub fn introspect_refresh(
    store: &mut dyn Store,
    sealer: &Sealer,
    caller: &Client,
    token_hash: &str,
    issuer: &str,
    now: i64,
) -> StoreResult<Value> {
    let Some(r) = store.find_refresh(token_hash)? else {
        return Ok(inactive());
    };
    if r.client_id != caller.client_id || !refresh_is_active(&r, now) {
        return Ok(inactive());
    }
    if store.find_user(&r.user_id)?.is_none_or(|u| u.disabled) {
        return Ok(inactive());
    }
    let sub = subject_for(sealer, caller, &r.user_id);
    Ok(refresh_token_response(&r, issuer, &sub))
}

fn not_yours() -> OAuthError {
    OAuthError::unauthorized_client("the token was issued to another client")
}

/// Revokes an access token that verified, if it is the caller's: recorded by `jti` until
/// the token's own expiry, so every instance sees it at once.
pub fn revoke_access(
    store: &mut dyn Store,
    caller: &Client,
    claims: &AccessClaims,
) -> StoreResult<Result<(), OAuthError>> {
    if claims.client_id != caller.client_id {
        return Ok(Err(not_yours()));
    }
    store.revoke_jti(&claims.jti, claims.exp)?;
    Ok(Ok(()))
}

/// Revokes the family of a refresh token (by its hash), if it is the caller's. An
/// unknown token is no error (RFC 7009 §2.2).
pub fn revoke_refresh(
    store: &mut dyn Store,
    caller: &Client,
    token_hash: &str,
    now: i64,
) -> StoreResult<Result<(), OAuthError>> {
    match store.find_refresh(token_hash)? {
        Some(r) if r.client_id == caller.client_id => {
            store.revoke_family(&r.family_id, now)?;
            Ok(Ok(()))
        }
        Some(_) => Ok(Err(not_yours())),
        None => Ok(Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secret_hash;
    use crate::oauth::grants::testing::{Fixture, VERIFIER};
    use crate::oauth::store::Amr;

    #[test]
    fn only_the_owner_revokes_and_learns_about_a_refresh_token() {
        let mut f = Fixture::new();
        let code = f.code("openid offline_access", &[Amr::Pwd]);
        let r = f.exchange(&code, VERIFIER).result.unwrap();
        let hash = secret_hash(r.refresh_token.as_deref().unwrap());
        let mut other = f.client.clone();
        other.client_id = "other".into();
        let issuer = "https://id.example";
        let seen =
            introspect_refresh(&mut f.store, &f.sealer, &other, &hash, issuer, f.now).unwrap();
        assert_eq!(seen, inactive());
        let refused = revoke_refresh(&mut f.store, &other, &hash, f.now).unwrap();
        assert!(refused.is_err());
        let client = f.client.clone();
        let seen =
            introspect_refresh(&mut f.store, &f.sealer, &client, &hash, issuer, f.now).unwrap();
        assert_eq!(seen["active"], true);
        revoke_refresh(&mut f.store, &client, &hash, f.now)
            .unwrap()
            .unwrap();
        let seen =
            introspect_refresh(&mut f.store, &f.sealer, &client, &hash, issuer, f.now).unwrap();
        assert_eq!(seen, inactive());
        // The family's access token went with it.
        let claims = f.access_claims(&r.access_token);
        assert_eq!(
            introspect_access(&mut f.store, &f.sealer, &client, &claims).unwrap(),
            inactive()
        );
    }
}

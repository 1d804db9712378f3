//! Introspection (RFC 7662) and revocation (RFC 7009) decisions.

use serde_json::{json, Value};

use super::tokens::AccessClaims;
use crate::domain::Client;
use crate::oauth::store::RefreshRecord;

/// The only answer for a token the caller may not learn about: `{"active": false}`.
pub fn inactive() -> Value {
    json!({ "active": false })
}

/// Whether `caller` may see an access token: its own, or one whose audience it is (a
/// resource server), by client id or by one of its configured audiences.
pub fn may_see_access_token(caller: &Client, claims: &AccessClaims) -> bool {
    claims.client_id == caller.client_id
        || claims.aud == caller.client_id
        || caller
            .audience
            .as_deref()
            .is_some_and(|a| a.split_whitespace().any(|x| x == claims.aud))
}

pub fn access_token_response(claims: &AccessClaims) -> Value {
    let mut v = json!({
        "active": true,
        "token_type": "Bearer",
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
    v
}

/// Whether a refresh token is usable now.
pub fn refresh_is_active(r: &RefreshRecord, now: i64) -> bool {
    !r.revoked && r.used_at.is_none() && r.expires_at > now && r.idle_expires_at > now
}

pub fn refresh_token_response(r: &RefreshRecord, issuer: &str) -> Value {
    json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": r.scopes.to_string(),
        "client_id": r.client_id,
        "sub": r.user_id,
        "aud": r.client_id,
        "iss": issuer,
        "exp": r.expires_at.min(r.idle_expires_at),
        "iat": r.created_at,
    })
}

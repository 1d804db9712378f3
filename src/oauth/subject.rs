//! The `sub` a client knows a user by: the user's id, or for a pairwise client an
//! identifier of its sector (OIDC Core §8.1) that only this server can map back.

use super::store::{Store, StoreResult};
use super::tokens::AccessClaims;
use crate::crypto::Sealer;
use crate::domain::Client;

/// The `sub` of `user_id` as `client` sees it.
pub fn subject_for(sealer: &Sealer, client: &Client, user_id: &str) -> String {
    match client.sector() {
        Some(sector) => sealer.pairwise_subject(&sector, user_id),
        None => user_id.to_string(),
    }
}

/// The user behind a `sub` that `client` was given; `None` if it is none of ours.
pub fn user_for(sealer: &Sealer, client: &Client, sub: &str) -> Option<String> {
    match client.sector() {
        Some(sector) => sealer.pairwise_user(&sector, sub),
        None => Some(sub.to_string()),
    }
}

/// The user an access token is about; `None` for a client's own token or a `sub` that
/// maps to no one. A user id is a UUID and a pairwise identifier never has that form, so
/// only a pairwise `sub` costs a look at the token's client.
pub fn token_user(
    store: &mut dyn Store,
    sealer: &Sealer,
    claims: &AccessClaims,
) -> StoreResult<Option<String>> {
    if !claims.is_user_token() {
        return Ok(None);
    }
    if uuid::Uuid::try_parse(&claims.sub).is_ok() {
        return Ok(Some(claims.sub.clone()));
    }
    Ok(store
        .find_client(&claims.client_id)?
        .and_then(|owner| user_for(sealer, &owner, &claims.sub)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_clients_of_one_sector_share_a_sub() {
        let sealer = Sealer::from_secret("0123456789abcdef0123456789abcdef");
        let mut a = crate::oauth::redirect::test_support::client();
        let public = a.clone();
        a.openid.pairwise = true;
        a.redirect_uris = vec!["https://rp.example/cb".into()];
        let mut b = a.clone();
        b.redirect_uris = vec!["https://rp.example/other".into()];
        let mut c = a.clone();
        c.redirect_uris = vec!["https://elsewhere.example/cb".into()];
        let sub = subject_for(&sealer, &a, "user-1");
        assert_ne!(sub, "user-1");
        assert_eq!(
            sub,
            subject_for(&sealer, &b, "user-1"),
            "one sector, one sub"
        );
        assert_ne!(sub, subject_for(&sealer, &c, "user-1"));
        assert_eq!(user_for(&sealer, &b, &sub).as_deref(), Some("user-1"));
        assert_eq!(user_for(&sealer, &c, &sub), None);
        assert_eq!(subject_for(&sealer, &public, "user-1"), "user-1");
    }
}

//! First-run setup: while no administrator exists, `gatehouse serve` hands out a
//! single-use setup token (30 minutes); with it, a person creates the first
//! administrator in the browser. `gatehouse users add --admin` works as before.

use serde_json::json;

use super::{Actor, AppError};
use crate::crypto::{random_token, secret_hash};
use crate::domain::user::{NewUser, User};
use crate::oauth::store::{atomically, Store};

/// How long a setup token is valid.
pub const SETUP_TTL: i64 = 30 * 60;

/// A new setup token when there is no administrator (its hash is stored); `None` once
/// one exists.
pub fn issue_token(store: &mut dyn Store, now: i64) -> Result<Option<String>, AppError> {
    if store.count_admins()? > 0 {
        return Ok(None);
    }
    let token = random_token(32);
    store.insert_setup_token(&secret_hash(&token), now + SETUP_TTL, now)?;
    Ok(Some(token))
}

/// Whether `token` may still create the first administrator.
pub fn token_usable(store: &mut dyn Store, token: &str, now: i64) -> Result<bool, AppError> {
    Ok(store.count_admins()? == 0 && store.setup_token_valid(&secret_hash(token), now)?)
}

/// Creates the first administrator with `token`, which is used up: in one transaction
/// the token is consumed (the write first), no administrator may exist yet, and the user
/// and the audit events are written.
pub fn create_first_admin(
    store: &mut dyn Store,
    actor: &Actor,
    token: &str,
    user: &NewUser,
    password_hash: String,
    now: i64,
) -> Result<User, AppError> {
    let hash = secret_hash(token);
    let created = NewUser {
        is_admin: true,
        ..user.clone()
    }
    .to_user(password_hash, now);
    atomically(store, |s| {
        if !s.consume_setup_token(&hash, now)? {
            return Err(AppError::NotFound(
                "this setup link is not valid: it was used, it expired, or it never existed".into(),
            ));
        }
        if s.count_admins()? > 0 {
            return Err(AppError::Conflict("an administrator already exists".into()));
        }
        s.insert_user(&created)?;
        s.record(
            &actor
                .event("user.create", &created.username, now)
                .detail(json!({ "user_id": created.id, "admin": true, "via": "setup" })),
        )?;
        Ok(created.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::memory::MemoryStore;

    fn new_user(name: &str) -> NewUser {
        super::super::users::parse_new_user(name, "long enough pw".into(), None, None, false)
            .unwrap()
    }

    #[test]
    fn a_setup_token_works_once_and_only_without_an_admin() {
        let mut store = MemoryStore::new();
        let actor = Actor::new("setup", None);
        let token = issue_token(&mut store, 100).unwrap().unwrap();
        assert!(token_usable(&mut store, &token, 101).unwrap());
        assert!(
            !token_usable(&mut store, &token, 100 + SETUP_TTL).unwrap(),
            "expired"
        );
        let admin = create_first_admin(
            &mut store,
            &actor,
            &token,
            &new_user("root"),
            "h".into(),
            101,
        )
        .unwrap();
        assert!(admin.is_admin);
        let again = create_first_admin(
            &mut store,
            &actor,
            &token,
            &new_user("two"),
            "h".into(),
            102,
        );
        assert!(matches!(again, Err(AppError::NotFound(_))), "single use");
        assert_eq!(
            issue_token(&mut store, 103).unwrap(),
            None,
            "an admin exists"
        );
    }

    #[test]
    fn a_second_token_cannot_make_a_second_admin() {
        let mut store = MemoryStore::new();
        let actor = Actor::new("setup", None);
        let first = issue_token(&mut store, 1).unwrap().unwrap();
        let second = issue_token(&mut store, 2).unwrap().unwrap();
        create_first_admin(&mut store, &actor, &first, &new_user("a"), "h".into(), 3).unwrap();
        let late = create_first_admin(&mut store, &actor, &second, &new_user("b"), "h".into(), 4);
        assert!(matches!(late, Err(AppError::Conflict(_))));
        assert!(!token_usable(&mut store, &second, 5).unwrap());
    }
}

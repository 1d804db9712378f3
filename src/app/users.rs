//! User administration. Disabling a user, deleting one and changing a password end
//! everything the user had: refresh-token families (with their live access tokens) are
//! revoked and browser sessions ended, whichever front door the change came through.

use serde_json::json;

use super::{Actor, AppError};
use crate::domain::user::{parse_email, parse_phone, Address, NewUser, Password, User, Username};
use crate::oauth::backchannel;
use crate::oauth::store::logout::Ended;
use crate::oauth::store::{atomically, Store, UserChanges};

fn not_found(username: &str) -> AppError {
    AppError::NotFound(format!("no user named '{username}'"))
}

/// A display name: trimmed, at most 200 characters, no control characters; empty is none.
pub fn parse_name(raw: &str) -> Result<Option<String>, AppError> {
    let n = raw.trim();
    if n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "name: at most 200 characters, no control characters".into(),
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

/// An e-mail address, or none when absent or blank.
pub fn parse_optional_email(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => parse_email(e)
            .map(Some)
            .map_err(|m| AppError::Invalid(format!("email: {m}"))),
        None => Ok(None),
    }
}

/// Reads a new user's fields as any front door receives them.
pub fn parse_new_user(
    username: &str,
    password: String,
    email: Option<&str>,
    name: Option<&str>,
    admin: bool,
) -> Result<NewUser, AppError> {
    let bad = |field: &str, m: String| AppError::Invalid(format!("{field}: {m}"));
    Ok(NewUser {
        username: Username::parse(username).map_err(|m| bad("username", m))?,
        password: parse_password(password)?,
        email: parse_optional_email(email)?,
        name: name.map(parse_name).transpose()?.flatten(),
        phone_number: None,
        address: None,
        is_admin: admin,
    })
}

/// Reads a telephone number and a postal address (either may be absent or empty).
pub fn parse_contact(
    phone_number: Option<&str>,
    address: Option<Address>,
) -> Result<(Option<String>, Option<Address>), AppError> {
    let phone = parse_optional_phone(phone_number)?;
    let address = address.map(parse_address).transpose()?.flatten();
    Ok((phone, address))
}

fn parse_optional_phone(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => parse_phone(p)
            .map(Some)
            .map_err(|m| AppError::Invalid(format!("phone_number: {m}"))),
        None => Ok(None),
    }
}

fn parse_address(a: Address) -> Result<Option<Address>, AppError> {
    a.parse().map_err(AppError::Invalid)
}

pub fn parse_password(raw: String) -> Result<Password, AppError> {
    Password::parse(raw).map_err(|m| AppError::Invalid(format!("password: {m}")))
}

/// Changes to a user; `None` leaves a field as it is, `Some(None)` removes a value.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub phone_number: Option<Option<String>>,
    pub phone_number_verified: Option<bool>,
    pub address: Option<Option<Address>>,
    pub admin: Option<bool>,
    pub disabled: Option<bool>,
    /// The user must sign in with a second factor.
    pub require_mfa: Option<bool>,
}

impl UserUpdate {
    /// The validated changes, and the names of the profile fields they touch.
    fn changes(&self) -> Result<(UserChanges, Vec<&'static str>), AppError> {
        let mut changes = UserChanges::default();
        let mut changed = Vec::new();
        if let Some(email) = &self.email {
            changes.email = Some(parse_optional_email(email.as_deref())?);
            changed.push("email");
        }
        if let Some(name) = &self.name {
            changes.name = Some(name.as_deref().map(parse_name).transpose()?.flatten());
            changed.push("name");
        }
        if let Some(p) = &self.phone_number {
            changes.phone_number = Some(parse_optional_phone(p.as_deref())?);
            changed.push("phone_number");
        }
        if let Some(a) = &self.address {
            changes.address = Some(a.clone().map(parse_address).transpose()?.flatten());
            changed.push("address");
        }
        for (flag, value, name) in [
            (
                &mut changes.email_verified,
                self.email_verified,
                "email_verified",
            ),
            (
                &mut changes.phone_number_verified,
                self.phone_number_verified,
                "phone_number_verified",
            ),
            (&mut changes.is_admin, self.admin, "admin"),
            (&mut changes.require_mfa, self.require_mfa, "require_mfa"),
        ] {
            if value.is_some() {
                *flag = value;
                changed.push(name);
            }
        }
        changes.disabled = self.disabled;
        if changed.is_empty() && self.disabled.is_none() {
            return Err(AppError::Invalid(
                "name at least one of email, name, phone_number, address, the verified flags, admin, disabled, require_mfa"
                    .into(),
            ));
        }
        Ok((changes, changed))
    }
}

/// Ends what a user had: every refresh-token family and its live access tokens, and
/// every browser session, whose clients are sent logout tokens.
fn end_access(store: &mut dyn Store, user_id: &str, now: i64) -> Result<(), AppError> {
    store.revoke_user_families(user_id, now)?;
    store.delete_user_sessions(user_id)?;
    backchannel::queue(store, Ended::User(user_id), now)?;
    Ok(())
}

/// Applies `changes` to a user and reads the user back. The write comes first: on
/// SQLite the transaction then holds the write lock at once.
fn change(
    s: &mut dyn Store,
    username: &str,
    changes: &UserChanges,
    now: i64,
) -> Result<User, AppError> {
    if !s.update_user(username, changes, now)? {
        return Err(not_found(username));
    }
    s.find_user_by_name(username)?
        .ok_or_else(|| not_found(username))
}

/// Creates a user whose password hashes to `password_hash` (argon2 is the caller's, so
/// it runs where it may block).
pub fn create_user(
    store: &mut dyn Store,
    actor: &Actor,
    user: &NewUser,
    password_hash: String,
    now: i64,
) -> Result<User, AppError> {
    let created = user.to_user(password_hash, now);
    atomically(store, |s| {
        s.insert_user(&created)?;
        let created = created.clone();
        s.record(
            &actor
                .event("user.create", &created.username, now)
                .detail(json!({ "user_id": created.id, "admin": created.is_admin })),
        )?;
        Ok(created)
    })
}

/// Applies `update`; disabling also ends the user's access.
pub fn update_user(
    store: &mut dyn Store,
    actor: &Actor,
    username: &str,
    update: &UserUpdate,
    now: i64,
) -> Result<User, AppError> {
    let (changes, changed) = update.changes()?;
    atomically(store, |s| {
        let user = change(s, username, &changes, now)?;
        if update.disabled == Some(true) {
            end_access(s, &user.id, now)?;
        }
        let detail = json!({ "user_id": user.id });
        if !changed.is_empty() {
            let mut d = detail.clone();
            d["changed"] = json!(changed);
            s.record(&actor.event("user.update", username, now).detail(d))?;
        }
        if let Some(disabled) = update.disabled {
            let action = if disabled {
                "user.disable"
            } else {
                "user.enable"
            };
            s.record(&actor.event(action, username, now).detail(detail))?;
        }
        Ok(user)
    })
}

/// Replaces a user's password, and ends the user's access: whoever knew the old one
/// keeps nothing it gave them.
pub fn set_password(
    store: &mut dyn Store,
    actor: &Actor,
    username: &str,
    password_hash: String,
    now: i64,
) -> Result<User, AppError> {
    let changes = UserChanges {
        password_hash: Some(password_hash),
        ..Default::default()
    };
    atomically(store, |s| {
        let user = change(s, username, &changes, now)?;
        end_access(s, &user.id, now)?;
        s.record(
            &actor
                .event("user.password", username, now)
                .detail(json!({ "user_id": user.id })),
        )?;
        Ok(user)
    })
}

/// Deletes a user and everything issued to them.
pub fn delete_user(
    store: &mut dyn Store,
    actor: &Actor,
    username: &str,
    now: i64,
) -> Result<(), AppError> {
    let user = store
        .find_user_by_name(username)?
        .ok_or_else(|| not_found(username))?;
    atomically(store, |s| {
        // Tokens already handed out are revoked by id before their rows go, and the
        // clients of the user's sessions are told.
        s.revoke_user_families(&user.id, now)?;
        backchannel::queue(s, Ended::User(&user.id), now)?;
        if !s.delete_user(username)? {
            return Err(not_found(username));
        }
        s.record(
            &actor
                .event("user.delete", username, now)
                .detail(json!({ "user_id": user.id })),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::grants::testing::{Fixture, VERIFIER};
    use crate::oauth::store::{
        new_session, Amr, RefreshFamilyStore, RevocationList, SessionStore, UserDirectory,
    };

    /// A fixture whose user has a refresh-token family and a browser session.
    fn signed_in() -> (Fixture, String, String) {
        let mut f = Fixture::new();
        let code = f.code("openid offline_access", &[Amr::Pwd]);
        let r = f.exchange(&code, VERIFIER).result.unwrap();
        let (_, session) = new_session(&f.user_id, &[Amr::Pwd], f.now, 3600);
        f.store.insert_session(&session).unwrap();
        let jti = f.access_claims(&r.access_token).jti;
        (f, r.refresh_token.unwrap(), jti)
    }

    fn assert_access_ended(f: &mut Fixture, refresh: &str, jti: &str) {
        let hash = crate::crypto::secret_hash(refresh);
        let revoked = f
            .store
            .find_refresh(&hash)
            .unwrap()
            .is_none_or(|r| r.revoked);
        assert!(revoked, "the refresh token is dead");
        assert!(f.store.is_jti_revoked(jti).unwrap(), "the access token too");
        assert!(!f.store.has_sessions(&f.user_id), "and the session");
    }

    #[test]
    fn disabling_ends_access_and_enabling_does_not_bring_it_back() {
        let (mut f, refresh, jti) = signed_in();
        let actor = Actor::cli();
        let off = UserUpdate {
            disabled: Some(true),
            ..Default::default()
        };
        let u = update_user(&mut f.store, &actor, &f.username.clone(), &off, f.now).unwrap();
        assert!(u.disabled);
        let on = UserUpdate {
            disabled: Some(false),
            ..Default::default()
        };
        update_user(&mut f.store, &actor, &f.username.clone(), &on, f.now).unwrap();
        assert_access_ended(&mut f, &refresh, &jti);
        assert!(f.refresh(&refresh, None).result.is_err());
        let actions: Vec<_> = f
            .store
            .audit_events()
            .iter()
            .map(|e| e.action.clone())
            .collect();
        assert_eq!(actions, ["user.disable", "user.enable"]);
    }

    #[test]
    fn a_new_password_ends_access() {
        let (mut f, refresh, jti) = signed_in();
        let name = f.username.clone();
        set_password(
            &mut f.store,
            &Actor::cli(),
            &name,
            "$argon2id$new".into(),
            f.now,
        )
        .unwrap();
        assert_access_ended(&mut f, &refresh, &jti);
        let u = f.store.find_user_by_name(&name).unwrap().unwrap();
        assert_eq!(u.password_hash, "$argon2id$new");
        assert_eq!(f.store.audit_events()[0].action, "user.password");
    }

    #[test]
    fn deleting_revokes_live_access_tokens() {
        let (mut f, refresh, jti) = signed_in();
        let name = f.username.clone();
        delete_user(&mut f.store, &Actor::cli(), &name, f.now).unwrap();
        assert_access_ended(&mut f, &refresh, &jti);
        assert!(f.store.find_user_by_name(&name).unwrap().is_none());
    }

    #[test]
    fn a_refused_change_writes_nothing() {
        let mut f = Fixture::new();
        let off = UserUpdate {
            disabled: Some(true),
            ..Default::default()
        };
        let e = update_user(&mut f.store, &Actor::cli(), "nobody", &off, f.now).unwrap_err();
        assert!(matches!(e, AppError::NotFound(_)));
        let bad = UserUpdate {
            email: Some(Some("nope".into())),
            ..Default::default()
        };
        let name = f.username.clone();
        let e = update_user(&mut f.store, &Actor::cli(), &name, &bad, f.now).unwrap_err();
        assert!(e.to_string().starts_with("email:"), "{e}");
        assert!(f.store.audit_events().is_empty());
        assert!(update_user(
            &mut f.store,
            &Actor::cli(),
            &name,
            &UserUpdate::default(),
            f.now
        )
        .is_err());
    }

    #[test]
    fn new_users_are_validated_and_audited_together() {
        let mut f = Fixture::new();
        assert!(parse_new_user("a b", "long enough".into(), None, None, false).is_err());
        assert!(parse_new_user("bob", "short".into(), None, None, false).is_err());
        let u =
            parse_new_user("bob", "long enough".into(), Some(""), Some("  Bob "), true).unwrap();
        assert_eq!((u.email.as_deref(), u.name.as_deref()), (None, Some("Bob")));
        let actor = Actor::new("user:root", Some("192.0.2.1".into()));
        create_user(&mut f.store, &actor, &u, "$argon2id$x".into(), f.now).unwrap();
        let e = create_user(&mut f.store, &actor, &u, "$argon2id$x".into(), f.now).unwrap_err();
        assert!(matches!(e, AppError::Conflict(_)), "{e:?}");
        let events = f.store.audit_events();
        assert_eq!(events.len(), 1, "the refused insert recorded nothing");
        assert_eq!(events[0].ip.as_deref(), Some("192.0.2.1"));
    }
}

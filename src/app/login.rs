//! A login attempt, in the steps a front door runs: [`admit`] counts the attempt against
//! the account and the address before anything is checked (so concurrent guesses cannot
//! all pass a check made before any of them is counted), [`check_password`] runs argon2
//! where blocking is allowed, and [`fail`] or [`succeed`] record the result.

use serde_json::json;

use super::AppError;
use crate::crypto::secret_hash;
use crate::domain::throttle::{audited, ip_key, user_key};
use crate::domain::user::{dummy_hash, verify_password, User};
use crate::oauth::store::{
    atomically, new_session, Amr, AuditEvent, SessionCookie, SessionInfo, Store, StoreError,
};

/// Who tries to sign in, from where, and for which client (if any).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub username: String,
    pub ip: Option<String>,
    pub client_id: Option<String>,
}

impl Attempt {
    /// The throttle counters this attempt counts against.
    fn keys(&self) -> Vec<String> {
        std::iter::once(user_key(&self.username))
            .chain(self.ip.as_deref().map(ip_key))
            .collect()
    }
}

/// Whether an attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// It may; it is the account's `n`th attempt in a row.
    Open(i32),
    /// Too many recent failures: try again in this many seconds.
    Wait(i64),
}

/// Counts the attempt on every counter, atomically per counter, before the password is
/// looked at. An attempt over any limit is refused and not checked.
pub fn admit(store: &mut dyn Store, attempt: &Attempt, now: i64) -> Result<Gate, AppError> {
    let mut wait = 0;
    let mut account = 0;
    for (i, key) in attempt.keys().into_iter().enumerate() {
        let (w, count) = store.count_login_attempt(&key, now)?;
        wait = wait.max(w);
        if i == 0 {
            account = count;
        }
    }
    Ok(if wait > 0 {
        Gate::Wait(wait)
    } else {
        Gate::Open(account)
    })
}

/// The result of checking a password.
#[derive(Debug, Clone)]
pub enum Checked {
    Ok(Box<User>),
    Unknown,
    WrongPassword,
    Disabled,
    /// The password was right; the code or passkey that followed was not.
    WrongSecondFactor,
}

impl Checked {
    pub fn reason(&self) -> &'static str {
        match self {
            Checked::Ok(_) => "ok",
            Checked::Unknown => "unknown_user",
            Checked::WrongPassword => "wrong_password",
            Checked::Disabled => "disabled",
            Checked::WrongSecondFactor => "second_factor",
        }
    }
}

/// Verifies `password` against the user found (argon2 runs for unknown users too, against
/// a dummy hash, so the time taken does not tell which usernames exist). Blocking.
pub fn check_password(user: Option<User>, password: &str) -> Checked {
    let phc = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    let verified = verify_password(password, &phc);
    match user {
        None => Checked::Unknown,
        Some(_) if !verified => Checked::WrongPassword,
        // Said only after the right password, so it reveals nothing to a guesser.
        Some(u) if u.disabled => Checked::Disabled,
        Some(u) => Checked::Ok(Box::new(u)),
    }
}

/// Records a failed attempt, the account's `count`th in a row (it was already counted by
/// [`admit`]). A flood of failures writes only some events, each with its count.
pub fn fail(
    store: &mut dyn Store,
    attempt: &Attempt,
    checked: &Checked,
    count: i32,
    now: i64,
) -> Result<(), AppError> {
    if !audited(count) {
        return Ok(());
    }
    let event = AuditEvent::new("anonymous", "login.failure", now)
        .target(attempt.username.chars().take(64).collect::<String>())
        .ip_opt(attempt.ip.as_deref())
        .detail(json!({
            "reason": checked.reason(),
            "client_id": attempt.client_id,
            "failures": count,
        }));
    store.record(&event)?;
    Ok(())
}

/// A new session for a successful login (never the old cookie's: no session fixation;
/// the old one, if any, is deleted). The account's failures are forgotten, and the
/// address's count gives back this attempt.
pub fn succeed(
    store: &mut dyn Store,
    attempt: &Attempt,
    user: &User,
    amr: &[Amr],
    old_session: Option<&str>,
    lifetime: i64,
    now: i64,
) -> Result<(SessionCookie, SessionInfo), AppError> {
    let (cookie, record) = new_session(&user.id, amr, now, lifetime);
    let old = old_session.map(secret_hash);
    let info = atomically(store, |s| {
        s.clear_login_failures(&user_key(&attempt.username))?;
        if let Some(ip) = &attempt.ip {
            s.forgive_login_attempt(&ip_key(ip))?;
        }
        if let Some(old) = &old {
            s.delete_session(old)?;
        }
        s.insert_session(&record)?;
        s.find_session(&record.id_hash, now)?
            .ok_or_else(|| StoreError::Corrupt("a new session vanished".into()))
    })?;
    Ok((cookie, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::throttle::FREE_FAILURES;
    use crate::domain::user::{NewUser, Password, Username};
    use crate::oauth::store::memory::MemoryStore;
    use crate::oauth::store::UserDirectory;

    fn attempt(name: &str) -> Attempt {
        Attempt {
            username: name.into(),
            ip: Some("192.0.2.7".into()),
            client_id: None,
        }
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked() {
        let mut store = MemoryStore::new();
        let a = attempt("kim");
        for _ in 0..FREE_FAILURES {
            assert!(matches!(admit(&mut store, &a, 100).unwrap(), Gate::Open(_)));
        }
        // Not one more is checked in the same second, whatever the earlier ones found.
        assert!(matches!(admit(&mut store, &a, 100).unwrap(), Gate::Wait(_)));
        assert!(matches!(admit(&mut store, &a, 101).unwrap(), Gate::Wait(_)));
        assert_eq!(admit(&mut store, &a, 102).unwrap(), Gate::Open(6));
    }

    #[test]
    fn success_clears_the_account_and_forgives_the_address() {
        let mut store = MemoryStore::new();
        let hash = Password::new("correct horse".into()).hash();
        let user = NewUser {
            username: Username::parse("kim").unwrap(),
            password: Password::new("x".into()),
            email: None,
            name: None,
            phone_number: None,
            address: None,
            is_admin: false,
        }
        .to_user(hash, 1);
        store.insert_user(&user).unwrap();
        let a = attempt("kim");
        for _ in 0..FREE_FAILURES - 1 {
            admit(&mut store, &a, 100).unwrap();
        }
        let Checked::Ok(u) = check_password(Some(user.clone()), "correct horse") else {
            panic!("the right password");
        };
        let (cookie, info) = succeed(&mut store, &a, &u, &[Amr::Pwd], None, 60, 100).unwrap();
        assert_eq!(info.amr, [Amr::Pwd]);
        assert_ne!(secret_hash(cookie.secret()), cookie.secret());
        for _ in 0..FREE_FAILURES {
            assert!(matches!(admit(&mut store, &a, 100).unwrap(), Gate::Open(_)));
        }
        assert!(matches!(
            check_password(Some(user), "wrong horse"),
            Checked::WrongPassword
        ));
        assert!(matches!(check_password(None, "x"), Checked::Unknown));
    }
}

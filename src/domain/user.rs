use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::secret_type;

secret_type!(
    /// A human password, as typed.
    Password
);

/// A validated login name: 1 to 64 printable characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("a username has 1 to 64 characters".into());
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a username has no spaces or control characters".into());
        }
        Ok(Username(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Password {
    /// Accepts passwords of 8 to 1024 characters (NIST SP 800-63B lengths).
    pub fn parse(raw: String) -> Result<Password, String> {
        let n = raw.chars().count();
        if n < 8 {
            return Err("a password needs at least 8 characters".into());
        }
        if n > 1024 {
            return Err("a password has at most 1024 characters".into());
        }
        Ok(Password::new(raw))
    }

    /// An argon2id PHC string with a fresh salt.
    pub fn hash(&self) -> String {
        let salt =
            SaltString::encode_b64(&crate::crypto::random_bytes(16)).expect("16-byte salt encodes");
        Argon2::default()
            .hash_password(self.secret().as_bytes(), &salt)
            .expect("argon2 hashing with default parameters")
            .to_string()
    }
}

/// Verifies `password` against a stored argon2 PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that a login attempt costs
/// the same either way and its timing does not reveal which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| Password::new("not a real password".into()).hash())
}

#[derive(Debug, Clone)]
pub struct User {
    /// The stable, opaque subject identifier (`sub`).
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl NewUser {
    /// The user to store, with a new opaque id and the given argon2 hash.
    pub fn to_user(&self, password_hash: String, now: i64) -> User {
        User {
            id: uuid::Uuid::new_v4().to_string(),
            username: self.username.as_str().to_string(),
            password_hash,
            email: self.email.clone(),
            email_verified: false,
            name: self.name.clone(),
            is_admin: self.is_admin,
            disabled: false,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub password: Password,
    pub email: Option<String>,
    pub name: Option<String>,
    pub is_admin: bool,
}

/// A plausible e-mail address: something@domain, no spaces.
pub fn parse_email(raw: &str) -> Result<String, String> {
    let e = raw.trim();
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
                && e.len() <= 254 =>
        {
            Ok(e.to_string())
        }
        _ => Err(format!("'{raw}' is not an e-mail address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let p = Password::parse("correct horse".into()).unwrap();
        let h = p.hash();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse!", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn validation() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("").is_err());
        assert!(Password::parse("short".into()).is_err());
        assert!(parse_email("a@example.com").is_ok());
        assert!(parse_email("nope").is_err());
    }
}

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
    /// E.164 is recommended (OIDC Core §5.1); kept as entered.
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    pub address: Option<Address>,
    pub is_admin: bool,
    pub disabled: bool,
    /// The user must sign in with a second factor (or a verified passkey).
    pub require_mfa: bool,
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
            phone_number: self.phone_number.clone(),
            phone_number_verified: false,
            address: self.address.clone(),
            is_admin: self.is_admin,
            disabled: false,
            require_mfa: false,
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
    pub phone_number: Option<String>,
    pub address: Option<Address>,
    pub is_admin: bool,
}

/// The OpenID `address` claim (OIDC Core §5.1.1): every member optional, and an address
/// with none is no address.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// Trims every member and drops empty ones; `None` when nothing is left. Members
    /// have at most 200 characters; only `formatted` and `street_address` may span lines.
    pub fn parse(self) -> Result<Option<Address>, String> {
        fn member(
            field: &str,
            v: Option<String>,
            multiline: bool,
        ) -> Result<Option<String>, String> {
            let Some(v) = v.map(|v| v.trim().replace("\r\n", "\n")) else {
                return Ok(None);
            };
            let bad = v
                .chars()
                .any(|c| c.is_control() && !(multiline && c == '\n'));
            if bad || v.chars().count() > 200 {
                return Err(format!(
                    "address.{field}: at most 200 characters, no control characters"
                ));
            }
            Ok((!v.is_empty()).then_some(v))
        }
        let a = Address {
            formatted: member("formatted", self.formatted, true)?,
            street_address: member("street_address", self.street_address, true)?,
            locality: member("locality", self.locality, false)?,
            region: member("region", self.region, false)?,
            postal_code: member("postal_code", self.postal_code, false)?,
            country: member("country", self.country, false)?,
        };
        Ok((a != Address::default()).then_some(a))
    }
}

/// A telephone number: digits with an optional leading `+`, spaces, dashes, dots and
/// parentheses, and an optional `;ext=` extension (RFC 3966), as OIDC Core §5.1 allows.
pub fn parse_phone(raw: &str) -> Result<String, String> {
    let p = raw.trim();
    let (number, ext) = match p.split_once(";ext=") {
        Some((n, e)) => (n, Some(e)),
        None => (p, None),
    };
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let allowed = |c: char| c.is_ascii_digit() || " -.()".contains(c);
    let ok = (3..=20).contains(&digits)
        && number
            .strip_prefix('+')
            .unwrap_or(number)
            .chars()
            .all(allowed)
        && ext.is_none_or(|e| {
            !e.is_empty() && e.len() <= 10 && e.chars().all(|c| c.is_ascii_digit())
        });
    match ok {
        true => Ok(p.to_string()),
        false => Err(format!("'{raw}' is not a telephone number")),
    }
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
        assert!(parse_phone("+1 (425) 555-1212").is_ok());
        assert!(parse_phone("+49 30 1234567;ext=12").is_ok());
        assert!(parse_phone("call me").is_err());
        assert!(parse_phone("12").is_err());
        assert!(parse_phone("+1 555;ext=").is_err());
    }

    #[test]
    fn addresses_drop_empty_members() {
        let a = Address {
            locality: Some(" Berlin ".into()),
            region: Some("".into()),
            ..Address::default()
        };
        let parsed = a.parse().unwrap().unwrap();
        assert_eq!(parsed.locality.as_deref(), Some("Berlin"));
        assert_eq!(parsed.region, None);
        assert_eq!(Address::default().parse().unwrap(), None);
        let lines = Address {
            street_address: Some("Main St 1\nBack house".into()),
            locality: Some("a\nb".into()),
            ..Address::default()
        };
        assert!(lines.parse().is_err(), "a locality is one line");
    }
}

//! What the stores keep, typed: scopes are [`Scopes`], authentication methods [`Amr`],
//! challenges [`CodeChallenge`]. Only hashes of secrets are ever stored.

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, secret_hash};
use crate::domain::client::NewClient;
use crate::domain::Scopes;
use crate::oauth::pkce::CodeChallenge;
use crate::secret_type;

/// An authentication method reference (RFC 8176) of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password (TOTP or a recovery code).
    Otp,
    /// A hardware-bound key (a security key).
    Hwk,
    /// A software-bound key (a synced passkey).
    Swk,
    /// More than one factor.
    Mfa,
    /// User presence or verification by the authenticator.
    User,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Hwk => "hwk",
            Amr::Swk => "swk",
            Amr::Mfa => "mfa",
            Amr::User => "user",
        }
    }

    /// The stored form: a JSON array of method names.
    pub fn encode_list(list: &[Amr]) -> String {
        serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
    }

    /// Parses the stored form; `None` for anything but a non-empty array of known names.
    pub fn decode_list(raw: &str) -> Option<Vec<Amr>> {
        serde_json::from_str::<Vec<Amr>>(raw)
            .ok()
            .filter(|l| !l.is_empty())
    }
}

/// An authorization code, bound to the request and the login it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` (RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    /// The resources (RFC 8707) the request named.
    pub resources: Vec<String>,
    pub scopes: Scopes,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub sid: String,
    pub auth_time: i64,
    pub amr: Vec<Amr>,
    pub family_id: String,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The DPoP key the authorization request bound the code to (`dpop_jkt`).
    pub dpop_jkt: Option<String>,
    /// The `claims` and `acr_values` the request asked for.
    pub claims: Option<crate::oauth::claims::ClaimsRequest>,
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

/// One refresh token of a family; the family keeps the facts of the login it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: Scopes,
    /// The resources (RFC 8707) the family was granted.
    pub resources: Vec<String>,
    pub amr: Vec<Amr>,
    pub sid: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub idle_expires_at: i64,
    pub used_at: Option<i64>,
    pub replaced_by: Option<String>,
    /// The response of the rotation that used this token, sealed, for one retry within
    /// the grace window.
    pub grace_response: Option<Vec<u8>>,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
    pub revoked: bool,
    /// The DPoP key (RFC 7638 thumbprint) the family is bound to: a public client's
    /// refresh token is used only with a proof of that key.
    pub dpop_jkt: Option<String>,
    /// The `claims` and `acr_values` of the request the family came from.
    pub claims: Option<crate::oauth::claims::ClaimsRequest>,
}

impl std::fmt::Debug for RefreshRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRecord")
            .field("family_id", &self.family_id)
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .field("scopes", &self.scopes)
            .field("used_at", &self.used_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// New metadata for a stored client; its secret hash changes only when `secret_hash` is
/// `Some`.
pub struct Replacement<'a> {
    pub new: &'a NewClient,
    pub secret_hash: Option<Option<String>>,
    pub now: i64,
}

/// A refresh token replaced by its successor, with the response kept for a retry.
pub struct Rotation<'a> {
    pub old_hash: &'a str,
    pub new: &'a RefreshRecord,
    pub grace_response: Option<Vec<u8>>,
    pub now: i64,
}

/// Scopes a user allowed a client, at a time.
pub struct Consent<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a Scopes,
    pub at: i64,
}

secret_type!(
    /// The value of the session cookie.
    SessionCookie
);

/// A browser session as stored: the hash of its cookie, never the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<Amr>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session of an enabled user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The hash of the session's cookie (forms are bound to it).
    pub id_hash: String,
    /// The `sid` claim: identifies the session without being the cookie.
    pub sid: String,
    pub user_id: String,
    pub username: String,
    pub auth_time: i64,
    pub amr: Vec<Amr>,
    pub expires_at: i64,
}

/// A new session after a login with `amr` methods: the cookie value and the record.
pub fn new_session(
    user_id: &str,
    amr: &[Amr],
    now: i64,
    lifetime: i64,
) -> (SessionCookie, SessionRecord) {
    let cookie = SessionCookie::new(random_token(32));
    let record = SessionRecord {
        id_hash: secret_hash(cookie.secret()),
        sid: random_token(16),
        user_id: user_id.to_string(),
        auth_time: now,
        amr: amr.to_vec(),
        created_at: now,
        expires_at: now + lifetime,
    };
    (cookie, record)
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct UserChanges {
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub phone_number: Option<Option<String>>,
    pub phone_number_verified: Option<bool>,
    pub address: Option<Option<crate::domain::user::Address>>,
    pub is_admin: Option<bool>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    pub require_mfa: Option<bool>,
}

impl UserChanges {
    /// Applies the changes to a user held in memory.
    pub fn apply(&self, u: &mut crate::domain::User) {
        fn set<T: Clone>(field: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                *field = v.clone();
            }
        }
        set(&mut u.email, &self.email);
        set(&mut u.name, &self.name);
        set(&mut u.email_verified, &self.email_verified);
        set(&mut u.phone_number, &self.phone_number);
        set(&mut u.phone_number_verified, &self.phone_number_verified);
        set(&mut u.address, &self.address);
        set(&mut u.is_admin, &self.is_admin);
        set(&mut u.disabled, &self.disabled);
        set(&mut u.password_hash, &self.password_hash);
        set(&mut u.require_mfa, &self.require_mfa);
    }
}

impl std::fmt::Debug for UserChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChanges")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .field("phone_number", &self.phone_number)
            .field("phone_number_verified", &self.phone_number_verified)
            .field("address", &self.address)
            .field("is_admin", &self.is_admin)
            .field("disabled", &self.disabled)
            .field("require_mfa", &self.require_mfa)
            .field(
                "password",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// One audit record. `actor` is `cli`, `user:<username>`, `client:<client_id>` or
/// `anonymous`; `action` a dotted name such as `client.create` or `login.failure`.
/// Events never hold secrets or password hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// A UUID v7, so ids sort by creation time.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    /// Structured context; an empty object when there is none.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: impl Into<String>, now: i64) -> Self {
        AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: now,
            actor: actor.into(),
            action: action.into(),
            target: None,
            ip: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// Sets the address when there is one.
    pub fn ip_opt(self, ip: Option<&str>) -> Self {
        match ip {
            Some(ip) => self.ip(ip),
            None => self,
        }
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A key as listed for operators (no private material). A key is `next` from its
/// creation until `activates_at` (published, not signing), then `active` (signing),
/// then `retired` from `retired_at` (published while tokens it signed may be checked).
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    /// When the key starts signing.
    pub activates_at: i64,
    pub retired_at: Option<i64>,
    /// `next`, `active` or `retired`, at the time of listing.
    pub state: &'static str,
    /// Whether the public key is still in the JWKS.
    pub published: bool,
}

impl KeyInfo {
    /// Whether the key may sign at `now`.
    pub fn signs_at(activates_at: i64, retired_at: Option<i64>, now: i64) -> bool {
        activates_at <= now && retired_at.is_none_or(|r| r > now)
    }

    /// Whether the key is in the JWKS at `now`: until `keep` seconds after it retired.
    pub fn published_at(retired_at: Option<i64>, now: i64, keep: i64) -> bool {
        retired_at.is_none_or(|r| r > now - keep)
    }

    pub fn state_at(activates_at: i64, retired_at: Option<i64>, now: i64) -> &'static str {
        match (activates_at > now, retired_at.is_some_and(|r| r <= now)) {
            (_, true) => "retired",
            (true, false) => "next",
            (false, false) => "active",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_lists_round_trip_and_refuse_garbage() {
        let l = vec![Amr::Pwd, Amr::Otp];
        assert_eq!(Amr::encode_list(&l), r#"["pwd","otp"]"#);
        assert_eq!(Amr::decode_list(r#"["pwd","otp"]"#), Some(l));
        assert_eq!(Amr::decode_list("[]"), None);
        assert_eq!(Amr::decode_list(r#"["telepathy"]"#), None);
        assert_eq!(Amr::decode_list("not json"), None);
    }

    #[test]
    fn new_sessions_store_only_the_cookie_hash() {
        let (cookie, rec) = new_session("u1", &[Amr::Pwd], 100, 3600);
        assert_eq!(
            crate::crypto::b64url_decode(cookie.secret()).unwrap().len(),
            32
        );
        assert_eq!(rec.id_hash, secret_hash(cookie.secret()));
        assert_ne!(rec.id_hash, cookie.secret());
        assert_eq!(rec.amr, [Amr::Pwd]);
        assert_eq!((rec.auth_time, rec.expires_at), (100, 3700));
        let (_, other) = new_session("u1", &[Amr::Pwd], 100, 3600);
        assert_ne!(rec.sid, other.sid);
    }
}

//! A user's second factors and passkeys, one record each: a TOTP authenticator, a
//! passkey, or one recovery code.

use super::StoreResult;

/// What a factor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorKind {
    /// An authenticator app (RFC 6238): `secret` is the sealed shared secret, `counter`
    /// the last time step accepted.
    Totp,
    /// A WebAuthn credential: `lookup` is its credential id (base64url), `secret` its COSE
    /// public key, `counter` its signature counter, `detail` its flags as JSON.
    Passkey,
    /// One single-use recovery code: `lookup` is its hash; the record goes when used.
    Recovery,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::Passkey => "passkey",
            FactorKind::Recovery => "recovery",
        }
    }

    pub fn parse(s: &str) -> Option<FactorKind> {
        Some(match s {
            "totp" => FactorKind::Totp,
            "passkey" => FactorKind::Passkey,
            "recovery" => FactorKind::Recovery,
            _ => return None,
        })
    }
}

/// One stored factor.
#[derive(Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub kind: FactorKind,
    /// What the user called it ("Phone", "YubiKey"); empty for recovery codes.
    pub name: String,
    pub lookup: Option<String>,
    pub secret: Vec<u8>,
    pub counter: i64,
    pub detail: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("secret", &"[redacted]")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// Where factors are kept.
pub trait FactorStore {
    /// Stores a new factor; `Conflict` if its lookup is taken (a passkey registered
    /// twice).
    fn insert_factor(&mut self, factor: &Factor) -> StoreResult<()>;
    /// The user's factors, oldest first.
    fn list_factors(&mut self, user_id: &str) -> StoreResult<Vec<Factor>>;
    /// The factor of this kind with this lookup (a passkey by its credential id).
    fn find_factor(&mut self, kind: FactorKind, lookup: &str) -> StoreResult<Option<Factor>>;
    /// Records a use: the counter becomes `counter` and the use time `now`. With
    /// `increasing`, only when the stored counter is below `counter`, so of concurrent
    /// uses of one TOTP step exactly one succeeds and a replayed step fails.
    fn use_factor(
        &mut self,
        id: &str,
        counter: i64,
        increasing: bool,
        now: i64,
    ) -> StoreResult<bool>;
    /// Deletes the recovery code with this hash of this user: true for exactly one of
    /// concurrent callers.
    fn take_recovery_code(&mut self, user_id: &str, hash: &str) -> StoreResult<bool>;
    /// Deletes one factor of the user; false if there is none with this id.
    fn delete_factor(&mut self, user_id: &str, id: &str) -> StoreResult<bool>;
    /// Deletes the user's factors of one kind, or all of them.
    fn delete_factors(&mut self, user_id: &str, kind: Option<FactorKind>) -> StoreResult<usize>;
}

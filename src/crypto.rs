//! Small cryptographic building blocks: random tokens, SHA-256 digests of secrets,
//! constant-time comparison, and AES-256-GCM sealing of private keys at rest.

use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, AES_256_GCM_SIV, NONCE_LEN,
};
use aws_lc_rs::{digest, hkdf, hmac, rand as lc_rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Declares a newtype around a `String` secret whose `Debug` output is redacted,
/// so secrets cannot leak into logs through `{:?}`.
#[macro_export]
macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                Self(value)
            }
            /// The secret itself; call sites that use it are easy to find.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// The operator's key-encryption secret.
    KeySecret
);

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    lc_rand::fill(&mut buf).expect("the system random number generator failed");
    buf
}

/// A URL-safe random token carrying `bytes * 8` bits of entropy.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).ok()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The stored form of a high-entropy secret (client secret, code, refresh token):
/// its SHA-256 digest, base64url. A slow hash adds nothing for 256-bit random values.
pub fn secret_hash(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a presented secret against a stored [`secret_hash`] in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    ct_eq(secret_hash(presented).as_bytes(), stored_hash.as_bytes())
}

/// What a sealed value is for. Each purpose has its own key (derived with its own HKDF
/// `info`), so a value sealed for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Private signing keys in the database.
    SigningKey,
    /// A refresh response kept for one retry within the grace window.
    GraceResponse,
    /// Proof that a login was made for a pending authorization request.
    LoginProof,
    /// TOTP secrets, at rest and in the enrolment form.
    FactorSecret,
    /// A sign-in half done: the password is right, the second factor is still asked.
    PendingLogin,
    /// A WebAuthn challenge handed to the browser with the page that uses it.
    PasskeyChallenge,
}

impl Purpose {
    const ALL: [Purpose; 6] = [
        Purpose::SigningKey,
        Purpose::GraceResponse,
        Purpose::LoginProof,
        Purpose::FactorSecret,
        Purpose::PendingLogin,
        Purpose::PasskeyChallenge,
    ];

    fn info(self) -> &'static [u8] {
        match self {
            // The first purpose there was; its name stays, so stored keys still open.
            Purpose::SigningKey => b"signing-keys",
            Purpose::GraceResponse => b"refresh-grace-responses",
            Purpose::LoginProof => b"login-proofs",
            Purpose::FactorSecret => b"factor-secrets",
            Purpose::PendingLogin => b"pending-logins",
            Purpose::PasskeyChallenge => b"passkey-challenges",
        }
    }
}

/// Encrypts and decrypts data at rest, and authenticates values the server hands out,
/// with keys derived from the operator's secret: one AES-256-GCM key per [`Purpose`]
/// and one HMAC-SHA256 key.
pub struct Sealer {
    keys: Vec<LessSafeKey>,
    mac: hmac::Key,
    /// AES-256-GCM-SIV for pairwise subject identifiers: deterministic, so one user has
    /// one `sub` per sector, and reversible by this server alone.
    pairwise: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

struct KeyLen;
impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

fn derive(prk: &hkdf::Prk, info: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    prk.expand(&[info], KeyLen)
        .and_then(|okm| okm.fill(&mut key))
        .expect("HKDF output length is valid");
    key
}

impl Sealer {
    /// Derives the keys from the configured secret with HKDF-SHA256.
    pub fn from_secret(secret: &str) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse key-encryption v1");
        let prk = salt.extract(secret.as_bytes());
        let keys = Purpose::ALL
            .iter()
            .map(|p| {
                let key = derive(&prk, p.info());
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("AES key length"))
            })
            .collect();
        let mac = hmac::Key::new(hmac::HMAC_SHA256, &derive(&prk, b"form-tokens"));
        let pairwise = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM_SIV, &derive(&prk, b"pairwise-subjects"))
                .expect("AES key length"),
        );
        Self {
            keys,
            mac,
            pairwise,
        }
    }

    fn key(&self, purpose: Purpose) -> &LessSafeKey {
        let i = Purpose::ALL.iter().position(|p| *p == purpose).unwrap_or(0);
        &self.keys[i]
    }

    /// Returns `nonce || ciphertext || tag`; `context` is bound as associated data.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).expect("nonce length");
        let mut buf = plaintext.to_vec();
        self.key(purpose)
            .seal_in_place_append_tag(nonce, Aad::from(context), &mut buf)
            .expect("AES-GCM seal");
        let mut out = nonce_bytes;
        out.extend_from_slice(&buf);
        out
    }

    /// Opens what [`Sealer::seal`] produced; `None` when the key, purpose or context is
    /// wrong.
    pub fn open(&self, purpose: Purpose, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .key(purpose)
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The nonce of a sector's pairwise identifiers: fixed per sector, which GCM-SIV
    /// allows (equal inputs give equal outputs, and nothing else leaks).
    fn sector_nonce(&self, sector: &str) -> Nonce {
        let tag = self.mac(&[b"pairwise-nonce", sector.as_bytes()]);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&tag[..NONCE_LEN]);
        Nonce::assume_unique_for_key(n)
    }

    /// The pairwise subject identifier of `user_id` in `sector` (OIDC Core §8.1).
    pub fn pairwise_subject(&self, sector: &str, user_id: &str) -> String {
        let mut buf = user_id.as_bytes().to_vec();
        self.pairwise
            .seal_in_place_append_tag(
                self.sector_nonce(sector),
                Aad::from(sector.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM-SIV sealing cannot fail for short inputs");
        b64url(&buf)
    }

    /// The user a pairwise subject identifier of `sector` stands for.
    pub fn pairwise_user(&self, sector: &str, sub: &str) -> Option<String> {
        let mut buf = b64url_decode(sub)?;
        let plain = self
            .pairwise
            .open_in_place(
                self.sector_nonce(sector),
                Aad::from(sector.as_bytes()),
                &mut buf,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// An HMAC-SHA256 tag of `parts` (length-prefixed, so no two lists tag alike).
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    secret_type!(TestSecret);

    #[test]
    fn seal_round_trip_and_context_binding() {
        let s = Sealer::from_secret("0123456789abcdef0123456789abcdef");
        let p = Purpose::SigningKey;
        let sealed = s.seal(p, b"private key", b"kid-1");
        assert_eq!(s.open(p, &sealed, b"kid-1").unwrap(), b"private key");
        assert!(s.open(p, &sealed, b"kid-2").is_none());
        let other = Sealer::from_secret("another secret of at least 32 chars!");
        assert!(other.open(p, &sealed, b"kid-1").is_none());
    }

    #[test]
    fn each_purpose_has_its_own_key() {
        let s = Sealer::from_secret("0123456789abcdef0123456789abcdef");
        let sealed = s.seal(Purpose::LoginProof, b"sid", b"ctx");
        assert!(s.open(Purpose::GraceResponse, &sealed, b"ctx").is_none());
        assert!(s.open(Purpose::SigningKey, &sealed, b"ctx").is_none());
        assert!(s.open(Purpose::LoginProof, &sealed, b"ctx").is_some());
        assert_ne!(s.mac(&[b"ab", b"c"]), s.mac(&[b"a", b"bc"]));
    }

    #[test]
    fn pairwise_subjects_are_stable_per_sector_and_reversible() {
        let s = Sealer::from_secret("0123456789abcdef0123456789abcdef");
        let a = s.pairwise_subject("rp.example", "user-1");
        assert_eq!(a, s.pairwise_subject("rp.example", "user-1"));
        assert_ne!(a, s.pairwise_subject("other.example", "user-1"));
        assert_ne!(a, s.pairwise_subject("rp.example", "user-2"));
        assert_eq!(s.pairwise_user("rp.example", &a).as_deref(), Some("user-1"));
        assert_eq!(s.pairwise_user("other.example", &a), None);
        assert_eq!(s.pairwise_user("rp.example", "user-1"), None);
    }

    #[test]
    fn secret_hash_verifies_only_the_same_secret() {
        let h = secret_hash("abc");
        assert!(verify_secret("abc", &h));
        assert!(!verify_secret("abd", &h));
        assert!(!ct_eq(b"a", b"ab"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = TestSecret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "TestSecret([redacted])");
        assert_eq!(s.secret(), "hunter2");
    }

    #[test]
    fn random_token_has_requested_entropy() {
        let t = random_token(32);
        assert_eq!(b64url_decode(&t).unwrap().len(), 32);
        assert_ne!(t, random_token(32));
    }
}

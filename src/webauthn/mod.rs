//! WebAuthn (passkey) verification: registration (W3C WebAuthn Level 3 §7.1) and
//! authentication assertions (§7.2).
//!
//! Why it is written here rather than taken from a crate: the established Rust
//! implementation needs OpenSSL, and gatehouse builds its cryptography on aws-lc-rs
//! only. The code is deliberately narrow: three signature algorithms (ES256, EdDSA
//! with Ed25519, RS256), no attestation verification, and a strict decoder for the
//! CBOR it has to read. Every input here comes from a browser and is treated as
//! hostile: nothing panics, nothing allocates more than the input it was given.
//!
//! Attestation policy: the server asks for `attestation: "none"`. Whatever `fmt` the
//! authenticator answers with, its `attStmt` is ignored and the credential is treated
//! as unattested (§7.1 step "If the attestation statement ... is not trustworthy"
//! lets a Relying Party accept it as such). The AAGUID is reported but, without a
//! verified attestation, it is only a claim of the authenticator's model.
//!
//! What the caller still owns (these need storage): issuing a fresh random challenge
//! per ceremony and forgetting it after one use, refusing a credential id that is
//! already registered, finding the stored key by credential id, checking that the
//! `userHandle` belongs to the account, and storing the new sign count.

mod auth_data;
pub mod cbor;
mod client_data;
pub mod cose;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use auth_data::AuthenticatorData;
use aws_lc_rs::digest;
use cbor::{Key, Value};
use cose::CoseKey;

/// Who the credentials are for: id = the issuer's host (no port), origin =
/// scheme://host[:port] of the issuer.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
}

/// A verified new credential, ready to be stored with the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes exactly as the authenticator sent them (stored; re-parsed
    /// at assertion).
    pub public_key: Vec<u8>,
    /// COSE alg: -7 ES256, -8 EdDSA (Ed25519), -257 RS256.
    pub alg: i64,
    pub sign_count: u32,
    pub user_verified: bool,
    /// BE flag: a synced (multi-device) passkey.
    pub backup_eligible: bool,
    /// BS flag: the passkey is currently backed up.
    pub backed_up: bool,
    /// The authenticator model's claimed id (all zero for most synced passkeys);
    /// unattested, so informative only.
    pub aaguid: [u8; 16],
}

/// A verified sign-in with a stored credential. The caller stores `sign_count`;
/// backup eligibility should not change over a credential's life (§6.1.3), so a
/// caller may flag a credential whose `backup_eligible` differs from registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub sign_count: u32,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

/// Why a passkey response was refused. The messages are written to be shown to the
/// person signing in; `Malformed` adds a short technical reason for the logs.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WebauthnError {
    #[error("the passkey's answer could not be read ({0})")]
    Malformed(&'static str),
    #[error("the passkey's answer was meant for a different step")]
    WrongType,
    #[error("the passkey answered an old or different request; please try again")]
    ChallengeMismatch,
    #[error("the passkey answered for another site")]
    OriginMismatch,
    #[error("the passkey was used from inside another site's page")]
    CrossOrigin,
    #[error("the passkey belongs to another site")]
    RpIdMismatch,
    #[error("the passkey did not confirm that someone was present")]
    UserNotPresent,
    #[error("the passkey did not verify you (with a PIN, fingerprint or face)")]
    UserNotVerified,
    #[error("the passkey uses a kind of key this server does not accept")]
    UnsupportedAlgorithm,
    #[error("the passkey's public key is damaged or too weak")]
    InvalidKey,
    #[error("the passkey's signature did not verify")]
    BadSignature,
    #[error("the passkey's counter went backwards; it may have been cloned")]
    SignCountWentBackwards,
}

/// Verifies a `navigator.credentials.create()` response (§7.1) and returns the
/// credential to store.
///
/// The new key is parsed and checked with aws-lc-rs now (for ES256 that includes the
/// point being on the curve, for RS256 the modulus size), so a key that could never
/// verify a signature is refused at registration rather than at the first sign-in.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    require_user_verification: bool,
) -> Result<Registration, WebauthnError> {
    client_data::verify(rp, client_data::CREATE, challenge, client_data_json)?;
    let auth_data_bytes = attestation_auth_data(attestation_object)?;
    let auth_data = AuthenticatorData::parse(auth_data_bytes)?;
    auth_data.check(rp, require_user_verification)?;
    let credential = auth_data
        .credential
        .as_ref()
        .ok_or(WebauthnError::Malformed(
            "no credential data in the registration",
        ))?;
    let key = CoseKey::parse(credential.public_key)?;
    key.check()?;
    Ok(Registration {
        credential_id: credential.id.to_vec(),
        public_key: credential.public_key.to_vec(),
        alg: key.alg(),
        sign_count: auth_data.sign_count,
        user_verified: auth_data.user_verified(),
        backup_eligible: auth_data.backup_eligible(),
        backed_up: auth_data.backed_up(),
        aaguid: credential.aaguid,
    })
}

/// Verifies a `navigator.credentials.get()` response (§7.2) against the stored
/// COSE key and sign count.
///
/// The counter is checked last, after the signature, so that only a genuine
/// response from the key can report a possibly cloned authenticator.
#[allow(clippy::too_many_arguments)] // the signature is fixed by the callers' contract
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    public_key: &[u8],
    stored_sign_count: u32,
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
    require_user_verification: bool,
) -> Result<Assertion, WebauthnError> {
    client_data::verify(rp, client_data::GET, challenge, client_data_json)?;
    let auth_data = AuthenticatorData::parse(authenticator_data)?;
    auth_data.check(rp, require_user_verification)?;
    let key = CoseKey::parse(public_key)?;
    let client_data_hash = digest::digest(&digest::SHA256, client_data_json);
    let mut signed = Vec::with_capacity(authenticator_data.len() + 32);
    signed.extend_from_slice(authenticator_data);
    signed.extend_from_slice(client_data_hash.as_ref());
    key.verify(&signed, signature)?;
    check_sign_count(stored_sign_count, auth_data.sign_count)?;
    Ok(Assertion {
        sign_count: auth_data.sign_count,
        user_verified: auth_data.user_verified(),
        backup_eligible: auth_data.backup_eligible(),
        backed_up: auth_data.backed_up(),
    })
}

/// §7.2 step 21: a counter that does not grow signals a possible clone. Many
/// passkeys (synced ones especially) always send zero; zero then zero is accepted.
pub fn check_sign_count(stored: u32, received: u32) -> Result<(), WebauthnError> {
    if (stored != 0 || received != 0) && received <= stored {
        return Err(WebauthnError::SignCountWentBackwards);
    }
    Ok(())
}

/// Reads the attestation object `{"fmt": text, "attStmt": map, "authData": bytes}`
/// and returns the authenticator data. The statement's shape is checked so that
/// garbage is refused, but its content is ignored (see the module documentation).
fn attestation_auth_data(attestation_object: &[u8]) -> Result<&[u8], WebauthnError> {
    let value = cbor::decode_exact(attestation_object)
        .map_err(|_| WebauthnError::Malformed("the attestation object is not valid CBOR"))?;
    let entries = value.as_map().ok_or(WebauthnError::Malformed(
        "the attestation object is not a map",
    ))?;
    match cbor::map_get(entries, &Key::Text("fmt")) {
        Some(Value::Text(_)) => {}
        _ => {
            return Err(WebauthnError::Malformed(
                "the attestation format is missing",
            ))
        }
    }
    match cbor::map_get(entries, &Key::Text("attStmt")) {
        Some(Value::Map(_)) => {}
        _ => {
            return Err(WebauthnError::Malformed(
                "the attestation statement is missing",
            ))
        }
    }
    match cbor::map_get(entries, &Key::Text("authData")) {
        Some(Value::Bytes(bytes)) => Ok(bytes),
        _ => Err(WebauthnError::Malformed(
            "the authenticator data is missing",
        )),
    }
}

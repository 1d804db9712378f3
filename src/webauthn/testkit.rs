//! Test-only software authenticator: real P-256 and Ed25519 keys from aws-lc-rs, a
//! tiny CBOR encoder, and builders for clientDataJSON, authenticator data and
//! attestation objects, so the verifier is tested against responses it did not
//! produce itself.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::auth_data::AT;
use super::RelyingParty;

pub const RP_ID: &str = "login.example.com";
pub const ORIGIN: &str = "https://login.example.com";

pub fn rp() -> RelyingParty {
    RelyingParty {
        id: RP_ID.into(),
        origin: ORIGIN.into(),
    }
}

/// A CBOR item to encode (definite lengths, shortest heads).
#[derive(Debug, Clone)]
pub enum C {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(C, C)>),
    Bool(bool),
}

impl C {
    pub fn map(entries: Vec<(C, C)>) -> C {
        C::Map(entries)
    }

    pub fn text(s: &str) -> C {
        C::Text(s.to_owned())
    }
}

pub fn encode(item: &C) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(item, &mut out);
    out
}

fn encode_into(item: &C, out: &mut Vec<u8>) {
    match item {
        C::Int(i) if *i >= 0 => head(out, 0, i.unsigned_abs()),
        C::Int(i) => head(out, 1, (-1 - *i).unsigned_abs()),
        C::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        C::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        C::Map(entries) => {
            head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                encode_into(k, out);
                encode_into(v, out);
            }
        }
        C::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
    }
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// An RSA COSE key from raw components (we never need to sign with RSA).
pub fn cose_rsa(n: &[u8], e: &[u8]) -> Vec<u8> {
    encode(&C::map(vec![
        (C::Int(1), C::Int(3)),
        (C::Int(3), C::Int(-257)),
        (C::Int(-1), C::Bytes(n.to_vec())),
        (C::Int(-2), C::Bytes(e.to_vec())),
    ]))
}

enum Signer {
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One passkey: a key pair, a random credential id and an AAGUID.
pub struct SoftAuthenticator {
    signer: Signer,
    pub credential_id: Vec<u8>,
    pub aaguid: [u8; 16],
}

impl SoftAuthenticator {
    pub fn p256() -> Self {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_ASN1_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
        Self::with(Signer::P256(pair))
    }

    pub fn ed25519() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self::with(Signer::Ed25519(pair))
    }

    fn with(signer: Signer) -> Self {
        let mut credential_id = vec![0u8; 16];
        SystemRandom::new().fill(&mut credential_id).unwrap();
        Self {
            signer,
            credential_id,
            aaguid: [0x5a; 16],
        }
    }

    /// The public key as a COSE_Key, as an authenticator would encode it.
    pub fn cose_key(&self) -> Vec<u8> {
        match &self.signer {
            Signer::P256(pair) => {
                let point = pair.public_key().as_ref();
                encode(&C::map(vec![
                    (C::Int(1), C::Int(2)),
                    (C::Int(3), C::Int(-7)),
                    (C::Int(-1), C::Int(1)),
                    (C::Int(-2), C::Bytes(point[1..33].to_vec())),
                    (C::Int(-3), C::Bytes(point[33..65].to_vec())),
                ]))
            }
            Signer::Ed25519(pair) => encode(&C::map(vec![
                (C::Int(1), C::Int(1)),
                (C::Int(3), C::Int(-8)),
                (C::Int(-1), C::Int(6)),
                (C::Int(-2), C::Bytes(pair.public_key().as_ref().to_vec())),
            ])),
        }
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.signer {
            Signer::P256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    /// Authenticator data; with AT in `flags`, this credential's data is included.
    pub fn auth_data(&self, rp_id: &str, flags: u8, count: u32) -> Vec<u8> {
        let mut out = header(rp_id, flags, count);
        if flags & AT != 0 {
            out.extend_from_slice(&self.aaguid);
            out.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.credential_id);
            out.extend_from_slice(&self.cose_key());
        }
        out
    }

    /// Signs authenticatorData || SHA-256(clientDataJSON), as §6.3.3 describes.
    pub fn sign_assertion(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
        let hash = digest::digest(&digest::SHA256, client_data);
        self.sign(&[auth_data, hash.as_ref()].concat())
    }
}

/// rpIdHash | flags | signCount.
pub fn header(rp_id: &str, flags: u8, count: u32) -> Vec<u8> {
    let mut out = digest::digest(&digest::SHA256, rp_id.as_bytes())
        .as_ref()
        .to_vec();
    out.push(flags);
    out.extend_from_slice(&count.to_be_bytes());
    out
}

/// clientDataJSON as a browser writes it; `extra` is appended inside the object.
pub fn client_data(kind: &str, challenge: &[u8], origin: &str, extra: &str) -> Vec<u8> {
    let challenge = URL_SAFE_NO_PAD.encode(challenge);
    format!(r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{origin}"{extra}}}"#)
        .into_bytes()
}

/// An attestation object with fmt "none" and an empty statement.
pub fn attestation_object(auth_data: &[u8]) -> Vec<u8> {
    encode(&C::map(vec![
        (C::text("fmt"), C::text("none")),
        (C::text("attStmt"), C::map(vec![])),
        (C::text("authData"), C::Bytes(auth_data.to_vec())),
    ]))
}

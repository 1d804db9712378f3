//! Signing keys: generation, parsing once, JWS signing with the parsed key, and the
//! public JWK set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde::Serialize;
use serde_json::{json, Value};

use crate::crypto::{b64url, sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::RS256),
            "ES256" => Some(Alg::ES256),
            "EdDSA" => Some(Alg::EdDSA),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// The algorithms gatehouse accepts on JWTs that clients sign (DPoP proofs, request
/// objects): the ones it signs with, and PS256.
pub fn client_algorithm(alg: &str) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::Algorithm::*;
    Some(match alg {
        "ES256" => ES256,
        "EdDSA" => EdDSA,
        "RS256" => RS256,
        "PS256" => PS256,
        _ => return None,
    })
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private signing key. Parsing happens once; signing reuses it.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    material: Material,
    rng: SystemRandom,
    /// The encoded JWS headers of the two token types gatehouse signs, made once: the
    /// header never changes for a key, and tokens are signed on the hot path.
    header_at_jwt: String,
    header_jwt: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("key error: {0}")]
pub struct KeyError(pub String);

impl SigningKey {
    /// Generates a key and returns it with its PKCS#8 DER encoding (for storage).
    pub fn generate(alg: Alg) -> Result<(SigningKey, Vec<u8>), KeyError> {
        let err = |e: aws_lc_rs::error::Unspecified| KeyError(format!("generating {alg}: {e}"));
        let der = match alg {
            Alg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(err)?
                .as_der()
                .map_err(err)?
                .as_ref()
                .to_vec(),
            Alg::ES256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(err)?
                .to_pkcs8v1()
                .map_err(err)?
                .as_ref()
                .to_vec(),
            Alg::EdDSA => Ed25519KeyPair::generate()
                .map_err(err)?
                .to_pkcs8()
                .map_err(err)?
                .as_ref()
                .to_vec(),
        };
        let key = SigningKey::from_pkcs8(None, alg, &der)?;
        Ok((key, der))
    }

    /// Parses a PKCS#8 key; without a `kid`, the RFC 7638 thumbprint is used.
    pub fn from_pkcs8(kid: Option<String>, alg: Alg, der: &[u8]) -> Result<SigningKey, KeyError> {
        let err = |e: aws_lc_rs::error::KeyRejected| KeyError(format!("parsing {alg} key: {e}"));
        let material = match alg {
            Alg::RS256 => Material::Rsa(RsaKeyPair::from_pkcs8(der).map_err(err)?),
            Alg::ES256 => Material::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(err)?,
            ),
            Alg::EdDSA => Material::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(err)?),
        };
        let mut key = SigningKey {
            kid: String::new(),
            alg,
            material,
            rng: SystemRandom::new(),
            header_at_jwt: String::new(),
            header_jwt: String::new(),
        };
        key.kid = kid.unwrap_or_else(|| key.thumbprint());
        key.header_at_jwt = key.encoded_header("at+jwt");
        key.header_jwt = key.encoded_header("JWT");
        Ok(key)
    }

    /// The key's required public JWK members, in the lexicographic order RFC 7638 needs.
    fn required_members(&self) -> Vec<(&'static str, String)> {
        match &self.material {
            Material::Rsa(k) => {
                let p = k.public_key();
                vec![
                    ("e", b64url(p.exponent().big_endian_without_leading_zero())),
                    ("kty", "RSA".into()),
                    ("n", b64url(p.modulus().big_endian_without_leading_zero())),
                ]
            }
            Material::Ec(k) => {
                // Uncompressed point: 0x04 || x || y.
                let point = k.public_key().as_ref();
                vec![
                    ("crv", "P-256".into()),
                    ("kty", "EC".into()),
                    ("x", b64url(&point[1..33])),
                    ("y", b64url(&point[33..65])),
                ]
            }
            Material::Ed(k) => vec![
                ("crv", "Ed25519".into()),
                ("kty", "OKP".into()),
                ("x", b64url(k.public_key().as_ref())),
            ],
        }
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        let body: Vec<String> = self
            .required_members()
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect();
        b64url(&sha256(format!("{{{}}}", body.join(",")).as_bytes()))
    }

    /// The public JWK with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (k, v) in self.required_members() {
            map.insert(k.into(), Value::String(v));
        }
        map.insert("kid".into(), json!(self.kid));
        map.insert("use".into(), json!("sig"));
        map.insert("alg".into(), json!(self.alg.as_str()));
        Value::Object(map)
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.material {
            Material::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .expect("RSA signing with a valid key");
                sig
            }
            Material::Ec(k) => k
                .sign(&self.rng, message)
                .expect("ECDSA signing with a valid key")
                .as_ref()
                .to_vec(),
            Material::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }

    fn encoded_header(&self, typ: &str) -> String {
        let header = json!({"alg": self.alg.as_str(), "typ": typ, "kid": self.kid});
        b64url(header.to_string().as_bytes())
    }

    /// A compact JWS over `claims` with header `{alg, typ, kid}`.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let header = match typ {
            "at+jwt" => &self.header_at_jwt,
            "JWT" => &self.header_jwt,
            other => &self.encoded_header(other),
        };
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        // One allocation for the whole token: header, payload and a signature of at most
        // 256 bytes (RSA-2048), base64url.
        let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 350);
        out.push_str(header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let sig = self.sign(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
        out
    }
}

/// The keys in use: the active signing key of each algorithm and the published set.
#[derive(Debug, Default)]
pub struct KeySet {
    pub active: HashMap<Alg, Arc<SigningKey>>,
    /// Every published public key (active and recently retired) by `kid`.
    pub published: HashMap<String, Value>,
    /// The JWKS document, serialized once.
    pub jwks_json: String,
    /// Verification keys of the published set, parsed once rather than per token.
    decoding: Decoding,
}

/// The parsed verification key of each published `kid`.
#[derive(Default)]
struct Decoding(HashMap<String, (jsonwebtoken::DecodingKey, Alg)>);

impl std::fmt::Debug for Decoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

fn parse_decoding(jwk: &Value) -> Option<(jsonwebtoken::DecodingKey, Alg)> {
    let alg = Alg::parse(jwk.get("alg")?.as_str()?)?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).ok()?;
    Some((jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?, alg))
}

impl KeySet {
    pub fn new(active: Vec<SigningKey>, published: Vec<Value>) -> Self {
        let jwks_json = json!({ "keys": published }).to_string();
        let published: HashMap<String, Value> = published
            .into_iter()
            .filter_map(|jwk| Some((jwk.get("kid")?.as_str()?.to_string(), jwk)))
            .collect();
        let decoding = Decoding(
            published
                .iter()
                .filter_map(|(kid, jwk)| Some((kid.clone(), parse_decoding(jwk)?)))
                .collect(),
        );
        let mut map: HashMap<Alg, Arc<SigningKey>> = HashMap::new();
        for key in active {
            map.insert(key.alg, Arc::new(key));
        }
        KeySet {
            active: map,
            published,
            jwks_json,
            decoding,
        }
    }

    pub fn signer(&self, alg: Alg) -> Option<Arc<SigningKey>> {
        self.active.get(&alg).cloned()
    }

    /// Whether `kid` is in the JWKS.
    pub fn publishes(&self, kid: &str) -> bool {
        self.published.contains_key(kid)
    }

    /// A verification key for a published `kid`.
    pub fn decoding_key(&self, kid: &str) -> Option<(&jsonwebtoken::DecodingKey, Alg)> {
        self.decoding.0.get(kid).map(|(k, a)| (k, *a))
    }
}

/// Shared, swappable key set: reloaded from the database so a rotation made by another
/// instance or the CLI is picked up.
#[derive(Debug, Default, Clone)]
pub struct Keyring(Arc<RwLock<Arc<KeySet>>>);

impl Keyring {
    pub fn new(set: KeySet) -> Self {
        Keyring(Arc::new(RwLock::new(Arc::new(set))))
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, set: KeySet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, Validation};

    #[test]
    fn every_alg_signs_a_jwt_that_verifies_against_its_jwk() {
        for alg in Alg::ALL {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(None, alg, &der).unwrap();
            assert_eq!(key.kid, again.kid, "thumbprint is stable");
            let token = key.sign_jwt("JWT", &json!({"sub": "x", "exp": 4_000_000_000u64}));
            let set = KeySet::new(vec![key], vec![again.public_jwk()]);
            let (dk, a) = set.decoding_key(&again.kid).unwrap();
            assert_eq!(a, alg);
            let mut v = Validation::new(alg.jwt_algorithm());
            v.validate_aud = false;
            let data = decode::<Value>(&token, dk, &v).unwrap();
            assert_eq!(data.claims["sub"], "x");
            assert_eq!(data.header.kid.as_deref(), Some(again.kid.as_str()));
        }
    }

    #[test]
    fn jwk_has_kid_use_alg() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(jwk["crv"], "P-256");
        assert!(format!("{key:?}").contains("[redacted]"));
    }
}

//! COSE_Key (RFC 9052/9053, RFC 8230) credential public keys, limited to the three
//! algorithms gatehouse asks for: ES256 (-7), EdDSA over Ed25519 (-8), RS256 (-257).
//!
//! Why so narrow: each key type is accepted only with the one `alg` and curve that
//! goes with it. A key whose `alg` disagrees with its `kty`, or a curve we did not
//! ask for, is refused instead of being verified some other way than its owner
//! intended. Unknown extra parameters (such as `kid`) are ignored.

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519,
    RSA_PKCS1_2048_8192_SHA256,
};

use super::cbor::{self, Key, Value};
use super::WebauthnError;

/// ECDSA with P-256 and SHA-256; WebAuthn signatures are ASN.1 DER encoded.
pub const ES256: i64 = -7;
/// EdDSA; only with the Ed25519 curve here.
pub const EDDSA: i64 = -8;
/// RSASSA-PKCS1-v1_5 with SHA-256.
pub const RS256: i64 = -257;

const KTY_OKP: i128 = 1;
const KTY_EC2: i128 = 2;
const KTY_RSA: i128 = 3;
const CRV_P256: i128 = 1;
const CRV_ED25519: i128 = 6;

/// RSA moduli outside this range are refused at registration; it is the range
/// aws-lc-rs verifies with `RSA_PKCS1_2048_8192_SHA256`, so nothing is accepted
/// that could later never verify.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// A credential public key in the form aws-lc-rs verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoseKey<'a> {
    /// The uncompressed SEC1 point 0x04 || x || y.
    Es256([u8; 65]),
    Ed25519([u8; 32]),
    /// Big-endian modulus and exponent without leading zero bytes.
    Rs256 {
        n: &'a [u8],
        e: &'a [u8],
    },
}

impl<'a> CoseKey<'a> {
    /// Parses the COSE_Key bytes (one CBOR map, nothing after it).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WebauthnError> {
        let value = cbor::decode_exact(bytes)
            .map_err(|_| WebauthnError::Malformed("the public key is not valid CBOR"))?;
        let entries = value
            .as_map()
            .ok_or(WebauthnError::Malformed("the public key is not a map"))?;
        // §6.5.1.1: the alg parameter is mandatory in a credential public key.
        let kty = int(entries, 1).ok_or(WebauthnError::Malformed("the public key has no kty"))?;
        let alg = int(entries, 3).ok_or(WebauthnError::Malformed("the public key has no alg"))?;
        match (kty, alg) {
            (KTY_EC2, a) if a == i128::from(ES256) => ec2(entries),
            (KTY_OKP, a) if a == i128::from(EDDSA) => okp(entries),
            (KTY_RSA, a) if a == i128::from(RS256) => rsa(entries),
            _ => Err(WebauthnError::UnsupportedAlgorithm),
        }
    }

    /// The COSE algorithm identifier of this key.
    pub fn alg(&self) -> i64 {
        match self {
            CoseKey::Es256(_) => ES256,
            CoseKey::Ed25519(_) => EDDSA,
            CoseKey::Rs256 { .. } => RS256,
        }
    }

    /// Has aws-lc-rs parse the key without verifying anything, so that a key that
    /// could never verify (an EC point off the curve, an inconsistent RSA key) is
    /// refused at registration.
    pub fn check(&self) -> Result<(), WebauthnError> {
        let parsed = match self {
            CoseKey::Es256(point) => ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).map(drop),
            CoseKey::Ed25519(x) => ParsedPublicKey::new(&ED25519, x).map(drop),
            CoseKey::Rs256 { n, e } => RsaPublicKeyComponents { n: *n, e: *e }
                .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                .map(drop),
        };
        parsed.map_err(|_| WebauthnError::InvalidKey)
    }

    /// Verifies `signature` over `message` (authenticatorData || SHA-256(clientDataJSON)).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
        let verified = match self {
            CoseKey::Es256(point) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(message, signature)
            }
            CoseKey::Ed25519(x) => UnparsedPublicKey::new(&ED25519, x).verify(message, signature),
            CoseKey::Rs256 { n, e } => RsaPublicKeyComponents { n: *n, e: *e }.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
        };
        verified.map_err(|_| WebauthnError::BadSignature)
    }
}

fn get<'v, 'a>(entries: &'v [(Key<'a>, Value<'a>)], label: i128) -> Option<&'v Value<'a>> {
    cbor::map_get(entries, &Key::Int(label))
}

fn int(entries: &[(Key<'_>, Value<'_>)], label: i128) -> Option<i128> {
    match get(entries, label) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// A byte-string parameter of exactly `N` bytes; anything else is a broken key.
fn fixed<const N: usize>(
    entries: &[(Key<'_>, Value<'_>)],
    label: i128,
) -> Result<[u8; N], WebauthnError> {
    match get(entries, label) {
        Some(Value::Bytes(b)) => <[u8; N]>::try_from(*b).map_err(|_| WebauthnError::InvalidKey),
        _ => Err(WebauthnError::InvalidKey),
    }
}

/// EC2: crv (-1) must be P-256; x (-2) and y (-3) 32 bytes each. A compressed
/// point (y as a boolean) is refused: WebAuthn requires the uncompressed form.
fn ec2<'a>(entries: &[(Key<'a>, Value<'a>)]) -> Result<CoseKey<'a>, WebauthnError> {
    if int(entries, -1) != Some(CRV_P256) {
        return Err(WebauthnError::UnsupportedAlgorithm);
    }
    let x: [u8; 32] = fixed(entries, -2)?;
    let y: [u8; 32] = fixed(entries, -3)?;
    let mut point = [0x04; 65];
    for (dst, src) in point.iter_mut().skip(1).zip(x.iter().chain(y.iter())) {
        *dst = *src;
    }
    Ok(CoseKey::Es256(point))
}

/// OKP: crv (-1) must be Ed25519, x (-2) its 32-byte public key.
fn okp<'a>(entries: &[(Key<'a>, Value<'a>)]) -> Result<CoseKey<'a>, WebauthnError> {
    if int(entries, -1) != Some(CRV_ED25519) {
        return Err(WebauthnError::UnsupportedAlgorithm);
    }
    Ok(CoseKey::Ed25519(fixed(entries, -2)?))
}

/// RSA (RFC 8230): n (-1) and e (-2) as big-endian byte strings. Leading zero bytes
/// are dropped (aws-lc-rs wants none); the modulus must be 2048 to 8192 bits and the
/// exponent odd, at least 3 and at most 33 bits, as aws-lc-rs requires.
fn rsa<'a>(entries: &[(Key<'a>, Value<'a>)]) -> Result<CoseKey<'a>, WebauthnError> {
    let (Some(Value::Bytes(n)), Some(Value::Bytes(e))) = (get(entries, -1), get(entries, -2))
    else {
        return Err(WebauthnError::InvalidKey);
    };
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bit_length(n)) {
        return Err(WebauthnError::InvalidKey);
    }
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    let e_bits = bit_length(e);
    if !e_odd || !(2..=33).contains(&e_bits) {
        return Err(WebauthnError::InvalidKey);
    }
    Ok(CoseKey::Rs256 { n, e })
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bits of a big-endian number without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{cose_rsa, encode, SoftAuthenticator, C};
    use super::*;

    #[test]
    fn parses_generated_keys_and_reports_alg() {
        for (auth, alg) in [
            (SoftAuthenticator::p256(), ES256),
            (SoftAuthenticator::ed25519(), EDDSA),
        ] {
            let bytes = auth.cose_key();
            let key = CoseKey::parse(&bytes).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.check(), Ok(()));
            let signature = auth.sign(b"message");
            assert_eq!(key.verify(b"message", &signature), Ok(()));
            assert_eq!(
                key.verify(b"massage", &signature),
                Err(WebauthnError::BadSignature)
            );
            for len in 0..bytes.len() {
                assert!(CoseKey::parse(&bytes[..len]).is_err(), "prefix {len}");
            }
        }
    }

    fn ec2_key(kty: i64, alg: i64, crv: i64, x_len: usize) -> Vec<u8> {
        encode(&C::map(vec![
            (C::Int(1), C::Int(kty)),
            (C::Int(3), C::Int(alg)),
            (C::Int(-1), C::Int(crv)),
            (C::Int(-2), C::Bytes(vec![1; x_len])),
            (C::Int(-3), C::Bytes(vec![2; 32])),
        ]))
    }

    #[test]
    fn refuses_mismatched_kty_alg_and_curve() {
        let unsupported = Err(WebauthnError::UnsupportedAlgorithm);
        assert_eq!(CoseKey::parse(&ec2_key(2, EDDSA, 1, 32)), unsupported);
        assert_eq!(CoseKey::parse(&ec2_key(1, ES256, 6, 32)), unsupported);
        assert_eq!(CoseKey::parse(&ec2_key(2, ES256, 2, 32)), unsupported); // P-384
        assert_eq!(CoseKey::parse(&ec2_key(1, EDDSA, 7, 32)), unsupported); // Ed448
        assert_eq!(CoseKey::parse(&ec2_key(2, -35, 2, 32)), unsupported); // ES384
        assert_eq!(CoseKey::parse(&ec2_key(4, ES256, 1, 32)), unsupported); // symmetric
        assert_eq!(CoseKey::parse(&ec2_key(3, ES256, 1, 32)), unsupported);
        assert_eq!(
            CoseKey::parse(&ec2_key(2, ES256, 1, 31)),
            Err(WebauthnError::InvalidKey)
        );
        let no_alg = encode(&C::map(vec![
            (C::Int(1), C::Int(2)),
            (C::Int(-1), C::Int(1)),
        ]));
        assert!(matches!(
            CoseKey::parse(&no_alg),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            CoseKey::parse(&[0x80]),
            Err(WebauthnError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_compressed_and_off_curve_points() {
        let compressed = encode(&C::map(vec![
            (C::Int(1), C::Int(2)),
            (C::Int(3), C::Int(ES256)),
            (C::Int(-1), C::Int(1)),
            (C::Int(-2), C::Bytes(vec![1; 32])),
            (C::Int(-3), C::Bool(true)),
        ]));
        assert_eq!(CoseKey::parse(&compressed), Err(WebauthnError::InvalidKey));
        // (1…, 2…) is well-formed but not a point on P-256.
        let off_curve = ec2_key(2, ES256, 1, 32);
        let key = CoseKey::parse(&off_curve).unwrap();
        assert_eq!(key.check(), Err(WebauthnError::InvalidKey));
        assert_eq!(
            key.verify(b"m", &[0x30, 0x00]),
            Err(WebauthnError::BadSignature)
        );
    }

    #[test]
    fn rsa_modulus_and_exponent_limits() {
        let e = [0x01, 0x00, 0x01];
        let mut n2048 = vec![0xff; 256];
        n2048[255] = 0xfd;
        let key_bytes = cose_rsa(&n2048, &e);
        let key = CoseKey::parse(&key_bytes).unwrap();
        assert_eq!(key.alg(), RS256);
        assert_eq!(key.check(), Ok(()));
        assert_eq!(
            key.verify(b"m", &[0; 256]),
            Err(WebauthnError::BadSignature)
        );
        // A leading zero byte is tolerated; it does not add bits.
        let padded = [&[0u8][..], &n2048].concat();
        assert!(CoseKey::parse(&cose_rsa(&padded, &e)).is_ok());
        // 2047 bits and 1024 bits: too weak.
        let mut n2047 = n2048.clone();
        n2047[0] = 0x7f;
        assert_eq!(
            CoseKey::parse(&cose_rsa(&n2047, &e)),
            Err(WebauthnError::InvalidKey)
        );
        assert_eq!(
            CoseKey::parse(&cose_rsa(&[0xff; 128], &e)),
            Err(WebauthnError::InvalidKey)
        );
        assert_eq!(
            CoseKey::parse(&cose_rsa(&[0xff; 1025], &e)),
            Err(WebauthnError::InvalidKey)
        );
        for bad_e in [
            &[][..],
            &[0x00],
            &[0x01],
            &[0x01, 0x00, 0x00],
            &[0x03, 0, 0, 0, 1],
        ] {
            assert_eq!(
                CoseKey::parse(&cose_rsa(&n2048, bad_e)),
                Err(WebauthnError::InvalidKey)
            );
        }
        assert!(CoseKey::parse(&cose_rsa(&n2048, &[0x03])).is_ok());
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(strip_zeros(&[0, 0, 5]), &[5]);
        assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
    }
}

//! Authenticator data (§6.1): the bytes the authenticator itself produces and, at
//! assertion, signs. Layout: rpIdHash (32) | flags (1) | signCount (u32 BE) |
//! attested credential data (if AT) | extensions (CBOR map, if ED).
//!
//! Why strict: the flags announce exactly what follows, so anything left over means
//! the bytes were not produced the way they claim; they are refused rather than
//! ignored, and every length is checked before it is used.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;

use super::cbor::{self, Value};
use super::{RelyingParty, WebauthnError};

/// User present.
pub(super) const UP: u8 = 0x01;
/// User verified (PIN, biometric).
pub(super) const UV: u8 = 0x04;
/// Backup eligible: the credential may be synced to other devices.
pub(super) const BE: u8 = 0x08;
/// Backed up: the credential is currently synced.
pub(super) const BS: u8 = 0x10;
/// Attested credential data follows.
pub(super) const AT: u8 = 0x40;
/// Extension data follows.
pub(super) const ED: u8 = 0x80;

/// §7.1: credential ids longer than this are refused.
const MAX_CREDENTIAL_ID_LEN: usize = 1023;

const TRUNCATED: WebauthnError = WebauthnError::Malformed("the authenticator data is too short");

/// Parsed authenticator data, borrowing from the input.
#[derive(Debug)]
pub(super) struct AuthenticatorData<'a> {
    pub rp_id_hash: &'a [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub credential: Option<AttestedCredential<'a>>,
}

/// The attested credential data of a registration.
#[derive(Debug)]
pub(super) struct AttestedCredential<'a> {
    pub aaguid: [u8; 16],
    pub id: &'a [u8],
    /// The COSE key, exactly the bytes of its one CBOR item.
    pub public_key: &'a [u8],
}

impl<'a> AuthenticatorData<'a> {
    /// Splits the structure apart. Extensions are skipped (we request none), but must
    /// be one well-formed CBOR map, so that their end, and so trailing bytes, is known.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WebauthnError> {
        let (rp_id_hash, rest) = bytes.split_first_chunk::<32>().ok_or(TRUNCATED)?;
        let (&[flags], rest) = rest.split_first_chunk::<1>().ok_or(TRUNCATED)?;
        let (count, rest) = rest.split_first_chunk::<4>().ok_or(TRUNCATED)?;
        if flags & BS != 0 && flags & BE == 0 {
            return Err(WebauthnError::Malformed(
                "the passkey claims a backup but cannot be backed up",
            ));
        }
        let (credential, rest) = if flags & AT != 0 {
            let (credential, rest) = parse_credential(rest)?;
            (Some(credential), rest)
        } else {
            (None, rest)
        };
        let rest = if flags & ED != 0 {
            skip_map(rest, "the authenticator extensions are malformed")?.1
        } else {
            rest
        };
        if !rest.is_empty() {
            return Err(WebauthnError::Malformed(
                "extra bytes follow the authenticator data",
            ));
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count: u32::from_be_bytes(*count),
            credential,
        })
    }

    /// §7.1 steps 13–15, §7.2 steps 15–17: the credential is scoped to our RP id, a
    /// person touched the authenticator, and (when required) was verified by it.
    pub fn check(
        &self,
        rp: &RelyingParty,
        require_user_verification: bool,
    ) -> Result<(), WebauthnError> {
        let expected = digest::digest(&digest::SHA256, rp.id.as_bytes());
        verify_slices_are_equal(expected.as_ref(), self.rp_id_hash)
            .map_err(|_| WebauthnError::RpIdMismatch)?;
        if self.flags & UP == 0 {
            return Err(WebauthnError::UserNotPresent);
        }
        if require_user_verification && !self.user_verified() {
            return Err(WebauthnError::UserNotVerified);
        }
        Ok(())
    }

    pub fn user_verified(&self) -> bool {
        self.flags & UV != 0
    }

    pub fn backup_eligible(&self) -> bool {
        self.flags & BE != 0
    }

    pub fn backed_up(&self) -> bool {
        self.flags & BS != 0
    }
}

/// aaguid (16) | credentialIdLength (u16 BE) | credentialId | credentialPublicKey.
/// The key has no length prefix: its end is where its one CBOR item ends.
fn parse_credential(bytes: &[u8]) -> Result<(AttestedCredential<'_>, &[u8]), WebauthnError> {
    let (aaguid, rest) = bytes.split_first_chunk::<16>().ok_or(TRUNCATED)?;
    let (id_len, rest) = rest.split_first_chunk::<2>().ok_or(TRUNCATED)?;
    let id_len = usize::from(u16::from_be_bytes(*id_len));
    if id_len == 0 || id_len > MAX_CREDENTIAL_ID_LEN {
        return Err(WebauthnError::Malformed(
            "the credential id has an invalid length",
        ));
    }
    let (id, rest) = rest.split_at_checked(id_len).ok_or(TRUNCATED)?;
    let (public_key, rest) = skip_map(rest, "the credential public key is malformed")?;
    let credential = AttestedCredential {
        aaguid: *aaguid,
        id,
        public_key,
    };
    Ok((credential, rest))
}

/// Splits one CBOR map off the front of `bytes`: (the map's bytes, the rest).
fn skip_map<'b>(
    bytes: &'b [u8],
    reason: &'static str,
) -> Result<(&'b [u8], &'b [u8]), WebauthnError> {
    let (value, used) = cbor::decode(bytes).map_err(|_| WebauthnError::Malformed(reason))?;
    if !matches!(value, Value::Map(_)) {
        return Err(WebauthnError::Malformed(reason));
    }
    bytes
        .split_at_checked(used)
        .ok_or(WebauthnError::Malformed(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp() -> RelyingParty {
        RelyingParty {
            id: "login.example.com".into(),
            origin: "https://login.example.com".into(),
        }
    }

    fn header(rp_id: &str, flags: u8, count: u32) -> Vec<u8> {
        let mut out = digest::digest(&digest::SHA256, rp_id.as_bytes())
            .as_ref()
            .to_vec();
        out.push(flags);
        out.extend_from_slice(&count.to_be_bytes());
        out
    }

    /// Header, AT data with a 3-byte id and the COSE-shaped map {1: 2}, then
    /// the extension map {"credProtect": 2}.
    fn full() -> Vec<u8> {
        let mut out = header("login.example.com", UP | UV | BE | BS | AT | ED, 9);
        out.extend_from_slice(&[0xaa; 16]);
        out.extend_from_slice(&[0, 3, 1, 2, 3]);
        out.extend_from_slice(&[0xa1, 0x01, 0x02]);
        out.extend_from_slice(b"\xa1\x6bcredProtect\x02");
        out
    }

    #[test]
    fn parses_every_part() {
        let bytes = full();
        let data = AuthenticatorData::parse(&bytes).unwrap();
        assert_eq!(data.sign_count, 9);
        assert!(data.user_verified() && data.backup_eligible() && data.backed_up());
        let credential = data.credential.as_ref().unwrap();
        assert_eq!(credential.aaguid, [0xaa; 16]);
        assert_eq!(credential.id, &[1, 2, 3]);
        assert_eq!(credential.public_key, &[0xa1, 0x01, 0x02]);
        assert_eq!(data.check(&rp(), true), Ok(()));
    }

    #[test]
    fn every_prefix_and_any_suffix_is_refused() {
        let bytes = full();
        for len in 0..bytes.len() {
            assert!(
                AuthenticatorData::parse(&bytes[..len]).is_err(),
                "prefix {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            AuthenticatorData::parse(&longer),
            Err(WebauthnError::Malformed(_))
        ));
        let mut plain = header("login.example.com", UP, 0);
        assert!(AuthenticatorData::parse(&plain).is_ok());
        plain.push(0xa0);
        assert!(AuthenticatorData::parse(&plain).is_err());
    }

    #[test]
    fn checks_rp_id_and_flags() {
        let other = header("example.com", UP | UV, 0);
        let data = AuthenticatorData::parse(&other).unwrap();
        assert_eq!(data.check(&rp(), false), Err(WebauthnError::RpIdMismatch));
        let absent = header("login.example.com", UV, 0);
        let data = AuthenticatorData::parse(&absent).unwrap();
        assert_eq!(data.check(&rp(), false), Err(WebauthnError::UserNotPresent));
        let unverified = header("login.example.com", UP, 0);
        let data = AuthenticatorData::parse(&unverified).unwrap();
        assert_eq!(data.check(&rp(), true), Err(WebauthnError::UserNotVerified));
        assert_eq!(data.check(&rp(), false), Ok(()));
        let bs_only = header("login.example.com", UP | BS, 0);
        assert!(matches!(
            AuthenticatorData::parse(&bs_only),
            Err(WebauthnError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_bad_credential_id_lengths_and_non_map_parts() {
        let mut long = header("login.example.com", UP | AT, 0);
        long.extend_from_slice(&[0; 16]);
        long.extend_from_slice(&1024u16.to_be_bytes());
        long.extend_from_slice(&[0; 1024]);
        long.extend_from_slice(&[0xa1, 0x01, 0x02]);
        assert!(matches!(
            AuthenticatorData::parse(&long),
            Err(WebauthnError::Malformed(_))
        ));
        let mut empty = header("login.example.com", UP | AT, 0);
        empty.extend_from_slice(&[0; 18]);
        empty.extend_from_slice(&[0xa1, 0x01, 0x02]);
        assert!(matches!(
            AuthenticatorData::parse(&empty),
            Err(WebauthnError::Malformed(_))
        ));
        let mut not_map = header("login.example.com", UP | ED, 0);
        not_map.push(0x01);
        assert!(matches!(
            AuthenticatorData::parse(&not_map),
            Err(WebauthnError::Malformed(_))
        ));
        let mut deep = header("login.example.com", UP | ED, 0);
        deep.extend_from_slice(&[0xa1, 0x01].repeat(40));
        deep.push(0x00);
        assert!(matches!(
            AuthenticatorData::parse(&deep),
            Err(WebauthnError::Malformed(_))
        ));
    }
}

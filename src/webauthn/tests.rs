//! End-to-end checks of both ceremonies against the software authenticator.

use super::auth_data::{AT, BE, BS, ED, UP, UV};
use super::testkit::{
    attestation_object, client_data, cose_rsa, encode, header, rp, SoftAuthenticator, C, ORIGIN,
    RP_ID,
};
use super::*;

const CHALLENGE: [u8; 32] = [0x11; 32];
const CREATE: &str = "webauthn.create";
const GET: &str = "webauthn.get";

fn authenticators() -> [SoftAuthenticator; 2] {
    [SoftAuthenticator::p256(), SoftAuthenticator::ed25519()]
}

fn register(cdj: &[u8], ao: &[u8], require_uv: bool) -> Result<Registration, WebauthnError> {
    verify_registration(&rp(), &CHALLENGE, cdj, ao, require_uv)
}

/// A good registration response from `auth` with the given flags.
fn good_registration(auth: &SoftAuthenticator, flags: u8) -> (Vec<u8>, Vec<u8>) {
    let cdj = client_data(CREATE, &CHALLENGE, ORIGIN, "");
    let ao = attestation_object(&auth.auth_data(RP_ID, flags, 0));
    (cdj, ao)
}

/// An assertion response for `cdj`, signed by `auth`, and verified against it.
fn assert_with(
    auth: &SoftAuthenticator,
    stored: u32,
    auth_data: &[u8],
    cdj: &[u8],
    require_uv: bool,
) -> Result<Assertion, WebauthnError> {
    let signature = auth.sign_assertion(auth_data, cdj);
    verify_assertion(
        &rp(),
        &CHALLENGE,
        &auth.cose_key(),
        stored,
        cdj,
        auth_data,
        &signature,
        require_uv,
    )
}

fn good_cdj() -> Vec<u8> {
    client_data(GET, &CHALLENGE, ORIGIN, "")
}

#[test]
fn good_registration_and_assertion_for_both_algorithms() {
    for (auth, alg) in authenticators().iter().zip([-7, -8]) {
        let (cdj, ao) = good_registration(auth, UP | UV | BE | BS | AT);
        let reg = register(&cdj, &ao, true).unwrap();
        assert_eq!(reg.credential_id, auth.credential_id);
        assert_eq!(reg.public_key, auth.cose_key());
        assert_eq!(reg.alg, alg);
        assert_eq!(reg.aaguid, auth.aaguid);
        assert!(reg.user_verified && reg.backup_eligible && reg.backed_up);
        assert_eq!(reg.sign_count, 0);

        let ad = header(RP_ID, UP | UV | BE, 0);
        let cdj = good_cdj();
        let sig = auth.sign_assertion(&ad, &cdj);
        let got = verify_assertion(&rp(), &CHALLENGE, &reg.public_key, 0, &cdj, &ad, &sig, true);
        let expected = Assertion {
            sign_count: 0,
            user_verified: true,
            backup_eligible: true,
            backed_up: false,
        };
        assert_eq!(got, Ok(expected));
    }
}

#[test]
fn any_attestation_format_is_accepted_unverified() {
    let auth = SoftAuthenticator::p256();
    let ad = auth.auth_data(RP_ID, UP | UV | AT, 0);
    let ao = encode(&C::map(vec![
        (C::text("fmt"), C::text("packed")),
        (
            C::text("attStmt"),
            C::map(vec![(C::text("alg"), C::Int(-7))]),
        ),
        (C::text("authData"), C::Bytes(ad)),
    ]));
    let (cdj, _) = good_registration(&auth, UP);
    assert!(register(&cdj, &ao, true).is_ok());
    let no_stmt = encode(&C::map(vec![(C::text("fmt"), C::text("none"))]));
    assert!(matches!(
        register(&cdj, &no_stmt, true),
        Err(WebauthnError::Malformed(_))
    ));
}

#[test]
fn client_data_checks_apply_to_both_ceremonies() {
    let auth = SoftAuthenticator::ed25519();
    let (_, ao) = good_registration(&auth, UP | UV | AT);
    let ad = header(RP_ID, UP | UV, 1);
    let cases: [(bool, &[u8], &str, &str, WebauthnError); 5] = [
        (true, &CHALLENGE, ORIGIN, "", WebauthnError::WrongType),
        (
            false,
            &[0x22; 32],
            ORIGIN,
            "",
            WebauthnError::ChallengeMismatch,
        ),
        (
            false,
            &CHALLENGE,
            "https://evil.example",
            "",
            WebauthnError::OriginMismatch,
        ),
        (
            false,
            &CHALLENGE,
            ORIGIN,
            r#","crossOrigin":true"#,
            WebauthnError::CrossOrigin,
        ),
        (
            false,
            &CHALLENGE,
            ORIGIN,
            r#","topOrigin":"https://a.example""#,
            WebauthnError::CrossOrigin,
        ),
    ];
    for (swap, challenge, origin, extra, error) in cases {
        // `swap` sends each ceremony the other's type.
        let (create, get) = if swap { (GET, CREATE) } else { (CREATE, GET) };
        let cdj = client_data(create, challenge, origin, extra);
        assert_eq!(register(&cdj, &ao, true), Err(error.clone()));
        let cdj = client_data(get, challenge, origin, extra);
        assert_eq!(assert_with(&auth, 0, &ad, &cdj, true), Err(error));
    }
    let fine = client_data(GET, &CHALLENGE, ORIGIN, r#","crossOrigin":false"#);
    assert!(assert_with(&auth, 0, &ad, &fine, true).is_ok());
}

#[test]
fn rp_id_presence_and_verification() {
    let auth = SoftAuthenticator::p256();
    let cdj = client_data(CREATE, &CHALLENGE, ORIGIN, "");
    let wrong_rp = attestation_object(&auth.auth_data("example.com", UP | UV | AT, 0));
    assert_eq!(
        register(&cdj, &wrong_rp, true),
        Err(WebauthnError::RpIdMismatch)
    );
    let (_, no_up) = good_registration(&auth, UV | AT);
    assert_eq!(
        register(&cdj, &no_up, false),
        Err(WebauthnError::UserNotPresent)
    );
    let (_, no_uv) = good_registration(&auth, UP | AT);
    assert_eq!(
        register(&cdj, &no_uv, true),
        Err(WebauthnError::UserNotVerified)
    );
    assert!(!register(&cdj, &no_uv, false).unwrap().user_verified);
    let (_, no_at) = good_registration(&auth, UP | UV);
    assert!(matches!(
        register(&cdj, &no_at, true),
        Err(WebauthnError::Malformed(_))
    ));

    let cdj = good_cdj();
    let wrong_rp = header("evil.example", UP | UV, 1);
    assert_eq!(
        assert_with(&auth, 0, &wrong_rp, &cdj, true),
        Err(WebauthnError::RpIdMismatch)
    );
    let absent = header(RP_ID, UV, 1);
    assert_eq!(
        assert_with(&auth, 0, &absent, &cdj, false),
        Err(WebauthnError::UserNotPresent)
    );
    let unverified = header(RP_ID, UP, 1);
    assert_eq!(
        assert_with(&auth, 0, &unverified, &cdj, true),
        Err(WebauthnError::UserNotVerified)
    );
    assert!(
        !assert_with(&auth, 0, &unverified, &cdj, false)
            .unwrap()
            .user_verified
    );
    let bs_only = header(RP_ID, UP | UV | BS, 1);
    assert!(matches!(
        assert_with(&auth, 0, &bs_only, &cdj, true),
        Err(WebauthnError::Malformed(_))
    ));
}

#[test]
fn flipped_signature_bytes_and_wrong_keys_fail() {
    for auth in authenticators() {
        let ad = header(RP_ID, UP | UV, 3);
        let cdj = good_cdj();
        let sig = auth.sign_assertion(&ad, &cdj);
        let key = auth.cose_key();
        assert!(verify_assertion(&rp(), &CHALLENGE, &key, 0, &cdj, &ad, &sig, true).is_ok());
        for i in 0..sig.len() {
            let mut bad = sig.clone();
            bad[i] ^= 0x01;
            let got = verify_assertion(&rp(), &CHALLENGE, &key, 0, &cdj, &ad, &bad, true);
            assert_eq!(got, Err(WebauthnError::BadSignature), "byte {i}");
        }
        // The same signature does not cover other client data or another count.
        let other_cdj = client_data(GET, &CHALLENGE, ORIGIN, r#","x":1"#);
        let got = verify_assertion(&rp(), &CHALLENGE, &key, 0, &other_cdj, &ad, &sig, true);
        assert_eq!(got, Err(WebauthnError::BadSignature));
        let other_ad = header(RP_ID, UP | UV, 4);
        let got = verify_assertion(&rp(), &CHALLENGE, &key, 0, &cdj, &other_ad, &sig, true);
        assert_eq!(got, Err(WebauthnError::BadSignature));
        let stranger = SoftAuthenticator::p256().cose_key();
        let got = verify_assertion(&rp(), &CHALLENGE, &stranger, 0, &cdj, &ad, &sig, true);
        assert_eq!(got, Err(WebauthnError::BadSignature));
        assert_eq!(
            verify_assertion(&rp(), &CHALLENGE, &key, 0, &cdj, &ad, &[], true),
            Err(WebauthnError::BadSignature)
        );
    }
}

#[test]
fn sign_count_must_increase_unless_always_zero() {
    let auth = SoftAuthenticator::p256();
    let cdj = good_cdj();
    let run = |stored: u32, new: u32| {
        assert_with(&auth, stored, &header(RP_ID, UP | UV, new), &cdj, true)
    };
    assert_eq!(run(0, 0).map(|a| a.sign_count), Ok(0));
    assert_eq!(run(0, 1).map(|a| a.sign_count), Ok(1));
    assert_eq!(run(5, 6).map(|a| a.sign_count), Ok(6));
    assert_eq!(run(5, u32::MAX).map(|a| a.sign_count), Ok(u32::MAX));
    for (stored, new) in [(5, 5), (5, 4), (5, 0), (u32::MAX, u32::MAX)] {
        assert_eq!(
            run(stored, new),
            Err(WebauthnError::SignCountWentBackwards),
            "{stored} -> {new}"
        );
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let auth = SoftAuthenticator::ed25519();
    let (cdj, ao) = good_registration(&auth, UP | UV | AT);
    let mut ao_long = ao.clone();
    ao_long.push(0x00);
    assert!(matches!(
        register(&cdj, &ao_long, true),
        Err(WebauthnError::Malformed(_))
    ));
    let mut ad_long = auth.auth_data(RP_ID, UP | UV | AT, 0);
    ad_long.push(0x00);
    let ao_inner = attestation_object(&ad_long);
    assert!(matches!(
        register(&cdj, &ao_inner, true),
        Err(WebauthnError::Malformed(_))
    ));
    // Signed over the longer data, so only the parse can refuse it.
    let mut ad = header(RP_ID, UP | UV, 1);
    ad.push(0xa0);
    assert!(matches!(
        assert_with(&auth, 0, &ad, &good_cdj(), true),
        Err(WebauthnError::Malformed(_))
    ));
    // With ED set, the same map is a valid (empty) extension block.
    let mut ed = header(RP_ID, UP | UV | ED, 1);
    ed.push(0xa0);
    assert!(assert_with(&auth, 0, &ed, &good_cdj(), true).is_ok());
}

#[test]
fn every_truncation_errors_without_panicking() {
    for auth in authenticators() {
        let (cdj, _) = good_registration(&auth, UP);
        let mut ad = auth.auth_data(RP_ID, UP | UV | AT | ED, 0);
        ad.extend_from_slice(&encode(&C::map(vec![(C::text("credProtect"), C::Int(2))])));
        assert!(register(&cdj, &attestation_object(&ad), true).is_ok());
        for len in 0..ad.len() {
            let ao = attestation_object(&ad[..len]);
            assert!(register(&cdj, &ao, true).is_err(), "authData prefix {len}");
        }
        let ao = attestation_object(&ad);
        for len in 0..ao.len() {
            assert!(
                register(&cdj, &ao[..len], true).is_err(),
                "attestation prefix {len}"
            );
        }
        for len in 0..cdj.len() {
            assert!(
                register(&cdj[..len], &ao, true).is_err(),
                "clientData prefix {len}"
            );
        }
        let ad = header(RP_ID, UP | UV | ED, 1);
        let ad = [ad, encode(&C::map(vec![(C::Int(1), C::Bool(true))]))].concat();
        let cdj = good_cdj();
        assert!(assert_with(&auth, 0, &ad, &cdj, true).is_ok());
        for len in 0..ad.len() {
            assert!(
                assert_with(&auth, 0, &ad[..len], &cdj, true).is_err(),
                "assertion prefix {len}"
            );
        }
        let key = auth.cose_key();
        let sig = auth.sign_assertion(&ad, &cdj);
        for len in 0..key.len() {
            let got = verify_assertion(&rp(), &CHALLENGE, &key[..len], 0, &cdj, &ad, &sig, true);
            assert!(got.is_err(), "stored key prefix {len}");
        }
    }
}

/// Registration data whose COSE key is `key`, for key-policy tests.
fn registration_with_key(key: &[u8]) -> Result<Registration, WebauthnError> {
    let mut ad = header(RP_ID, UP | UV | AT, 0);
    ad.extend_from_slice(&[0; 16]);
    ad.extend_from_slice(&[0, 4, 1, 2, 3, 4]);
    ad.extend_from_slice(key);
    let cdj = client_data(CREATE, &CHALLENGE, ORIGIN, "");
    register(&cdj, &attestation_object(&ad), true)
}

#[test]
fn key_policy_at_registration() {
    let e = [0x01, 0x00, 0x01];
    assert_eq!(
        registration_with_key(&cose_rsa(&[0xff; 128], &e)),
        Err(WebauthnError::InvalidKey)
    );
    let mut n = vec![0xff; 256];
    n[255] = 0xfd;
    assert_eq!(
        registration_with_key(&cose_rsa(&n, &e)).map(|r| r.alg),
        Ok(-257)
    );
    let off_curve = encode(&C::map(vec![
        (C::Int(1), C::Int(2)),
        (C::Int(3), C::Int(-7)),
        (C::Int(-1), C::Int(1)),
        (C::Int(-2), C::Bytes(vec![1; 32])),
        (C::Int(-3), C::Bytes(vec![2; 32])),
    ]));
    assert_eq!(
        registration_with_key(&off_curve),
        Err(WebauthnError::InvalidKey)
    );
    let p384 = encode(&C::map(vec![
        (C::Int(1), C::Int(2)),
        (C::Int(3), C::Int(-35)),
        (C::Int(-1), C::Int(2)),
        (C::Int(-2), C::Bytes(vec![1; 48])),
        (C::Int(-3), C::Bytes(vec![2; 48])),
    ]));
    assert_eq!(
        registration_with_key(&p384),
        Err(WebauthnError::UnsupportedAlgorithm)
    );
}

#[test]
fn hostile_cbor_in_the_attestation_object() {
    let cdj = client_data(CREATE, &CHALLENGE, ORIGIN, "");
    // Indefinite-length map {"fmt": "none"}.
    let indefinite = b"\xbf\x63fmt\x64none\xff";
    assert!(matches!(
        register(&cdj, indefinite, true),
        Err(WebauthnError::Malformed(_))
    ));
    // {"authData": <2^32 bytes declared>} followed by two bytes.
    let huge = b"\xa1\x68authData\x5b\x00\x00\x00\x01\x00\x00\x00\x00\xab\xcd";
    assert!(matches!(
        register(&cdj, huge, true),
        Err(WebauthnError::Malformed(_))
    ));
    // 10 000 nested arrays as the statement.
    let mut deep = b"\xa1\x67attStmt".to_vec();
    deep.extend(std::iter::repeat_n(0x81, 10_000));
    deep.push(0x00);
    assert!(matches!(
        register(&cdj, &deep, true),
        Err(WebauthnError::Malformed(_))
    ));
    assert!(matches!(
        register(&cdj, b"", true),
        Err(WebauthnError::Malformed(_))
    ));
    assert!(matches!(
        register(&cdj, &[0x01], true),
        Err(WebauthnError::Malformed(_))
    ));
}

#[test]
fn errors_read_as_sentences() {
    assert_eq!(
        WebauthnError::OriginMismatch.to_string(),
        "the passkey answered for another site"
    );
    let malformed = WebauthnError::Malformed("x").to_string();
    assert!(malformed.starts_with("the passkey's answer could not be read"));
}

//! DPoP (RFC 9449): checking a proof of possession, the key's thumbprint that binds a
//! token to it, and the server-provided nonces. Nonces are derived from the server's
//! secret and the time, so every instance issues and accepts the same ones.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::{b64url, b64url_decode, ct_eq, sha256, Sealer};

/// The algorithms accepted for proofs (`dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];
/// How far a proof's `iat` may be from the server's clock, in seconds.
pub const IAT_WINDOW: i64 = 120;
/// A nonce is valid in the minute it was issued and the two after.
const NONCE_WINDOW: i64 = 60;
const NONCE_WINDOWS_ACCEPTED: i64 = 3;

/// `cnf` of a bound access token (RFC 9449 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// What a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub method: &'a str,
    /// The endpoint's URL, derived from the issuer.
    pub url: &'a str,
    /// The access token presented with the proof (its hash must be `ath`).
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// Whether a server-provided nonce is required.
    pub require_nonce: bool,
}

/// A proof that checked out: the key's thumbprint, and what to remember against replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
    /// `jti`, scoped to the key, for the replay store.
    pub replay_key: String,
    /// Until when the replay store must remember it.
    pub remember_until: i64,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// `invalid_dpop_proof`, with a description.
    Invalid(String),
    /// `use_dpop_nonce`: the proof lacks the current server nonce.
    UseNonce,
}

fn invalid(m: impl Into<String>) -> ProofError {
    ProofError::Invalid(m.into())
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: Option<String>,
    nonce: Option<String>,
}

/// RFC 7638 thumbprint of a public JWK (SHA-256, base64url); refuses private keys.
pub fn thumbprint(jwk: &Value) -> Result<String, String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if jwk.get(private).is_some() {
            return Err("the proof's jwk must be a public key".into());
        }
    }
    let members: Vec<(&str, &str)> = match s("kty") {
        Some("EC") => vec![("crv", ""), ("kty", ""), ("x", ""), ("y", "")],
        Some("RSA") => vec![("e", ""), ("kty", ""), ("n", "")],
        Some("OKP") => vec![("crv", ""), ("kty", ""), ("x", "")],
        _ => return Err("the proof's jwk has an unsupported kty".into()),
    };
    let mut body = Vec::new();
    for (k, _) in members {
        let v = s(k).ok_or_else(|| format!("the proof's jwk lacks '{k}'"))?;
        body.push(format!("\"{k}\":{}", Value::String(v.to_string())));
    }
    Ok(b64url(&sha256(
        format!("{{{}}}", body.join(",")).as_bytes(),
    )))
}

/// The URL without query and fragment, as `htu` is compared (RFC 9449 §4.3).
fn normal_url(raw: &str) -> Option<String> {
    let mut u = url::Url::parse(raw).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

/// Checks a `DPoP` header value against what the request must match. The caller still
/// checks the nonce (with [`nonce_valid`]) when `require_nonce`, and records the replay key.
pub fn verify(
    proof: &str,
    expect: &Expect,
    nonce_ok: impl Fn(&str) -> bool,
) -> Result<Proof, ProofError> {
    let head = proof.split('.').next().unwrap_or("");
    let header: Value = b64url_decode(head)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("the DPoP proof is not a JWT"))?;
    if header["typ"] != "dpop+jwt" {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = header["alg"]
        .as_str()
        .and_then(crate::keys::client_algorithm)
        .ok_or_else(|| {
            invalid(format!(
                "the DPoP proof's alg must be one of {}",
                ALGS.join(", ")
            ))
        })?;
    let jwk_value = header
        .get("jwk")
        .ok_or_else(|| invalid("the DPoP proof has no jwk"))?;
    let jkt = thumbprint(jwk_value).map_err(invalid)?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk_value.clone())
        .map_err(|_| invalid("the proof's jwk is unusable"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
        .map_err(|_| invalid("the proof's jwk is unusable"))?;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(proof, &key, &validation)
        .map_err(|_| invalid("the DPoP proof's signature or claims are not valid"))?
        .claims;
    check_claims(&claims, expect)?;
    if expect.require_nonce && !claims.nonce.as_deref().is_some_and(&nonce_ok) {
        return Err(ProofError::UseNonce);
    }
    Ok(Proof {
        replay_key: format!("dpop:{jkt}:{}", claims.jti),
        jkt,
        remember_until: claims.iat + IAT_WINDOW + 60,
    })
}

fn check_claims(c: &Claims, expect: &Expect) -> Result<(), ProofError> {
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(invalid("the DPoP proof's jti is missing or too long"));
    }
    if c.htm != expect.method {
        return Err(invalid(format!(
            "the DPoP proof's htm must be {}",
            expect.method
        )));
    }
    if normal_url(&c.htu).is_none() || normal_url(&c.htu) != normal_url(expect.url) {
        return Err(invalid(format!(
            "the DPoP proof's htu must be {}",
            expect.url
        )));
    }
    if (c.iat - expect.now).abs() > IAT_WINDOW {
        return Err(invalid(
            "the DPoP proof's iat is too far from the server's time",
        ));
    }
    match (expect.access_token, &c.ath) {
        (Some(token), Some(ath))
            if ct_eq(ath.as_bytes(), b64url(&sha256(token.as_bytes())).as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), _) => Err(invalid(
            "the DPoP proof's ath does not match the access token",
        )),
        (None, _) => Ok(()),
    }
}

fn nonce_at(sealer: &Sealer, window: i64) -> String {
    b64url(&sealer.mac(&[b"dpop-nonce", &window.to_be_bytes()])[..18])
}

/// The nonce to hand out now (`DPoP-Nonce`).
pub fn nonce(sealer: &Sealer, now: i64) -> String {
    nonce_at(sealer, now.div_euclid(NONCE_WINDOW))
}

/// Whether `nonce` was handed out by some instance within the last few minutes.
pub fn nonce_valid(sealer: &Sealer, nonce: &str, now: i64) -> bool {
    let window = now.div_euclid(NONCE_WINDOW);
    (0..NONCE_WINDOWS_ACCEPTED)
        .any(|back| ct_eq(nonce.as_bytes(), nonce_at(sealer, window - back).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Alg, SigningKey};
    use serde_json::json;

    const URL: &str = "https://id.example/token";

    fn proof(key: &SigningKey, claims: Value, typ: &str) -> String {
        let mut jwk = key.public_jwk();
        jwk.as_object_mut()
            .unwrap()
            .retain(|k, _| !matches!(k.as_str(), "kid" | "use" | "alg"));
        let header = json!({"typ": typ, "alg": key.alg.as_str(), "jwk": jwk});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        format!("{input}.{}", b64url(&key.sign(input.as_bytes())))
    }

    fn expect(now: i64) -> Expect<'static> {
        Expect {
            method: "POST",
            url: URL,
            access_token: None,
            now,
            require_nonce: false,
        }
    }

    #[test]
    fn a_good_proof_gives_the_keys_thumbprint() {
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let p = proof(
                &key,
                json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": 100}),
                "dpop+jwt",
            );
            let ok = verify(&p, &expect(110), |_| true).unwrap();
            assert_eq!(ok.jkt, key.thumbprint(), "{alg}");
            assert!(ok.replay_key.ends_with(":j1"));
        }
    }

    #[test]
    fn proofs_that_do_not_match_are_refused() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let bad =
            |claims: Value, typ: &str| verify(&proof(&key, claims, typ), &expect(100), |_| true);
        let base = json!({"jti": "j", "htm": "POST", "htu": URL, "iat": 100});
        assert!(bad(base.clone(), "dpop+jwt").is_ok());
        assert!(bad(base.clone(), "JWT").is_err());
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            c
        };
        assert!(bad(with("htm", json!("GET")), "dpop+jwt").is_err());
        assert!(bad(with("htu", json!("https://evil.example/token")), "dpop+jwt").is_err());
        assert!(bad(
            with("htu", json!("https://id.example/token?x=1")),
            "dpop+jwt"
        )
        .is_ok());
        assert!(bad(with("iat", json!(1000)), "dpop+jwt").is_err());
        assert!(bad(with("jti", json!("")), "dpop+jwt").is_err());
        let good = proof(&key, base.clone(), "dpop+jwt");
        let at = good.len() - 20;
        let flipped = if &good[at..at + 1] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &good[..at], &good[at + 1..]);
        assert!(verify(&tampered, &expect(100), |_| true).is_err());
    }

    #[test]
    fn ath_binds_the_access_token() {
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let ath = b64url(&sha256(b"the-token"));
        let p = proof(
            &key,
            json!({"jti": "j", "htm": "GET", "htu": URL, "iat": 100, "ath": ath}),
            "dpop+jwt",
        );
        let e = Expect {
            method: "GET",
            access_token: Some("the-token"),
            ..expect(100)
        };
        assert!(verify(&p, &e, |_| true).is_ok());
        let other = Expect {
            access_token: Some("another-token"),
            ..e
        };
        assert!(verify(&p, &other, |_| true).is_err());
    }

    #[test]
    fn nonces_last_a_few_minutes_on_every_instance() {
        let a = Sealer::from_secret("a test secret that is long enough");
        let b = Sealer::from_secret("a test secret that is long enough");
        let n = nonce(&a, 1000);
        assert!(nonce_valid(&b, &n, 1000));
        assert!(nonce_valid(&b, &n, 1100));
        assert!(!nonce_valid(&b, &n, 1300));
        assert!(!nonce_valid(
            &Sealer::from_secret("another secret that is long enough"),
            &n,
            1000
        ));
        let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
        let p = proof(
            &key,
            json!({"jti": "j", "htm": "POST", "htu": URL, "iat": 1000}),
            "dpop+jwt",
        );
        let e = Expect {
            require_nonce: true,
            ..expect(1000)
        };
        assert_eq!(
            verify(&p, &e, |x| nonce_valid(&a, x, 1000)),
            Err(ProofError::UseNonce)
        );
    }

    #[test]
    fn private_keys_are_refused() {
        assert!(
            thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}))
                .is_err()
        );
        assert!(thumbprint(&json!({"kty": "oct", "k": "c"})).is_err());
    }
}

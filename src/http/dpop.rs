//! DPoP proofs at gatehouse's endpoints (RFC 9449): checked against the issuer-derived
//! URL of the endpoint, the server's nonce and the replay store.

use super::context::RequestContext;
use super::Data;
use crate::oauth::dpop::{self, Expect, ProofError};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::store::StoreError;

/// Why a proof was not accepted.
#[derive(Debug)]
pub enum Refused {
    Proof(ProofError),
    /// The proof's `jti` was seen before.
    Replayed,
    Store(StoreError),
}

impl Refused {
    /// The token endpoint's error (RFC 9449 §5): `invalid_dpop_proof` or `use_dpop_nonce`.
    pub fn for_token_endpoint(self) -> OAuthError {
        match self {
            Refused::Proof(ProofError::UseNonce) => OAuthError::new(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            ),
            Refused::Proof(ProofError::Invalid(m)) => {
                OAuthError::new(ErrorCode::InvalidDpopProof, m)
            }
            Refused::Replayed => OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used",
            ),
            Refused::Store(e) => e.into(),
        }
    }
}

/// The thumbprint of the key the request's proof shows, when it carries one that fits
/// `method` and `url` (and `access_token`, at a protected resource).
pub async fn check(
    services: &Data,
    ctx: &RequestContext,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, Refused> {
    let Some(proof) = ctx.dpop.as_deref() else {
        return Ok(None);
    };
    let expect = Expect {
        method,
        url,
        access_token,
        now: ctx.now,
        require_nonce: services.settings.outbound.dpop_nonce,
    };
    let sealer = services.sealer.clone();
    let checked = dpop::verify(proof, &expect, |n| dpop::nonce_valid(&sealer, n, ctx.now))
        .map_err(Refused::Proof)?;
    let (key, until) = (checked.replay_key.clone(), checked.remember_until);
    let fresh = services
        .db
        .run(move |c| c.use_assertion(&key, until))
        .await
        .map_err(Refused::Store)?;
    if !fresh {
        return Err(Refused::Replayed);
    }
    Ok(Some(checked.jkt))
}

/// The nonce to send in `DPoP-Nonce` now.
pub fn nonce(services: &Data, now: i64) -> String {
    dpop::nonce(&services.sealer, now)
}

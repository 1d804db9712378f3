//! Bearer tokens at protected resources (RFC 6750): reading the token, checking it is
//! one of ours, unexpired and not revoked.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::errors::Failure;
use super::Data;
use crate::db::unix_now;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::tokens::{verify_access_token, AccessClaims};

/// The token from `Authorization: Bearer …`, or from a form body's `access_token` when
/// `form` is given (RFC 6750 §2.2). Using both is an error.
pub fn read_token(req: &HttpRequest, form: Option<&Params>) -> Result<String, Failure> {
    let header_token = match req.headers().get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().unwrap_or("");
            match v.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Some(token.trim().to_string())
                }
                _ => {
                    return Err(Failure::Bearer(OAuthError::invalid_request(
                        "use the Bearer scheme",
                    )))
                }
            }
        }
        None => None,
    };
    let body_token = form.and_then(|f| f.get("access_token")).map(str::to_string);
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(Failure::Bearer(OAuthError::invalid_request(
            "send the token only once",
        ))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(Failure::BearerMissing),
    }
}

/// An access token as the request presented it: with the `Bearer` scheme (or in the
/// form), or with the `DPoP` scheme (RFC 9449 §7.1).
#[derive(Debug)]
pub struct Presented {
    pub token: String,
    pub dpop: bool,
}

/// The access token of a request to a protected resource, `Bearer` or `DPoP`.
pub fn read_access_token(req: &HttpRequest, form: Option<&Params>) -> Result<Presented, Failure> {
    let dpop = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("dpop") && !t.trim().is_empty())
        .map(|(_, t)| t.trim().to_string());
    if let Some(token) = dpop {
        if form.is_some_and(|f| f.get("access_token").is_some()) {
            return Err(Failure::Bearer(OAuthError::invalid_request(
                "send the token only once",
            )));
        }
        return Ok(Presented { token, dpop: true });
    }
    Ok(Presented {
        token: read_token(req, form)?,
        dpop: false,
    })
}

fn dpop_refusal(error: OAuthError) -> Failure {
    Failure::Dpop { error, nonce: None }
}

/// Verifies a presented access token at `path` (one of gatehouse's endpoints): as
/// [`verify`], and a DPoP-bound token only with the `DPoP` scheme and a proof of its key
/// for this request; a plain Bearer token never with the `DPoP` scheme.
pub async fn verify_presented(
    services: &Data,
    req: &HttpRequest,
    presented: &Presented,
    path: &str,
) -> Result<AccessClaims, Failure> {
    let claims = verify(services, &presented.token)
        .await
        .map_err(|e| match presented.dpop {
            true => dpop_refusal(e),
            false => Failure::Bearer(e),
        })?;
    let bound = claims.cnf.as_ref().map(|c| c.jkt.clone());
    match (bound, presented.dpop) {
        (None, false) => Ok(claims),
        (Some(_), false) => Err(Failure::Bearer(OAuthError::invalid_token(
            "this access token is bound to a DPoP key: send it with the DPoP scheme and a proof",
        ))),
        (None, true) => Err(dpop_refusal(OAuthError::invalid_token(
            "this access token is not DPoP-bound: send it with the Bearer scheme",
        ))),
        (Some(jkt), true) => {
            check_key(services, req, &presented.token, path, &jkt).await?;
            Ok(claims)
        }
    }
}

/// The request's proof must be of the key `jkt`, for this method and URL and token.
async fn check_key(
    services: &Data,
    req: &HttpRequest,
    token: &str,
    path: &str,
    jkt: &str,
) -> Result<(), Failure> {
    use super::dpop::Refused;
    use crate::oauth::dpop::ProofError;
    let ctx = super::context(services, req);
    let url = services.settings.url(path);
    let proof = super::dpop::check(services, &ctx, req.method().as_str(), &url, Some(token)).await;
    let invalid_proof = |m: &str| dpop_refusal(OAuthError::new(ErrorCode::InvalidDpopProof, m));
    match proof {
        Ok(Some(k)) if k == jkt => Ok(()),
        Ok(Some(_)) => Err(invalid_proof(
            "the DPoP proof is of another key than the token's",
        )),
        Ok(None) => Err(invalid_proof(
            "a DPoP proof is required with the DPoP scheme",
        )),
        Err(Refused::Proof(ProofError::UseNonce)) => Err(Failure::Dpop {
            error: OAuthError::new(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the server's nonce",
            ),
            nonce: Some(super::dpop::nonce(services, ctx.now)),
        }),
        Err(Refused::Store(e)) => Err(Failure::Json(e.into())),
        Err(other) => Err(dpop_refusal(other.for_token_endpoint())),
    }
}

/// Verifies an access token for gatehouse's own endpoints: issued by this server, for
/// this server (`aud` is the issuer, RFC 9068 §4), unexpired and not revoked.
pub async fn verify(services: &Data, token: &str) -> Result<AccessClaims, OAuthError> {
    let keys = services.keys.current();
    let issuer = &services.settings.issuer;
    let claims = verify_access_token(&keys, token, issuer, unix_now())?;
    if !claims.aud.is_only(issuer) {
        return Err(OAuthError::invalid_token(
            "the access token is not meant for this server",
        ));
    }
    // The client it was issued to must still exist, and its secret, method or scopes
    // must not have changed since.
    let client = services.client(&claims.client_id).await?;
    if client.is_none_or(|c| claims.iat < c.tokens_valid_after) {
        return Err(OAuthError::invalid_token(
            "the client of this access token is gone or has changed",
        ));
    }
    let checked = claims.clone();
    if services
        .db
        .run(move |c| crate::oauth::store::is_revoked(c, &checked))
        .await?
    {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    Ok(claims)
}

/// A valid token carrying `scope`; 401 without a valid token, 403 without the scope.
pub async fn require_scope(
    services: &Data,
    req: &HttpRequest,
    scope: &str,
) -> Result<AccessClaims, Failure> {
    let presented = read_access_token(req, None)?;
    let claims = verify_presented(services, req, &presented, req.path()).await?;
    if !claims.scopes().contains(scope) {
        let error = OAuthError::new(
            ErrorCode::InsufficientScope,
            format!("the token lacks the '{scope}' scope"),
        );
        return Err(match presented.dpop {
            true => dpop_refusal(error),
            false => Failure::Bearer(error),
        });
    }
    Ok(claims)
}

//! The tokens a person's grant hands out, whichever grant it came through (an
//! authorization code, an approved device request): an access token for the granted
//! resources, an ID token for an OpenID request, and a refresh token that starts a
//! family.

use super::issue::{Family, Subject};
use super::{refresh_token, Answer, Issuer};
use crate::domain::{Client, Scopes};
use crate::oauth::error::OAuthError;
use crate::oauth::store::Store;
use crate::oauth::store::StoreResult;

/// What was granted, and to whom.
pub(super) struct UserGrant<'a> {
    pub subject: Subject<'a>,
    /// Scopes as granted; those the client has since lost (or of a resource no longer
    /// registered) are left out.
    pub scopes: &'a Scopes,
    /// The resources granted, and those the token request narrows them to.
    pub granted: &'a [String],
    pub requested: &'a [String],
    pub nonce: Option<String>,
    /// The refresh-token family the grant starts.
    pub family_id: &'a str,
}

/// Whether a grant of `scopes` gets a refresh token (for a client allowed the refresh
/// grant). An OpenID request asks for one with `offline_access` (OIDC Core §11); a plain
/// OAuth request, such as an MCP client's for a resource's own scopes, always gets one.
pub(super) fn wants_refresh(scopes: &Scopes) -> bool {
    scopes.contains("offline_access") || !scopes.contains("openid")
}

/// The tokens of `grant`, and the access token's `jti` and expiry (a code remembers them,
/// so a replay can revoke the token).
pub(super) fn issue(
    issuer: &Issuer,
    client: &Client,
    store: &mut dyn Store,
    grant: UserGrant,
) -> StoreResult<Result<(super::TokenResponse, String, i64), OAuthError>> {
    let scopes = grant
        .scopes
        .intersection(&issuer.grantable(client, grant.granted));
    let subject = &grant.subject;
    let minted = (|| {
        let aud = issuer.audience(client, grant.requested, grant.granted)?;
        let access = issuer.access_token(client, aud, &scopes, Some(subject))?;
        let id_token = match scopes.contains("openid") {
            true => Some(issuer.id_token(client, subject, grant.nonce.clone(), &access.token)?),
            false => None,
        };
        Ok::<_, OAuthError>((access, id_token))
    })();
    let (access, id_token) = match minted {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let refresh = if wants_refresh(&scopes) && client.allows_grant(refresh_token::ID) {
        let family = Family {
            id: grant.family_id,
            expires_at: None,
            resources: grant.granted,
            // A public client's refresh token is bound to its DPoP key (RFC 9449 §5).
            dpop_jkt: issuer.dpop_jkt.filter(|_| client.is_public()),
        };
        let (token, rec) = issuer.refresh_token(client, &family, subject, &scopes, &access.claims);
        store.insert_refresh(&rec)?;
        Some(token)
    } else {
        None
    };
    let (jti, exp) = (access.claims.jti.clone(), access.claims.exp);
    let answer: Answer = Ok(issuer.response(access, id_token, refresh));
    Ok(answer.map(|r| (r, jti, exp)))
}

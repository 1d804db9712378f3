//! Request objects (RFC 9101) at `/authorize` and `/par`: the `request` parameter, a JWT
//! signed with the client's keys (inline, or fetched from its `jwks_uri`), replaced by
//! the parameters it carries.

use super::Data;
use crate::domain::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::jar;
use crate::oauth::params::Params;

/// The request's parameters: those of its request object when it has one.
pub async fn expand(
    services: &Data,
    params: Params,
    client: &Client,
) -> Result<Params, OAuthError> {
    let Some(jwt) = params.get("request") else {
        return Ok(params);
    };
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "send request or request_uri, not both",
        ));
    }
    let kid = jsonwebtoken::decode_header(jwt).ok().and_then(|h| h.kid);
    let client = services
        .with_client_keys(std::sync::Arc::new(client.clone()), kid.as_deref())
        .await
        .map_err(|e| {
            OAuthError::new(
                ErrorCode::InvalidRequestObject,
                format!("the client's keys cannot be fetched: {e}"),
            )
        })?;
    let claims = jar::claims(
        jwt,
        &client,
        &services.settings.issuer,
        crate::db::unix_now(),
    )?;
    jar::to_params(&claims, &client.client_id)
}

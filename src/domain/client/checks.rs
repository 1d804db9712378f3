//! Checks of the client metadata that concern keys and security profiles: `jwks_uri`,
//! `request_uris`, `request_object_signing_alg` and `security_profile`.

use super::{meta_err, AuthMethod, MetadataError};

/// The one security profile: the FAPI 2.0 Security Profile. A client under it must push
/// its authorization requests, use DPoP-bound tokens and `private_key_jwt`; its codes
/// live at most 60 seconds and its refresh tokens have no grace window. PKCE S256 and
/// `iss` in authorization responses hold for every client.
pub const FAPI2: &str = "fapi2";

pub(super) fn security_profile(
    profile: Option<&str>,
    method: AuthMethod,
) -> Result<bool, MetadataError> {
    match profile.filter(|p| !p.is_empty()) {
        None => Ok(false),
        Some(FAPI2) if method == AuthMethod::PrivateKeyJwt => Ok(true),
        Some(FAPI2) => Err(meta_err(
            "token_endpoint_auth_method",
            "the fapi2 profile needs private_key_jwt",
        )),
        Some(other) => Err(meta_err(
            "security_profile",
            format!("'{other}' is not a profile (only fapi2)"),
        )),
    }
}

/// `request_object_signing_alg`: one of the accepted algorithms, or `none` (never for a
/// FAPI 2.0 client).
pub(super) fn request_object_alg(
    alg: Option<String>,
    fapi2: bool,
) -> Result<Option<String>, MetadataError> {
    let field = "request_object_signing_alg";
    match alg.filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) if a == "none" && fapi2 => {
            Err(meta_err(field, "a fapi2 client signs its requests"))
        }
        Some(a) if a == "none" || crate::keys::client_algorithm(&a).is_some() => Ok(Some(a)),
        Some(a) => Err(meta_err(
            field,
            format!("'{a}' is not ES256, EdDSA, RS256, PS256 or none"),
        )),
    }
}

/// A `jwks_uri`: an https URL without a fragment, or http on a loopback host (which
/// the fetcher reaches only when the operator allows it, for development).
pub(super) fn keys_url(raw: Option<String>) -> Result<Option<String>, MetadataError> {
    let Some(raw) = raw.filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(&raw) {
        Ok(u)
            if u.fragment().is_none()
                && u.host_str().is_some()
                && (u.scheme() == "https"
                    || (u.scheme() == "http"
                        && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")))) =>
        {
            Ok(Some(raw))
        }
        _ => Err(meta_err(
            "jwks_uri",
            format!("'{raw}' is not an https URL without a fragment"),
        )),
    }
}

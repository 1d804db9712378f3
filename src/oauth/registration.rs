//! Client metadata in the JSON of RFC 7591 (dynamic registration) and RFC 7592
//! (management): parsing and checking it onto [`ClientSpec`], and a stored client back to
//! JSON. The same shapes serve the admin API, which adds a few operator-only settings.

pub mod open;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ErrorCode, OAuthError};
use crate::crypto::verify_secret;
use crate::domain::client::{AuthMethod, ClientSpec, MetadataError, NewClient, OpenIdSpec};
use crate::domain::scopes::ADMIN_SCOPE;
use crate::domain::Client;

/// A JSON body parsed into `T`, or why not. `field` names the member at fault when one
/// can be singled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Parses a JSON object into `T`. serde's messages for a value of the wrong type do not
/// name the member, so on failure each member is tried on its own to find the culprit.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| JsonError {
        field: None,
        message: format!("the body is not JSON: {e}"),
    })?;
    let Value::Object(map) = &value else {
        return Err(JsonError {
            field: None,
            message: "the body must be a JSON object".into(),
        });
    };
    match serde_json::from_value::<T>(value.clone()) {
        Ok(t) => Ok(t),
        Err(whole) => {
            for (k, v) in map {
                let single = Value::Object([(k.clone(), v.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<T>(single) {
                    // A lone member also lacks the required others; that is not its fault.
                    if !e.to_string().starts_with("missing field") {
                        return Err(JsonError {
                            field: Some(k.clone()),
                            message: e.to_string(),
                        });
                    }
                }
            }
            let message = whole.to_string();
            // serde's "missing field `name`" names it, in its own words.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            Err(match missing {
                Some(field) => JsonError {
                    field: Some(field.to_string()),
                    message: "is required".into(),
                },
                None => JsonError {
                    field: None,
                    message,
                },
            })
        }
    }
}

/// RFC 7591 §2 client metadata as a registration (or RFC 7592 update) request carries
/// it. Members gatehouse does not know are ignored, as RFC 7591 §2 asks.
#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct ClientMetadataRequest {
    /// Absolute; no fragment; https, except loopback http and private-use schemes.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `client_credentials`, `refresh_token`. Default: the code flow
    /// with refresh tokens when there are redirect URIs, else `client_credentials`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// `["code"]` exactly when `grant_types` has `authorization_code`.
    pub response_types: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` or `none`
    /// (a public client).
    pub token_endpoint_auth_method: Option<String>,
    /// The client's public keys, required for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys, instead of `jwks`; fetched over https
    /// and cached, and fetched again when an assertion names an unknown `kid`.
    pub jwks_uri: Option<String>,
    /// Every token request of the client must carry a DPoP proof (RFC 9449 §5.2).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests must be pushed first (RFC 9126 §6).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// `fapi2`: the FAPI 2.0 Security Profile (PAR, DPoP and private_key_jwt required).
    pub security_profile: Option<String>,
    /// ES256, EdDSA, RS256, PS256, or `none` to send unsigned request objects.
    pub request_object_signing_alg: Option<String>,
    /// https URLs from which request objects may be fetched (`request_uri`).
    #[serde(default)]
    pub request_uris: Vec<String>,
    /// `RS256`, `ES256` or `EdDSA`: UserInfo answers as a signed JWT.
    pub userinfo_signed_response_alg: Option<String>,
    /// `public` (default) or `pairwise`: a `sub` of the client's own sector (OIDC Core §8).
    pub subject_type: Option<String>,
    /// An https URL of a JSON array holding every redirect URI of the client's sector;
    /// fetched and checked at registration.
    pub sector_identifier_uri: Option<String>,
    /// Where logout tokens are POSTed (OpenID Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens carry `sid`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Where the logout page points an iframe (OpenID Front-Channel Logout 1.0).
    pub frontchannel_logout_uri: Option<String>,
    /// The iframe URL carries `iss` and `sid`.
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// Gatehouse's own: the client's users must sign in with a second factor.
    #[serde(default)]
    pub require_mfa: bool,
    /// Space-separated scopes the client may request.
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
    /// `RS256`, `ES256` or `EdDSA`; never `none`.
    pub id_token_signed_response_alg: Option<String>,
    /// RFC 7592 updates only: must be the client's own id.
    pub client_id: Option<String>,
    /// RFC 7592 updates only: if present, must be the client's current secret.
    pub client_secret: Option<String>,
}

/// Settings only an operator may make, never the client itself through RFC 7592.
#[derive(Debug, Clone, Default)]
pub struct OperatorSettings {
    pub skip_consent: bool,
    pub audience: Option<String>,
    pub access_token_alg: Option<String>,
}

impl OperatorSettings {
    /// A client's current settings, kept across its own RFC 7592 updates.
    pub fn of(c: &Client) -> Self {
        OperatorSettings {
            skip_consent: c.skip_consent,
            audience: c.audience.clone(),
            access_token_alg: c.access_token_alg.map(|a| a.as_str().to_string()),
        }
    }
}

fn refuse(field: &'static str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        field,
        message: message.into(),
        redirect: false,
    }
}

impl ClientMetadataRequest {
    /// Checks the metadata and turns it into a client to store. `fallback_name` names a
    /// client that gave no `client_name` (RFC 7591 makes it optional).
    /// `allow_admin_scope` is false for dynamic registration: `gatehouse:admin` is only
    /// ever granted by an administrator.
    pub fn validate(
        self,
        fallback_name: &str,
        operator: OperatorSettings,
        allow_admin_scope: bool,
    ) -> Result<NewClient, MetadataError> {
        if self
            .id_token_signed_response_alg
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("none"))
        {
            return Err(refuse(
                "id_token_signed_response_alg",
                "unsigned ID tokens ('none') are not issued",
            ));
        }
        if let Some(r) = self
            .response_types
            .iter()
            .flatten()
            .find(|r| r.as_str() != "code")
        {
            return Err(refuse(
                "response_types",
                format!("'{r}' is not supported (only 'code')"),
            ));
        }
        let response_types = self.response_types;
        let spec = ClientSpec {
            name: self
                .client_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| fallback_name.to_string()),
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scopes: self.scope.into_iter().collect(),
            public: false,
            auth_method: self.token_endpoint_auth_method,
            skip_consent: operator.skip_consent,
            jwks: self.jwks,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound_access_tokens,
            require_par: self.require_pushed_authorization_requests,
            security_profile: self.security_profile,
            request_object_alg: self.request_object_signing_alg,
            request_uris: self.request_uris,
            userinfo_alg: self.userinfo_signed_response_alg,
            openid: OpenIdSpec {
                subject_type: self.subject_type,
                sector_identifier_uri: self.sector_identifier_uri,
                backchannel_logout_uri: self.backchannel_logout_uri,
                backchannel_logout_session_required: self.backchannel_logout_session_required,
                frontchannel_logout_uri: self.frontchannel_logout_uri,
                frontchannel_logout_session_required: self.frontchannel_logout_session_required,
                require_mfa: self.require_mfa,
            },
            id_token_alg: self.id_token_signed_response_alg,
            access_token_alg: operator.access_token_alg,
            audience: operator.audience,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            contacts: self.contacts,
        };
        let new = spec.validate(allow_admin_scope)?;
        if let Some(types) = response_types {
            let code = new
                .grant_types
                .contains(&crate::oauth::grants::authorization_code::ID);
            if code != types.iter().any(|t| t == "code") {
                return Err(refuse(
                    "response_types",
                    "must be [\"code\"] exactly when grant_types has authorization_code",
                ));
            }
        }
        Ok(new)
    }
}

/// RFC 7591 §3.2.2: a redirect URI field is `invalid_redirect_uri`, anything else
/// `invalid_client_metadata`; the description names the field.
impl From<MetadataError> for OAuthError {
    fn from(e: MetadataError) -> Self {
        let code = if e.redirect {
            ErrorCode::InvalidRedirectUri
        } else {
            ErrorCode::InvalidClientMetadata
        };
        OAuthError::new(code, e.to_string())
    }
}

/// Whether an RFC 7592 update may keep `gatehouse:admin`: only a client that already has
/// it (from an administrator); registration never adds it.
pub fn update_may_keep_admin_scope(existing: &Client) -> bool {
    existing.scopes.contains(ADMIN_SCOPE)
}

/// RFC 7592 §2.2: the body names the client itself, and a secret in it is the current one.
pub fn check_update_identity(
    req: &ClientMetadataRequest,
    existing: &Client,
) -> Result<(), MetadataError> {
    if req.client_id.as_deref() != Some(existing.client_id.as_str()) {
        return Err(refuse("client_id", "must be the client's own client_id"));
    }
    if let Some(presented) = &req.client_secret {
        let matches = existing
            .secret_hash
            .as_deref()
            .is_some_and(|h| verify_secret(presented, h));
        if !matches {
            return Err(refuse(
                "client_secret",
                "is not the client's current secret",
            ));
        }
    }
    Ok(())
}

/// What a replacement of a client's metadata does to its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretChange {
    /// The method still uses the secret the client has.
    Keep,
    /// The method uses none: drop the stored hash.
    Clear,
    /// The method needs a secret the client lacks: issue one (shown once).
    Issue,
}

pub fn secret_change(has_secret: bool, method: AuthMethod) -> SecretChange {
    match (method.uses_secret(), has_secret) {
        (true, true) => SecretChange::Keep,
        (true, false) => SecretChange::Issue,
        (false, _) => SecretChange::Clear,
    }
}

fn public() -> String {
    "public".into()
}

/// A stored client's metadata in RFC 7591 names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientMetadata {
    pub client_id: String,
    /// Unix seconds.
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// `public` or `pairwise`.
    #[serde(default = "public")]
    pub subject_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    #[serde(default)]
    pub require_mfa: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
}

impl From<&Client> for ClientMetadata {
    fn from(c: &Client) -> Self {
        let code = c.allows_grant(crate::oauth::grants::authorization_code::ID);
        ClientMetadata {
            client_id: c.client_id.clone(),
            client_id_issued_at: c.created_at,
            client_name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.iter().map(|g| g.as_str().into()).collect(),
            response_types: if code { vec!["code".into()] } else { vec![] },
            token_endpoint_auth_method: c.auth_method.as_str().into(),
            scope: c.scopes.to_string(),
            jwks: c.jwks.clone(),
            jwks_uri: c.jwks_uri.clone(),
            dpop_bound_access_tokens: c.dpop_bound,
            require_pushed_authorization_requests: c.require_par,
            security_profile: c.fapi2.then(|| crate::domain::client::FAPI2.to_string()),
            request_object_signing_alg: c.request_object_alg.clone(),
            request_uris: c.request_uris.clone(),
            userinfo_signed_response_alg: c.userinfo_alg.map(|a| a.as_str().into()),
            subject_type: if c.openid.pairwise {
                "pairwise"
            } else {
                "public"
            }
            .into(),
            sector_identifier_uri: c.openid.sector_identifier_uri.clone(),
            backchannel_logout_uri: c.openid.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: c.openid.backchannel_logout_session_required,
            frontchannel_logout_uri: c.openid.frontchannel_logout_uri.clone(),
            frontchannel_logout_session_required: c.openid.frontchannel_logout_session_required,
            require_mfa: c.openid.require_mfa,
            client_uri: c.client_uri.clone(),
            logo_uri: c.logo_uri.clone(),
            contacts: c.contacts.clone(),
            id_token_signed_response_alg: c.id_token_alg.map(|a| a.as_str().into()),
        }
    }
}

/// A client as an operator sees it: the RFC 7591 metadata and the operator-only settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// First-party: users are never asked for consent.
    pub skip_consent: bool,
    /// Space-separated audiences of the client's access tokens.
    pub audience: Option<String>,
    pub access_token_signed_response_alg: Option<String>,
    /// `operator` or `self_registered` (open registration).
    pub provenance: String,
    /// When the client last obtained a token (Unix seconds, to the hour).
    pub used_at: Option<i64>,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        ClientView {
            metadata: c.into(),
            skip_consent: c.skip_consent,
            audience: c.audience.clone(),
            access_token_signed_response_alg: c.access_token_alg.map(|a| a.as_str().into()),
            provenance: c.provenance.as_str().into(),
            used_at: c.used_at,
            updated_at: c.updated_at,
        }
    }
}

/// The RFC 7591 §3.2.1 / RFC 7592 §3 response: the metadata, the secret when one was just
/// issued (it is shown only then), and where and how the client manages itself. No
/// `Debug`: it holds secrets.
#[derive(Clone, Serialize)]
pub struct RegistrationResponse {
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> ClientMetadataRequest {
        from_json(v.to_string().as_bytes()).unwrap()
    }

    fn check(v: Value) -> Result<NewClient, MetadataError> {
        parse(v).validate("fallback", OperatorSettings::default(), false)
    }

    #[test]
    fn maps_rfc7591_names_and_ignores_unknown_members() {
        let c = check(json!({
            "redirect_uris": ["https://app.example/cb"],
            "client_name": "App",
            "scope": "openid profile",
            "token_endpoint_auth_method": "client_secret_post",
            "contacts": ["ops@app.example"],
            "software_statement_extra": {"ignored": true},
        }))
        .unwrap();
        assert_eq!(c.name, "App");
        assert_eq!(c.auth_method, AuthMethod::ClientSecretPost);
        assert_eq!(c.scopes.to_string(), "openid profile");
        assert_eq!(
            c.grant_types,
            [
                crate::oauth::grants::authorization_code::ID,
                crate::oauth::grants::refresh_token::ID
            ]
        );
        assert!(!c.skip_consent);
        let unnamed = check(json!({"grant_types": ["client_credentials"]})).unwrap();
        assert_eq!(unnamed.name, "fallback");
    }

    #[test]
    fn refusals_name_the_field() {
        let field = |v: Value| check(v).unwrap_err().field;
        assert_eq!(
            field(json!({"jwks_uri": "ftp://app.example/jwks"})),
            "jwks_uri"
        );
        assert_eq!(
            field(json!({"jwks_uri": "https://a.example/k", "jwks": {"keys": []}})),
            "jwks"
        );
        assert_eq!(
            field(
                json!({"grant_types": ["client_credentials"], "id_token_signed_response_alg": "none"})
            ),
            "id_token_signed_response_alg"
        );
        assert_eq!(
            field(json!({"grant_types": ["client_credentials"], "response_types": ["code"]})),
            "response_types"
        );
        assert_eq!(
            field(
                json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": []})
            ),
            "response_types"
        );
        assert_eq!(
            field(json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]})),
            "response_types"
        );
        assert_eq!(
            field(json!({"grant_types": ["client_credentials"], "scope": "gatehouse:admin"})),
            "scope"
        );
        let e = check(json!({"redirect_uris": ["https://a.example/cb#x"]})).unwrap_err();
        assert_eq!(
            OAuthError::from(e).code,
            ErrorCode::InvalidRedirectUri,
            "redirect URI errors have their own code"
        );
    }

    #[test]
    fn operators_may_grant_the_admin_scope() {
        let req = parse(json!({"grant_types": ["client_credentials"], "scope": "gatehouse:admin"}));
        assert!(req
            .validate("x", OperatorSettings::default(), true)
            .unwrap()
            .scopes
            .contains(ADMIN_SCOPE));
    }

    #[test]
    fn json_errors_name_the_member() {
        let e = from_json::<ClientMetadataRequest>(
            br#"{"client_name": "a", "redirect_uris": "https://a.example"}"#,
        )
        .err()
        .unwrap();
        assert_eq!(e.field.as_deref(), Some("redirect_uris"));
        assert!(from_json::<ClientMetadataRequest>(b"[1]")
            .err()
            .unwrap()
            .field
            .is_none());
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
            size: Option<u8>,
        }
        let e = from_json::<Named>(br#"{"size": 3}"#).unwrap_err();
        assert_eq!(e.to_string(), "name: is required");
        let e = from_json::<Named>(br#"{"size": 300}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("size"));
        assert!(from_json::<ClientMetadataRequest>(b"{nope").is_err());
    }

    #[test]
    fn secret_changes_follow_the_method() {
        assert_eq!(
            secret_change(true, AuthMethod::ClientSecretBasic),
            SecretChange::Keep
        );
        assert_eq!(
            secret_change(false, AuthMethod::ClientSecretPost),
            SecretChange::Issue
        );
        assert_eq!(secret_change(true, AuthMethod::None), SecretChange::Clear);
        assert_eq!(
            secret_change(true, AuthMethod::PrivateKeyJwt),
            SecretChange::Clear
        );
    }
}

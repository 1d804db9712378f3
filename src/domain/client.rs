use serde::{Deserialize, Serialize};

use super::scopes::{Scopes, STANDARD_SCOPES};
use crate::keys::Alg;
use crate::secret_type;

secret_type!(
    /// A client secret as issued; only its SHA-256 hash is stored.
    ClientSecret
);

/// A client identifier: URL-safe text (RFC 6749 §2.2), so Basic auth needs no encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// 128 random bits, base64url, starting with a letter or digit so that it is never
    /// mistaken for an option on a command line.
    pub fn generate() -> ClientId {
        loop {
            let id = crate::crypto::random_token(16);
            if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return ClientId(id);
            }
        }
    }

    pub fn parse(raw: &str) -> Option<ClientId> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
        ok.then(|| ClientId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A redirect URI accepted for registration: absolute, no fragment, and https unless it
/// is a loopback address or a private-use scheme of a native app (RFC 8252).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<RedirectUri, String> {
        let url =
            url::Url::parse(raw).map_err(|e| format!("'{raw}' is not an absolute URI: {e}"))?;
        if url.fragment().is_some() || raw.contains('#') {
            return Err(format!("'{raw}' must not have a fragment"));
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                if !is_loopback_host(url.host_str().unwrap_or("")) {
                    return Err(format!("'{raw}' must use https (http only for loopback)"));
                }
            }
            // Private-use schemes are reverse domain names (RFC 8252 §7.1).
            s if s.contains('.') => {}
            _ => {
                return Err(format!(
                    "'{raw}' must use https, loopback http, or a private-use scheme"
                ))
            }
        }
        Ok(RedirectUri(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        [
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
            GrantType::RefreshToken,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// A registered client, as stored.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Scopes,
    pub skip_consent: bool,
    pub jwks: Option<serde_json::Value>,
    pub id_token_alg: Option<Alg>,
    pub access_token_alg: Option<Alg>,
    pub audience: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
    pub registration_token_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// Validated metadata for a client to be created (or to replace an existing one).
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Scopes,
    pub skip_consent: bool,
    pub jwks: Option<serde_json::Value>,
    pub id_token_alg: Option<Alg>,
    pub access_token_alg: Option<Alg>,
    pub audience: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
}

/// Raw client metadata as an operator or a registration request gives it.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub auth_method: Option<String>,
    pub skip_consent: bool,
    pub jwks: Option<serde_json::Value>,
    pub id_token_alg: Option<String>,
    pub access_token_alg: Option<String>,
    pub audience: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
}

/// Why client metadata was refused; `field` names the offending metadata field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    pub field: &'static str,
    pub message: String,
    /// True for the redirect URI fields (RFC 7591 `invalid_redirect_uri`).
    pub redirect: bool,
}

impl std::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn meta_err(field: &'static str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        field,
        message: message.into(),
        redirect: field.ends_with("redirect_uris"),
    }
}

impl ClientSpec {
    /// Validates the metadata. `allow_admin_scope` is true only for administrators.
    pub fn validate(self, allow_admin_scope: bool) -> Result<NewClient, MetadataError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(meta_err("client_name", "must have 1 to 200 characters"));
        }
        let parse_uris = |field: &'static str, list: &[String]| {
            list.iter()
                .map(|u| RedirectUri::parse(u).map_err(|m| meta_err(field, m)))
                .collect::<Result<Vec<_>, _>>()
        };
        let redirect_uris = parse_uris("redirect_uris", &self.redirect_uris)?;
        let post_logout_redirect_uris =
            parse_uris("post_logout_redirect_uris", &self.post_logout_redirect_uris)?;

        let auth_method = match (&self.auth_method, self.public) {
            (Some(m), _) => AuthMethod::parse(m).ok_or_else(|| {
                meta_err(
                    "token_endpoint_auth_method",
                    format!("'{m}' is not one of client_secret_basic, client_secret_post, private_key_jwt, none"),
                )
            })?,
            (None, true) => AuthMethod::None,
            (None, false) => AuthMethod::ClientSecretBasic,
        };
        if self.public && auth_method != AuthMethod::None {
            return Err(meta_err(
                "token_endpoint_auth_method",
                "a public client uses 'none'",
            ));
        }

        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let grant = GrantType::parse(g).ok_or_else(|| {
                meta_err(
                    "grant_types",
                    format!(
                        "'{g}' is not one of authorization_code, client_credentials, refresh_token"
                    ),
                )
            })?;
            if !grant_types.contains(&grant) {
                grant_types.push(grant);
            }
        }
        if grant_types.is_empty() {
            grant_types = if redirect_uris.is_empty() {
                vec![GrantType::ClientCredentials]
            } else {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            };
        }
        grant_types.sort();
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(meta_err(
                "redirect_uris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        if grant_types == [GrantType::RefreshToken] {
            return Err(meta_err(
                "grant_types",
                "refresh_token needs another grant that issues refresh tokens",
            ));
        }
        if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(meta_err(
                "grant_types",
                "client_credentials needs a confidential client",
            ));
        }

        let mut scopes = Scopes::default();
        for s in &self.scopes {
            let parsed = Scopes::parse(s)
                .ok_or_else(|| meta_err("scope", format!("'{s}' is not a valid scope")))?;
            for token in parsed.iter() {
                scopes.insert(token);
            }
        }
        if scopes.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
            scopes = Scopes::of(STANDARD_SCOPES);
        }
        if scopes.contains(super::scopes::ADMIN_SCOPE) && !allow_admin_scope {
            return Err(meta_err(
                "scope",
                "gatehouse:admin can only be granted by an administrator",
            ));
        }

        let jwks = match (auth_method, self.jwks) {
            (AuthMethod::PrivateKeyJwt, None) => {
                return Err(meta_err(
                    "jwks",
                    "private_key_jwt needs the client's public keys as a JWKS",
                ))
            }
            (_, Some(jwks)) => Some(validate_jwks(jwks)?),
            (_, None) => None,
        };
        let alg = |field: &'static str, v: Option<String>| -> Result<Option<Alg>, MetadataError> {
            v.map(|s| {
                Alg::parse(&s).ok_or_else(|| {
                    meta_err(field, format!("'{s}' is not one of RS256, ES256, EdDSA"))
                })
            })
            .transpose()
        };
        let id_token_alg = alg("id_token_signed_response_alg", self.id_token_alg)?;
        let access_token_alg = alg("access_token_signed_response_alg", self.access_token_alg)?;
        let https_uri =
            |field: &'static str, v: Option<String>| -> Result<Option<String>, MetadataError> {
                match v {
                    Some(u) => match url::Url::parse(&u) {
                        Ok(p) if p.scheme() == "https" || p.scheme() == "http" => Ok(Some(u)),
                        _ => Err(meta_err(field, format!("'{u}' is not an http(s) URL"))),
                    },
                    None => Ok(None),
                }
            };
        let audience = match self.audience {
            Some(a) if a.trim().is_empty() => None,
            a => a,
        };
        Ok(NewClient {
            name,
            auth_method,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scopes,
            skip_consent: self.skip_consent,
            jwks,
            id_token_alg,
            access_token_alg,
            audience,
            client_uri: https_uri("client_uri", self.client_uri)?,
            logo_uri: https_uri("logo_uri", self.logo_uri)?,
            contacts: self.contacts,
        })
    }
}

/// A JWKS must parse as one and hold at least one key usable for signatures.
fn validate_jwks(jwks: serde_json::Value) -> Result<serde_json::Value, MetadataError> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|e| meta_err("jwks", format!("not a JWK set: {e}")))?;
    if set.keys.is_empty() {
        return Err(meta_err("jwks", "has no keys"));
    }
    for k in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(k)
            .map_err(|e| meta_err("jwks", format!("unusable key: {e}")))?;
    }
    Ok(jwks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ClientSpec {
        ClientSpec {
            name: "App".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..Default::default()
        }
    }

    #[test]
    fn defaults_for_a_web_app() {
        let c = spec().validate(false).unwrap();
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert!(c.scopes.contains("openid"));
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::parse("http://127.0.0.1:9000/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/cb").is_ok());
        assert!(RedirectUri::parse("http://evil.example/cb").is_err());
        assert!(RedirectUri::parse("https://a.example/cb#frag").is_err());
        assert!(RedirectUri::parse("/relative").is_err());
        let mut s = spec();
        s.redirect_uris = vec!["http://evil.example/cb".into()];
        let e = s.validate(false).unwrap_err();
        assert!(e.redirect);
        assert_eq!(e.field, "redirect_uris");
    }

    #[test]
    fn inconsistent_metadata_is_refused() {
        let mut s = spec();
        s.public = true;
        s.grant_types = vec!["client_credentials".into()];
        s.redirect_uris.clear();
        assert_eq!(s.validate(false).unwrap_err().field, "grant_types");
        let mut s = spec();
        s.auth_method = Some("private_key_jwt".into());
        assert_eq!(s.validate(false).unwrap_err().field, "jwks");
        let mut s = spec();
        s.scopes = vec!["gatehouse:admin".into()];
        assert_eq!(s.clone().validate(false).unwrap_err().field, "scope");
        assert!(s.validate(true).is_ok());
    }
}

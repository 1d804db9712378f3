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
                let host = url.host_str().unwrap_or("");
                if host.eq_ignore_ascii_case("localhost") {
                    // RFC 8252 §8.3: `localhost` may resolve to something else.
                    return Err(format!(
                        "'{raw}' must use a loopback address (127.0.0.1 or [::1]), not localhost"
                    ));
                }
                if !is_loopback_host(host) {
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
    matches!(host, "127.0.0.1" | "[::1]")
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

/// Where a client's registration came from; consent pages warn about the last two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Registered by an operator (CLI, admin API or pages, or registration with an
    /// administrator's token).
    #[default]
    Operator,
    /// Registered by anyone through open registration (RFC 7591).
    SelfRegistered,
    /// Not registered at all: described by a client ID metadata document at its
    /// `client_id` URL.
    MetadataDocument,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Operator => "operator",
            Provenance::SelfRegistered => "self_registered",
            Provenance::MetadataDocument => "metadata_document",
        }
    }

    pub fn parse(s: &str) -> Option<Provenance> {
        [
            Provenance::Operator,
            Provenance::SelfRegistered,
            Provenance::MetadataDocument,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// Whether no operator vouched for this client.
    pub fn is_unvetted(self) -> bool {
        self != Provenance::Operator
    }
}

mod ceiling;
mod checks;
mod openid;
pub use ceiling::Ceiling;
pub use checks::FAPI2;
use checks::{keys_url, request_object_alg, security_profile};
pub use openid::{check_sector_document, OpenIdOptions, OpenIdSpec};

pub use crate::oauth::grants::GrantType;
use crate::oauth::grants::{self, authorization_code, client_credentials, refresh_token};

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
    /// Where the client publishes its keys instead (fetched and cached).
    pub jwks_uri: Option<String>,
    pub id_token_alg: Option<Alg>,
    pub access_token_alg: Option<Alg>,
    pub audience: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
    pub provenance: Provenance,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`).
    pub dpop_bound: bool,
    /// Authorization requests must be pushed first (RFC 9126
    /// `require_pushed_authorization_requests`).
    pub require_par: bool,
    /// The FAPI 2.0 Security Profile applies (see [`FAPI2`]).
    pub fapi2: bool,
    /// The algorithm its request objects must use; `none` allows unsigned ones.
    pub request_object_alg: Option<String>,
    /// URLs from which its request objects may be fetched (`request_uri` by reference).
    pub request_uris: Vec<String>,
    /// UserInfo answers as a JWT signed with this algorithm (OpenID Core §5.3.2).
    pub userinfo_alg: Option<Alg>,
    /// Subject type and logout channels.
    pub openid: OpenIdOptions,
    /// When the client last obtained a token (Unix seconds, updated at most hourly); an
    /// unused self-registered client is deleted after a while.
    pub used_at: Option<i64>,
    pub registration_token_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// For a dynamically registered client: what an administrator approved.
    pub ceiling: Option<Ceiling>,
    /// Access tokens issued before this (Unix seconds) no longer count at gatehouse's own
    /// endpoints: the client's secret or method changed, or it lost a scope.
    pub tokens_valid_after: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// The sector of a pairwise client (OIDC Core §8.1); `None` for a public subject.
    pub fn sector(&self) -> Option<String> {
        self.openid.sector(&self.redirect_uris)
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
    pub jwks_uri: Option<String>,
    pub id_token_alg: Option<Alg>,
    pub access_token_alg: Option<Alg>,
    pub audience: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
    pub provenance: Provenance,
    pub dpop_bound: bool,
    pub require_par: bool,
    pub fapi2: bool,
    pub request_object_alg: Option<String>,
    pub request_uris: Vec<String>,
    pub userinfo_alg: Option<Alg>,
    pub openid: OpenIdOptions,
    /// What RFC 7592 updates must stay within; `None` for a client only operators change.
    pub ceiling: Option<Ceiling>,
}

impl NewClient {
    /// The client these metadata describe, as a store keeps it.
    pub fn to_client(
        &self,
        client_id: &str,
        secret_hash: Option<String>,
        registration_token_hash: Option<String>,
        created_at: i64,
        now: i64,
    ) -> Client {
        let uris = |v: &[RedirectUri]| v.iter().map(|u| u.as_str().to_string()).collect();
        Client {
            client_id: client_id.to_string(),
            name: self.name.clone(),
            secret_hash,
            auth_method: self.auth_method,
            redirect_uris: uris(&self.redirect_uris),
            post_logout_redirect_uris: uris(&self.post_logout_redirect_uris),
            grant_types: self.grant_types.clone(),
            scopes: self.scopes.clone(),
            skip_consent: self.skip_consent,
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            provenance: self.provenance,
            dpop_bound: self.dpop_bound,
            require_par: self.require_par,
            fapi2: self.fapi2,
            request_object_alg: self.request_object_alg.clone(),
            request_uris: self.request_uris.clone(),
            userinfo_alg: self.userinfo_alg,
            openid: self.openid.clone(),
            used_at: None,
            id_token_alg: self.id_token_alg,
            access_token_alg: self.access_token_alg,
            audience: self.audience.clone(),
            client_uri: self.client_uri.clone(),
            logo_uri: self.logo_uri.clone(),
            contacts: self.contacts.clone(),
            registration_token_hash,
            created_at,
            updated_at: now,
            ceiling: self.ceiling.clone(),
            tokens_valid_after: 0,
        }
    }
}

impl NewClient {
    /// The client these metadata make of `existing`: its id, creation time, registration
    /// token and token cut-off stay; the secret hash changes only when `secret_hash` is
    /// `Some`.
    pub fn replacing(
        &self,
        existing: Client,
        secret_hash: Option<Option<String>>,
        now: i64,
    ) -> Client {
        let secret = secret_hash.unwrap_or(existing.secret_hash);
        let mut c = self.to_client(
            &existing.client_id,
            secret,
            existing.registration_token_hash,
            existing.created_at,
            now,
        );
        c.tokens_valid_after = existing.tokens_valid_after;
        // Where the registration came from does not change with its metadata.
        c.provenance = existing.provenance;
        c.used_at = existing.used_at;
        c
    }
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
    pub jwks_uri: Option<String>,
    pub dpop_bound: bool,
    pub require_par: bool,
    /// `fapi2`, or none.
    pub security_profile: Option<String>,
    pub request_object_alg: Option<String>,
    pub request_uris: Vec<String>,
    pub userinfo_alg: Option<String>,
    pub openid: OpenIdSpec,
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

        let auth_method = parse_auth_method(self.auth_method.as_deref(), self.public)?;

        let grant_types = parse_grants(&self.grant_types, !redirect_uris.is_empty())?;
        check_grants(&grant_types, auth_method, !redirect_uris.is_empty())?;

        let scopes = parse_scopes(&self.scopes, &grant_types, allow_admin_scope)?;

        let fapi2 = security_profile(self.security_profile.as_deref(), auth_method)?;
        let jwks_uri = keys_url(self.jwks_uri)?;
        let jwks = match (auth_method, self.jwks, &jwks_uri) {
            (_, Some(_), Some(_)) => {
                return Err(meta_err("jwks", "give jwks or jwks_uri, not both"))
            }
            (AuthMethod::PrivateKeyJwt, None, None) => {
                return Err(meta_err(
                    "jwks",
                    "private_key_jwt needs the client's public keys as a JWKS or a jwks_uri",
                ))
            }
            (_, Some(jwks), None) => Some(validate_jwks(jwks)?),
            (_, None, _) => None,
        };
        let id_token_alg = parse_alg("id_token_signed_response_alg", self.id_token_alg)?;
        let access_token_alg =
            parse_alg("access_token_signed_response_alg", self.access_token_alg)?;
        let audience = match self.audience {
            Some(a) if a.trim().is_empty() => None,
            a => a,
        };
        let openid = self.openid.validate(&redirect_uris)?;
        Ok(NewClient {
            name,
            auth_method,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scopes,
            skip_consent: self.skip_consent,
            jwks,
            jwks_uri,
            id_token_alg,
            access_token_alg,
            audience,
            client_uri: http_url("client_uri", self.client_uri)?,
            logo_uri: http_url("logo_uri", self.logo_uri)?,
            contacts: self.contacts,
            provenance: Provenance::Operator,
            dpop_bound: self.dpop_bound || fapi2,
            require_par: self.require_par || fapi2,
            fapi2,
            request_object_alg: request_object_alg(self.request_object_alg, fapi2)?,
            request_uris: self
                .request_uris
                .into_iter()
                .map(|u| keys_url(Some(u)).map(Option::unwrap_or_default))
                .collect::<Result<_, _>>()
                .map_err(|e| meta_err("request_uris", e.message))?,
            userinfo_alg: parse_alg("userinfo_signed_response_alg", self.userinfo_alg)?,
            openid,
            ceiling: None,
        })
    }
}

fn parse_auth_method(method: Option<&str>, public: bool) -> Result<AuthMethod, MetadataError> {
    let field = "token_endpoint_auth_method";
    let method = match (method, public) {
        (Some(m), _) => AuthMethod::parse(m).ok_or_else(|| {
            let all: Vec<_> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
            meta_err(field, format!("'{m}' is not one of {}", all.join(", ")))
        })?,
        (None, true) => AuthMethod::None,
        (None, false) => AuthMethod::ClientSecretBasic,
    };
    if public && method != AuthMethod::None {
        return Err(meta_err(field, "a public client uses 'none'"));
    }
    Ok(method)
}

/// The allowed scopes; the standard ones by default for a client of people.
fn parse_scopes(
    list: &[String],
    grant_types: &[GrantType],
    allow_admin_scope: bool,
) -> Result<Scopes, MetadataError> {
    let mut scopes = Scopes::default();
    for s in list {
        let parsed = Scopes::parse(s)
            .ok_or_else(|| meta_err("scope", format!("'{s}' is not a valid scope")))?;
        for token in parsed.iter() {
            scopes.insert(token);
        }
    }
    if scopes.is_empty() && grant_types.contains(&authorization_code::ID) {
        scopes = Scopes::of(STANDARD_SCOPES);
    }
    if scopes.contains(super::scopes::ADMIN_SCOPE) && !allow_admin_scope {
        return Err(meta_err(
            "scope",
            "gatehouse:admin can only be granted by an administrator",
        ));
    }
    Ok(scopes)
}

fn parse_alg(field: &'static str, v: Option<String>) -> Result<Option<Alg>, MetadataError> {
    v.map(|s| {
        Alg::parse(&s)
            .ok_or_else(|| meta_err(field, format!("'{s}' is not one of RS256, ES256, EdDSA")))
    })
    .transpose()
}

fn http_url(field: &'static str, v: Option<String>) -> Result<Option<String>, MetadataError> {
    match v {
        Some(u) => match url::Url::parse(&u) {
            Ok(p) if p.scheme() == "https" || p.scheme() == "http" => Ok(Some(u)),
            _ => Err(meta_err(field, format!("'{u}' is not an http(s) URL"))),
        },
        None => Ok(None),
    }
}

/// The named grants, de-duplicated and sorted; by default the authorization code and
/// refresh grants for a client with redirect URIs, else client credentials.
fn parse_grants(names: &[String], has_redirects: bool) -> Result<Vec<GrantType>, MetadataError> {
    let mut grant_types = Vec::new();
    for g in names {
        let grant = GrantType::parse(g).ok_or_else(|| {
            meta_err(
                "grant_types",
                format!("'{g}' is not one of {}", grants::names()),
            )
        })?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    if grant_types.is_empty() {
        grant_types = if has_redirects {
            vec![authorization_code::ID, refresh_token::ID]
        } else {
            vec![client_credentials::ID]
        };
    }
    grant_types.sort();
    Ok(grant_types)
}

/// Each grant's own rules, from its profile in the registry.
fn check_grants(
    grant_types: &[GrantType],
    auth_method: AuthMethod,
    has_redirects: bool,
) -> Result<(), MetadataError> {
    for g in grant_types {
        let profile = g.profile();
        if profile.needs_redirect_uri && !has_redirects {
            return Err(meta_err(
                "redirect_uris",
                format!("the {g} grant needs at least one redirect URI"),
            ));
        }
        if profile.confidential_only && auth_method == AuthMethod::None {
            return Err(meta_err(
                "grant_types",
                format!("{g} needs a confidential client"),
            ));
        }
    }
    if grant_types.iter().all(|g| !g.profile().standalone) {
        let g = grant_types.first().copied().unwrap_or(refresh_token::ID);
        return Err(meta_err(
            "grant_types",
            format!("{g} needs another grant that issues refresh tokens"),
        ));
    }
    Ok(())
}

/// Members that only a private or symmetric key has: never accepted, stored or echoed.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// A JWKS must parse as one and hold at least one key usable for signatures, all of them
/// public: no symmetric (`oct`) key and no private member.
fn validate_jwks(jwks: serde_json::Value) -> Result<serde_json::Value, MetadataError> {
    let keys = jwks.get("keys").and_then(|k| k.as_array());
    for key in keys.into_iter().flatten() {
        if key.get("kty").and_then(|k| k.as_str()) == Some("oct") {
            return Err(meta_err("jwks", "symmetric (oct) keys are not accepted"));
        }
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(meta_err(
                "jwks",
                format!("a key has the private member '{m}'; register public keys only"),
            ));
        }
    }
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
            vec![authorization_code::ID, refresh_token::ID]
        );
        assert!(c.scopes.contains("openid"));
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::parse("http://127.0.0.1:9000/cb").is_ok());
        assert!(RedirectUri::parse("http://[::1]:9000/cb").is_ok());
        let e = RedirectUri::parse("http://localhost:9000/cb").unwrap_err();
        assert!(e.contains("not localhost"), "{e}");
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
    fn client_keys_must_be_public() {
        let mut s = spec();
        s.auth_method = Some("private_key_jwt".into());
        s.jwks = Some(serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
        let e = s.clone().validate(false).unwrap_err();
        assert!(e.message.contains("oct"), "{e}");
        let (key, _) = crate::keys::SigningKey::generate(Alg::ES256).unwrap();
        let mut jwk = key.public_jwk();
        s.jwks = Some(serde_json::json!({ "keys": [jwk.clone()] }));
        assert!(s.clone().validate(false).is_ok(), "a public key");
        jwk["d"] = serde_json::json!("cHJpdmF0ZQ");
        s.jwks = Some(serde_json::json!({ "keys": [jwk] }));
        let e = s.validate(false).unwrap_err();
        assert!(e.message.contains("'d'"), "{e}");
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

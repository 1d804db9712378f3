//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client
//! whose `client_id` is an https URL publishes its metadata there. Gatehouse fetches the
//! document (see `fetch`), and this module decides whether it describes a usable client:
//! the document names itself, has no shared secret, and stays within what the operator
//! lets unregistered clients hold.

use serde::Deserialize;

use crate::domain::client::{AuthMethod, ClientSpec, Provenance};
use crate::domain::{Client, Scopes};

/// The most a document may be (the draft suggests 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// Whether `client_id` is meant as a metadata document URL (rather than an id gatehouse
/// issued, which never contains `:`).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Checks the URL itself: https with a path, no fragment, credentials or dot segments.
pub fn check_url(client_id: &str, allow_http_loopback: bool) -> Result<(), String> {
    let url = url::Url::parse(client_id)
        .map_err(|_| format!("the client_id '{client_id}' is not a URL"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if url.scheme() != "https" && !(allow_http_loopback && loopback && url.scheme() == "http") {
        return Err("a client_id URL must use https".into());
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err("a client_id URL must have a path".into());
    }
    if client_id.contains('#') || !url.username().is_empty() || url.password().is_some() {
        return Err("a client_id URL must have no fragment and no credentials".into());
    }
    if client_id.split('/').any(|seg| seg == "." || seg == "..") || url.as_str() != client_id {
        return Err("a client_id URL must be in its normal form, without dot segments".into());
    }
    Ok(())
}

/// A document's members that gatehouse uses.
#[derive(Deserialize)]
struct Document {
    client_id: String,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    response_types: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    scope: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    #[serde(default)]
    contacts: Vec<String>,
    client_secret: Option<serde_json::Value>,
    client_secret_expires_at: Option<serde_json::Value>,
}

/// The client a fetched document describes, or why it cannot be used. `cap` is what the
/// operator lets unregistered clients hold.
pub fn parse(url: &str, body: &[u8], cap: &Scopes, now: i64) -> Result<Client, String> {
    let doc: Document = serde_json::from_slice(body)
        .map_err(|e| format!("the client metadata document is not valid JSON metadata: {e}"))?;
    if doc.client_id != url {
        return Err(format!(
            "the document's client_id '{}' is not its own URL",
            doc.client_id
        ));
    }
    if doc.client_secret.is_some() || doc.client_secret_expires_at.is_some() {
        return Err("a client metadata document must not contain a client secret".into());
    }
    if doc.redirect_uris.is_empty() {
        return Err("the document lists no redirect_uris".into());
    }
    let method = doc.token_endpoint_auth_method.as_deref().unwrap_or("none");
    if !matches!(method, "none" | "private_key_jwt") {
        return Err(format!(
            "token_endpoint_auth_method '{method}' needs a shared secret, which a metadata document cannot have"
        ));
    }
    if doc.response_types.as_ref().is_some_and(|r| r != &["code"]) {
        return Err("response_types must be [\"code\"]".into());
    }
    let grant_types = if doc.grant_types.is_empty() {
        vec![
            "authorization_code".to_string(),
            "refresh_token".to_string(),
        ]
    } else {
        doc.grant_types
    };
    if let Some(g) = grant_types
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(format!(
            "the grant type '{g}' is not open to unregistered clients"
        ));
    }
    let asked = match &doc.scope {
        Some(s) => Scopes::parse(s).ok_or("the document's scope is malformed")?,
        None => cap.clone(),
    };
    let spec = ClientSpec {
        name: doc.client_name.unwrap_or_else(|| host_of(url)),
        redirect_uris: doc.redirect_uris,
        post_logout_redirect_uris: doc.post_logout_redirect_uris,
        grant_types,
        scopes: vec![asked.intersection(cap).to_string()],
        public: method == "none",
        auth_method: Some(method.to_string()),
        jwks: doc.jwks,
        jwks_uri: doc.jwks_uri,
        client_uri: doc.client_uri,
        logo_uri: doc.logo_uri,
        contacts: doc.contacts,
        ..Default::default()
    };
    let mut new = spec
        .validate(false)
        .map_err(|e| format!("the document's {e}"))?;
    new.provenance = Provenance::MetadataDocument;
    new.skip_consent = false;
    debug_assert!(matches!(
        new.auth_method,
        AuthMethod::None | AuthMethod::PrivateKeyJwt
    ));
    Ok(new.to_client(url, None, None, now, now))
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://app.example/client.json";

    fn cap() -> Scopes {
        Scopes::parse("openid profile offline_access").unwrap()
    }

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut d = json!({
            "client_id": URL,
            "client_name": "Agent",
            "redirect_uris": ["http://127.0.0.1:3000/callback"],
        });
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        serde_json::to_vec(&d).unwrap()
    }

    #[test]
    fn a_plain_document_is_a_public_client_within_the_cap() {
        let c = parse(
            URL,
            &doc(json!({"scope": "openid email mcp:tools"})),
            &cap(),
            7,
        )
        .unwrap();
        assert_eq!(c.client_id, URL);
        assert_eq!(c.auth_method, AuthMethod::None);
        assert_eq!(c.provenance, Provenance::MetadataDocument);
        assert_eq!(c.scopes.to_string(), "openid");
        assert!(!c.skip_consent);
        let all = parse(URL, &doc(json!({})), &cap(), 7).unwrap();
        assert_eq!(all.scopes, cap());
    }

    #[test]
    fn documents_that_cannot_be_used() {
        let bad = |extra: serde_json::Value| parse(URL, &doc(extra), &cap(), 7).unwrap_err();
        assert!(bad(json!({"client_id": "https://other.example/c"})).contains("its own URL"));
        assert!(bad(json!({"client_secret": "s"})).contains("secret"));
        assert!(
            bad(json!({"token_endpoint_auth_method": "client_secret_basic"}))
                .contains("shared secret")
        );
        assert!(bad(json!({"grant_types": ["client_credentials"]})).contains("client_credentials"));
        assert!(bad(json!({"redirect_uris": []})).contains("redirect_uris"));
        assert!(bad(json!({"redirect_uris": ["http://evil.example/cb"]})).contains("redirect_uris"));
        assert!(bad(json!({"token_endpoint_auth_method": "private_key_jwt"})).contains("jwks"));
        assert!(parse(URL, b"not json", &cap(), 7).is_err());
    }

    #[test]
    fn urls() {
        assert!(check_url(URL, false).is_ok());
        assert!(check_url("https://app.example/", false).is_err());
        assert!(check_url("https://app.example", false).is_err());
        assert!(check_url("http://app.example/c", false).is_err());
        assert!(check_url("http://127.0.0.1:9/c", false).is_err());
        assert!(check_url("http://127.0.0.1:9/c", true).is_ok());
        assert!(check_url("https://app.example/a/../c", false).is_err());
        assert!(check_url("https://u:p@app.example/c", false).is_err());
        assert!(check_url("https://app.example/c#f", false).is_err());
        assert!(is_document_url(URL));
        assert!(!is_document_url("abc123"));
    }
}

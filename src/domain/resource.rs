//! Protected resources: the APIs (MCP servers among them) gatehouse issues tokens for,
//! named by their RFC 8707 resource identifier and described by RFC 9728 metadata.

use super::scopes::{Scopes, ADMIN_SCOPE};

/// A resource identifier accepted for registration: an https URL (http only on a
/// loopback host, for development) without fragment, query or credentials (RFC 9728 §1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUri(String);

impl ResourceUri {
    pub fn parse(raw: &str) -> Result<ResourceUri, String> {
        let url = url::Url::parse(raw).map_err(|_| format!("'{raw}' is not an absolute URL"))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = matches!(host, "127.0.0.1" | "[::1]" | "localhost");
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(format!("'{raw}' must be an https URL"));
        }
        if host.is_empty() || url.cannot_be_a_base() {
            return Err(format!("'{raw}' has no host"));
        }
        if raw.contains('#') || url.query().is_some() {
            return Err(format!("'{raw}' must have no query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("'{raw}' must not contain credentials"));
        }
        Ok(ResourceUri(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where its RFC 9728 metadata is: the well-known segment goes between the host and
    /// the path (`https://api.example/mcp` → `https://api.example/.well-known/
    /// oauth-protected-resource/mcp`).
    pub fn metadata_url(&self) -> String {
        let url = url::Url::parse(&self.0).expect("parsed when constructed");
        let path = url.path().trim_end_matches('/');
        let origin = url.origin().ascii_serialization();
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    }
}

/// The scopes a resource may hand out: valid scope tokens, never gatehouse's own.
pub fn resource_scopes(list: &[String]) -> Result<Scopes, String> {
    let scopes = Scopes::parse(&list.join(" "))
        .ok_or_else(|| format!("'{}' is not a list of scopes", list.join(" ")))?;
    if let Some(s) = scopes
        .iter()
        .find(|s| s.starts_with("gatehouse:") || *s == ADMIN_SCOPE)
    {
        return Err(format!("'{s}' is reserved for gatehouse itself"));
    }
    Ok(scopes)
}

/// A registered protected resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectedResource {
    pub resource: String,
    pub name: String,
    /// Scopes a client that asks for this resource may be granted.
    pub scopes: Scopes,
    /// Its RFC 9728 metadata as last fetched.
    pub metadata: Option<serde_json::Value>,
    pub fetched_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProtectedResource {
    /// The host a consent page names.
    pub fn host(&self) -> String {
        url::Url::parse(&self.resource)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| self.resource.clone())
    }
}

/// The registered resources, as one request sees them.
#[derive(Debug, Clone, Default)]
pub struct ResourceSet(Vec<ProtectedResource>);

impl ResourceSet {
    pub fn new(list: Vec<ProtectedResource>) -> ResourceSet {
        ResourceSet(list)
    }

    pub fn find(&self, resource: &str) -> Option<&ProtectedResource> {
        self.0.iter().find(|r| r.resource == resource)
    }

    /// The scopes the named resources offer, together.
    pub fn scopes_of(&self, resources: &[String]) -> Scopes {
        let mut all = Scopes::default();
        for r in resources.iter().filter_map(|r| self.find(r)) {
            for s in r.scopes.iter() {
                all.insert(s);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_segment() {
        let r = ResourceUri::parse("https://api.example.com/mcp").unwrap();
        assert_eq!(
            r.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let root = ResourceUri::parse("https://api.example.com/").unwrap();
        assert_eq!(
            root.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        let port = ResourceUri::parse("http://127.0.0.1:9000/a/b/").unwrap();
        assert_eq!(
            port.metadata_url(),
            "http://127.0.0.1:9000/.well-known/oauth-protected-resource/a/b"
        );
    }

    #[test]
    fn identifiers_are_https_without_query_or_fragment() {
        assert!(ResourceUri::parse("http://api.example.com/").is_err());
        assert!(ResourceUri::parse("https://api.example.com/?a=1").is_err());
        assert!(ResourceUri::parse("https://api.example.com/#x").is_err());
        assert!(ResourceUri::parse("urn:x:y").is_err());
        assert!(ResourceUri::parse("http://127.0.0.1:8/mcp").is_ok());
    }

    #[test]
    fn gatehouse_scopes_are_reserved() {
        assert!(resource_scopes(&["mcp:tools".into()]).is_ok());
        assert!(resource_scopes(&["gatehouse:admin".into()]).is_err());
        assert!(resource_scopes(&["bad\"scope".into()]).is_err());
    }
}

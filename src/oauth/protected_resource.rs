//! Protected-resource metadata (RFC 9728), as gatehouse reads it to register a resource:
//! the document must be about the resource it was fetched for (§3.3) and name this
//! issuer among its authorization servers.

use serde::Deserialize;

use crate::domain::resource::resource_scopes;
use crate::domain::Scopes;

/// The most a metadata document may be.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What gatehouse takes from a resource's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceMetadata {
    pub resource: String,
    pub name: Option<String>,
    pub scopes: Scopes,
    /// The document as fetched.
    pub document: serde_json::Value,
}

#[derive(Deserialize)]
struct Document {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
}

/// Reads the metadata fetched for `expected` (the resource identifier).
pub fn parse(body: &[u8], expected: &str, issuer: &str) -> Result<ResourceMetadata, String> {
    let document: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the protected-resource metadata is not JSON: {e}"))?;
    let doc: Document = serde_json::from_value(document.clone())
        .map_err(|e| format!("the protected-resource metadata is malformed: {e}"))?;
    if doc.resource != expected {
        return Err(format!(
            "the metadata is about '{}', not '{expected}' (RFC 9728 §3.3)",
            doc.resource
        ));
    }
    let issuer = issuer.trim_end_matches('/');
    if !doc
        .authorization_servers
        .iter()
        .any(|a| a.trim_end_matches('/') == issuer)
    {
        return Err(format!(
            "the metadata does not name this issuer ({issuer}) in authorization_servers"
        ));
    }
    Ok(ResourceMetadata {
        resource: doc.resource,
        name: doc.resource_name.filter(|n| !n.trim().is_empty()),
        scopes: resource_scopes(&doc.scopes_supported)?,
        document,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const R: &str = "https://mcp.example/mcp";
    const ISS: &str = "https://id.example";

    fn body(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn takes_name_and_scopes() {
        let m = parse(
            &body(json!({"resource": R, "authorization_servers": [ISS], "scopes_supported": ["mcp:tools"], "resource_name": "Tools"})),
            R,
            ISS,
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("Tools"));
        assert_eq!(m.scopes.to_string(), "mcp:tools");
    }

    #[test]
    fn refuses_another_resource_or_issuer() {
        let e = parse(
            &body(json!({"resource": "https://x.example/", "authorization_servers": [ISS]})),
            R,
            ISS,
        );
        assert!(e.unwrap_err().contains("RFC 9728"));
        let e = parse(
            &body(json!({"resource": R, "authorization_servers": ["https://other.example"]})),
            R,
            ISS,
        );
        assert!(e.unwrap_err().contains("authorization_servers"));
        let e = parse(
            &body(
                json!({"resource": R, "authorization_servers": [ISS], "scopes_supported": ["gatehouse:admin"]}),
            ),
            R,
            ISS,
        );
        assert!(e.unwrap_err().contains("reserved"));
        assert!(parse(b"<html>", R, ISS).is_err());
    }
}

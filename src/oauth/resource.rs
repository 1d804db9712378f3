//! Resource indicators (RFC 8707): which resources a token is for. A client may ask for
//! the resources configured for it (its audiences) and for gatehouse itself; a token is
//! minted for one audience set, and a later request may narrow what was granted, never
//! widen it.

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, OAuthError};
use crate::domain::{Client, ResourceSet};

fn invalid_target(message: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, message)
}

/// The resources a client may name: the issuer, the registered protected resources, and
/// its configured audiences.
fn allowed(client: &Client, issuer: &str, registered: &ResourceSet, resource: &str) -> bool {
    resource == issuer
        || registered.find(resource).is_some()
        || client
            .audience
            .as_deref()
            .is_some_and(|a| a.split_whitespace().any(|x| x == resource))
}

/// The requested resources, each an absolute URI without a fragment that the client may
/// use (RFC 8707 §2); `invalid_target` otherwise.
pub fn check(
    requested: &[String],
    client: &Client,
    issuer: &str,
    registered: &ResourceSet,
) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        let absolute = url::Url::parse(r).is_ok_and(|u| !u.cannot_be_a_base());
        if !absolute || r.contains('#') {
            return Err(invalid_target(format!(
                "resource '{r}' is not an absolute URI without a fragment"
            )));
        }
        if !allowed(client, issuer, registered, r) {
            return Err(invalid_target(format!(
                "this client may not request the resource '{r}'"
            )));
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// The audience of a token: the requested resources (within what was granted, when a
/// grant names resources), else the granted ones, else the client's first configured
/// audience, else the issuer.
pub fn audience(
    requested: &[String],
    granted: &[String],
    client: &Client,
    issuer: &str,
    registered: &ResourceSet,
) -> Result<Audience, OAuthError> {
    let requested = check(requested, client, issuer, registered)?;
    if let Some(r) = requested
        .iter()
        .find(|r| !granted.is_empty() && !granted.contains(r))
    {
        return Err(invalid_target(format!(
            "the resource '{r}' was not granted; a request may narrow the resources, not widen them"
        )));
    }
    let set = match (requested.is_empty(), granted.is_empty()) {
        (false, _) => requested,
        (true, false) => granted.to_vec(),
        (true, true) => vec![client
            .audience
            .as_deref()
            .and_then(|a| a.split_whitespace().next())
            .unwrap_or(issuer)
            .to_string()],
    };
    Ok(Audience(set))
}

/// The `aud` of an access token: one string when it names one resource, else an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(pub Vec<String>);

impl Audience {
    pub fn one(a: impl Into<String>) -> Audience {
        Audience(vec![a.into()])
    }

    pub fn contains(&self, a: &str) -> bool {
        self.0.iter().any(|x| x == a)
    }

    /// Whether the token is for `a` and nothing else.
    pub fn is_only(&self, a: &str) -> bool {
        self.0.len() == 1 && self.0[0] == a
    }
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Audience, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::One(a) => Audience(vec![a]),
            Raw::Many(v) => Audience(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::redirect::test_support::client;

    const ISSUER: &str = "https://id.example";

    fn api_client() -> Client {
        let mut c = client();
        c.audience = Some("https://api.example https://files.example".into());
        c
    }

    fn none() -> ResourceSet {
        ResourceSet::default()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_configured_absolute_resources_are_accepted() {
        let c = api_client();
        assert_eq!(
            check(&v(&["https://api.example"]), &c, ISSUER, &none())
                .unwrap()
                .len(),
            1
        );
        assert!(check(&v(&[ISSUER]), &c, ISSUER, &none()).is_ok());
        for bad in [
            "https://other.example",
            "https://api.example#x",
            "not a uri",
            "urn:x",
        ] {
            let e = check(&v(&[bad]), &c, ISSUER, &none()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn registered_resources_are_open_to_every_client() {
        let registered = ResourceSet::new(vec![crate::domain::ProtectedResource {
            resource: "https://mcp.example/mcp".into(),
            name: "MCP".into(),
            scopes: crate::domain::Scopes::parse("mcp:tools").unwrap(),
            metadata: None,
            fetched_at: None,
            created_at: 0,
            updated_at: 0,
        }]);
        let c = client();
        assert!(check(&v(&["https://mcp.example/mcp"]), &c, ISSUER, &registered).is_ok());
        let e = check(&v(&["https://mcp.example/other"]), &c, ISSUER, &registered).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn requests_narrow_never_widen() {
        let c = api_client();
        let granted = v(&["https://api.example", "https://files.example"]);
        let a = audience(
            &v(&["https://files.example"]),
            &granted,
            &c,
            ISSUER,
            &none(),
        )
        .unwrap();
        assert!(a.is_only("https://files.example"));
        assert_eq!(
            audience(&[], &granted, &c, ISSUER, &none()).unwrap().0,
            granted
        );
        let one = v(&["https://api.example"]);
        let e = audience(&v(&["https://files.example"]), &one, &c, ISSUER, &none()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert!(audience(&[], &[], &c, ISSUER, &none())
            .unwrap()
            .is_only("https://api.example"));
        assert!(audience(&[], &[], &client(), ISSUER, &none())
            .unwrap()
            .is_only(ISSUER));
    }

    #[test]
    fn one_audience_is_a_string_several_an_array() {
        let one = serde_json::to_value(Audience::one("a")).unwrap();
        assert_eq!(one, serde_json::json!("a"));
        let two = serde_json::to_value(Audience(v(&["a", "b"]))).unwrap();
        assert_eq!(two, serde_json::json!(["a", "b"]));
        let back: Audience = serde_json::from_value(two).unwrap();
        assert!(back.contains("b") && !back.is_only("a"));
    }
}

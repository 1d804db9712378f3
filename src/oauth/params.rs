//! Form and query parameters: each name at most once (RFC 6749 §3.1, §3.2), except
//! `resource`, which RFC 8707 lets a request repeat.

use std::collections::HashMap;

use super::error::OAuthError;

#[derive(Clone, Default)]
pub struct Params {
    one: HashMap<String, String>,
    /// Every `resource` (RFC 8707 §2), in order.
    resources: Vec<String>,
}

/// The one parameter that may be repeated.
const RESOURCE: &str = "resource";

/// Names only: values may be secrets (a client secret, a password, a code, a token).
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.one.keys().map(String::as_str).collect();
        if !self.resources.is_empty() {
            names.push(RESOURCE);
        }
        names.sort_unstable();
        f.debug_tuple("Params").field(&names).finish()
    }
}

impl Params {
    /// Refuses repeated parameters; empty values count as absent (RFC 6749 §3.1).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, OAuthError> {
        let mut map = HashMap::with_capacity(pairs.len());
        let mut resources = Vec::new();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            if k == RESOURCE {
                resources.push(v);
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{k}' is repeated"
                )));
            }
        }
        Ok(Params {
            one: map,
            resources,
        })
    }

    /// Parameters from literal pairs (tests and fixtures); panics on a repeated name.
    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Params {
        let owned = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Params::from_pairs(owned.collect()).expect("no repeated parameter")
    }

    pub fn parse_query(query: &str) -> Result<Params, OAuthError> {
        let pairs = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Params::from_pairs(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.one.get(key).map(String::as_str)
    }

    /// Every `resource` the request names.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter '{key}' is required")))
    }

    /// The parameters as a query string (sorted, for stable output).
    /// The same parameters without `key`, and its value.
    pub fn take(&self, key: &str) -> (Params, Option<String>) {
        let mut rest = self.clone();
        let value = rest.one.remove(key);
        (rest, value)
    }

    /// The same parameters with `key` set to `value`.
    pub fn with(&self, key: &str, value: &str) -> Params {
        let mut p = self.clone();
        p.one.insert(key.to_string(), value.to_string());
        p
    }

    /// Every parameter name, for checks over the whole request.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.one
            .keys()
            .map(String::as_str)
            .chain(self.resources.first().map(|_| RESOURCE))
    }

    /// The parameters as a query string, in a canonical order (names sorted, then every
    /// `resource`): the same parameters always give the same string.
    pub fn to_query(&self) -> String {
        let mut keys: Vec<_> = self.one.keys().collect();
        keys.sort();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for k in keys {
            s.append_pair(k, &self.one[k]);
        }
        for r in &self.resources {
            s.append_pair(RESOURCE, r);
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resource_may_repeat() {
        let p = Params::parse_query("resource=https://a.example&x=1&resource=https://b.example")
            .unwrap();
        assert_eq!(p.resources(), ["https://a.example", "https://b.example"]);
        assert_eq!(p.get("resource"), None);
        let again = Params::parse_query(&p.to_query()).unwrap();
        assert_eq!(again.resources(), p.resources());
        assert!(Params::parse_query("x=1&x=2").is_err());
    }

    #[test]
    fn debug_names_parameters_but_shows_no_value() {
        let p = Params::parse_query("client_secret=s3cr3t&password=hunter22&code=c0de").unwrap();
        let shown = format!("{p:?}");
        assert_eq!(shown, r#"Params(["client_secret", "code", "password"])"#);
    }
}

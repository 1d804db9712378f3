//! Form and query parameters: each name at most once (RFC 6749 §3.1, §3.2).

use std::collections::HashMap;

use super::error::OAuthError;

#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Refuses repeated parameters; empty values count as absent (RFC 6749 §3.1).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, OAuthError> {
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{k}' is repeated"
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn parse_query(query: &str) -> Result<Params, OAuthError> {
        let pairs = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Params::from_pairs(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter '{key}' is required")))
    }

    /// The parameters as a query string (sorted, for stable output).
    pub fn to_query(&self) -> String {
        let mut keys: Vec<_> = self.0.keys().collect();
        keys.sort();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for k in keys {
            s.append_pair(k, &self.0[k]);
        }
        s.finish()
    }
}

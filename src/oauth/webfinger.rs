//! WebFinger for OpenID issuer discovery (OpenID Connect Discovery 1.0 §2, RFC 7033):
//! which issuer serves an `acct:` or `https:` identifier on this server's host. Every
//! identifier on the host gets the same answer, so the reply says nothing about which
//! users exist.

use serde_json::{json, Value};

/// The link relation of an OpenID issuer.
pub const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";

/// Why a lookup gets no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No or an unreadable `resource` (400).
    BadRequest(&'static str),
    /// An identifier on another host (404).
    NotHere,
}

/// The host an identifier names: `acct:user@host`, `user@host`, or an https URL.
fn host_of(resource: &str) -> Option<String> {
    if let Some(rest) = resource
        .strip_prefix("acct:")
        .or((!resource.contains("://")).then_some(resource))
    {
        let host = rest.rsplit_once('@')?.1;
        return (!host.is_empty()).then(|| host.to_ascii_lowercase());
    }
    let url = url::Url::parse(resource).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// The JSON Resource Descriptor for `resource`, with the issuer link when `rels` is
/// empty or asks for it.
pub fn lookup(issuer: &str, resource: Option<&str>, rels: &[&str]) -> Result<Value, Refused> {
    let resource = resource
        .filter(|r| !r.is_empty())
        .ok_or(Refused::BadRequest("resource is required"))?;
    let host = host_of(resource).ok_or(Refused::BadRequest(
        "resource is not an acct: or https: identifier",
    ))?;
    let ours = url::Url::parse(issuer).ok().and_then(|u| {
        let h = u.host_str()?.to_ascii_lowercase();
        Some((h.clone(), u.port().map(|p| format!("{h}:{p}"))))
    });
    let here = ours.is_some_and(|(h, with_port)| host == h || Some(&host) == with_port.as_ref());
    if !here {
        return Err(Refused::NotHere);
    }
    let links: Vec<Value> = match rels.is_empty() || rels.contains(&ISSUER_REL) {
        true => vec![json!({"rel": ISSUER_REL, "href": issuer})],
        false => Vec::new(),
    };
    Ok(json!({"subject": resource, "links": links}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://id.example.com";

    #[test]
    fn identifiers_on_this_host_get_the_issuer() {
        for r in [
            "acct:joe@id.example.com",
            "joe@id.example.com",
            "https://id.example.com/joe",
        ] {
            let v = lookup(ISS, Some(r), &[ISSUER_REL]).unwrap();
            assert_eq!(v["subject"], r);
            assert_eq!(v["links"][0]["href"], ISS);
        }
        let other_rel = lookup(
            ISS,
            Some("acct:joe@id.example.com"),
            &["http://example.com/rel"],
        )
        .unwrap();
        assert_eq!(other_rel["links"], json!([]));
        let with_port = lookup("http://127.0.0.1:8080", Some("acct:a@127.0.0.1:8080"), &[]);
        assert!(with_port.is_ok());
    }

    #[test]
    fn other_hosts_and_bad_input() {
        assert_eq!(
            lookup(ISS, Some("acct:joe@elsewhere.example"), &[]),
            Err(Refused::NotHere)
        );
        assert!(matches!(
            lookup(ISS, None, &[]),
            Err(Refused::BadRequest(_))
        ));
        assert!(matches!(
            lookup(ISS, Some("acct:nohost"), &[]),
            Err(Refused::BadRequest(_))
        ));
    }
}

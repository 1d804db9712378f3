//! What a handler needs of a request besides its body, read once: the clock, the
//! client's address, and the credentials and proofs it presented in headers. Protocol
//! and application functions take this instead of the HTTP request.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::app::Actor;
use crate::db::unix_now;

#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Unix seconds when the request arrived.
    pub now: i64,
    /// The client's address: the TCP peer, or what trusted proxies say it is.
    pub client_ip: Option<String>,
    /// The `Authorization` header; unreadable bytes become a NUL, which no scheme has.
    pub authorization: Option<String>,
    /// The `DPoP` proof header (RFC 9449), for the endpoints that take one.
    pub dpop: Option<String>,
}

impl RequestContext {
    pub fn of(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> RequestContext {
        let text = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
        };
        RequestContext {
            now: unix_now(),
            client_ip: client_ip(req, trusted_proxies).map(|ip| ip.to_string()),
            authorization: text(header::AUTHORIZATION),
            dpop: text(header::HeaderName::from_static("dpop")),
        }
    }

    /// An actor of this request, for the audit log.
    pub fn actor(&self, name: impl Into<String>) -> Actor {
        Actor::new(name, self.client_ip.clone())
    }
}

/// The client's address. When the TCP peer is a trusted proxy, the forwarding headers
/// are read from the right (where each proxy appends what it saw), skipping trusted
/// proxies: the first untrusted address is the client. Entries further left were written
/// by the client itself and are never believed.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for v in req.headers().get_all(header::FORWARDED) {
        let v = v.to_str().ok()?;
        chain.extend(v.split(',').filter_map(forwarded_for));
    }
    if chain.is_empty() {
        for v in req.headers().get_all("x-forwarded-for") {
            let v = v.to_str().ok()?;
            chain.extend(v.split(',').filter_map(|a| parse_addr(a.trim())));
        }
    }
    Some(
        chain
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// The `for=` address of one `Forwarded` element (RFC 7239).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.eq_ignore_ascii_case("for")
            .then(|| parse_addr(v.trim().trim_matches('"')))
            .flatten()
    })
}

/// An address, with or without a port, IPv6 in brackets or bare.
fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    let inner = s.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_chains_are_read_from_the_right() {
        let proxy = ip("10.0.0.1");
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 203.0.113.9"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[proxy]), Some(ip("203.0.113.9")));
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.0.0.2"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[proxy, ip("10.0.0.2")]),
            Some(ip("203.0.113.9")),
            "trusted hops are skipped"
        );
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header((
                "Forwarded",
                "for=6.6.6.6, for=\"[2001:db8::1]:443\";proto=https",
            ))
            .to_http_request();
        assert_eq!(client_ip(&req, &[proxy]), Some(ip("2001:db8::1")));
    }

    #[test]
    fn untrusted_peers_are_their_own_address() {
        let req = TestRequest::default()
            .peer_addr("192.0.2.5:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[ip("10.0.0.1")]), Some(ip("192.0.2.5")));
    }
}

//! OpenID Front-Channel Logout 1.0: the signed-out page loads each front-channel logout
//! URI of the session's clients in a hidden frame, then moves on. The page has no script:
//! a refresh header takes the browser on after the frames had their time.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::pages;
use crate::domain::Client;
use crate::oauth::store::logout::SessionClient;

/// Seconds the page waits for the frames before it moves on.
const WAIT: u32 = 2;

#[derive(Template)]
#[template(path = "frontchannel_logout.html")]
struct FramesPage<'a> {
    frames: &'a [String],
    next: Option<&'a str>,
    ui: super::ui::Ui,
}

/// The front-channel URL of each client that has one, with `iss` and `sid` when the
/// client asked for them (§2: when it did, and always harmless otherwise).
pub fn frames(issuer: &str, ended: &[(Client, SessionClient)]) -> Vec<String> {
    let mut out: Vec<String> = ended
        .iter()
        .filter_map(|(client, sc)| {
            let raw = client.openid.frontchannel_logout_uri.as_deref()?;
            let mut url = url::Url::parse(raw).ok()?;
            if client.openid.frontchannel_logout_session_required {
                url.query_pairs_mut()
                    .append_pair("iss", issuer)
                    .append_pair("sid", &sc.sid);
            }
            Some(url.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The page with the frames; `frame-src` admits exactly their origins.
pub fn page(frames: &[String], next: Option<&str>) -> HttpResponse {
    let origins: Vec<String> = frames
        .iter()
        .filter_map(|f| url::Url::parse(f).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    let ui = super::ui::current();
    let mut res = pages::render(StatusCode::OK, &FramesPage { frames, next, ui }, &[]);
    let policy = format!("{}; frame-src {}", pages::csp(&[]), origins.join(" "));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&policy) {
        res.headers_mut()
            .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, v);
    }
    let refresh = match next {
        Some(n) => format!("{WAIT}; url={n}"),
        None => return res,
    };
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&refresh) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("refresh"),
            v,
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_iss_and_sid_when_asked() {
        let mut a = crate::oauth::redirect::test_support::client();
        a.openid.frontchannel_logout_uri = Some("https://app.example/fc?x=1".into());
        a.openid.frontchannel_logout_session_required = true;
        let mut b = a.clone();
        b.openid.frontchannel_logout_uri = Some("https://b.example/fc".into());
        b.openid.frontchannel_logout_session_required = false;
        let c = crate::oauth::redirect::test_support::client();
        let sc = SessionClient {
            sid: "s 1".into(),
            client_id: "app".into(),
            user_id: "u".into(),
            expires_at: 0,
        };
        let f = frames(
            "https://id.example",
            &[(a, sc.clone()), (b, sc.clone()), (c, sc)],
        );
        assert_eq!(
            f,
            [
                "https://app.example/fc?x=1&iss=https%3A%2F%2Fid.example&sid=s+1",
                "https://b.example/fc"
            ]
        );
        let res = page(&f, Some("https://app.example/bye?state=s"));
        let csp = res.headers().get("content-security-policy").unwrap();
        assert!(csp
            .to_str()
            .unwrap()
            .ends_with("frame-src https://app.example https://b.example"));
        assert!(res.headers().get("refresh").is_some());
    }
}

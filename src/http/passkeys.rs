//! Passkeys at the HTTP edge: the relying party from the issuer, challenges handed to
//! the browser with the page that uses them (sealed, so no table holds them until
//! used), the browser's answer read from a form, and `POST /login/passkey`, the sign-in
//! with a passkey alone.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::authorize::{read_page_form, unavailable};
use super::errors::Failure;
use super::login::{finish_login, Next};
use super::Data;
use crate::app::factors::{self, PasskeyAnswer};
use crate::app::AppError;
use crate::config::Settings;
use crate::crypto::{b64url, b64url_decode, random_bytes, Purpose, Sealer};
use crate::oauth::params::Params;
use crate::oauth::store::Amr;
use crate::webauthn::RelyingParty;

pub const PATH_PASSKEY_LOGIN: &str = "/login/passkey";
/// Seconds a challenge stays good: long enough to find the security key.
const CHALLENGE_TTL: i64 = 300;
/// The browser script of the passkey forms, compiled in.
pub const PASSKEY_JS: &str = include_str!("../../static/passkey.js");
pub const PASSKEY_SCRIPT_PATH: &str = "/static/passkey.js";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH_PASSKEY_LOGIN, web::post().to(passkey_login))
        .route(PASSKEY_SCRIPT_PATH, web::get().to(script));
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(PASSKEY_JS)
}

/// The relying party is the issuer: its host is the RP id, its origin the origin.
pub fn relying_party(settings: &Settings) -> RelyingParty {
    relying_party_of(&settings.issuer)
}

fn relying_party_of(issuer: &str) -> RelyingParty {
    let url = url::Url::parse(issuer).ok();
    RelyingParty {
        id: (url.as_ref())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default(),
        origin: url
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default(),
    }
}

/// A challenge for one page: the bytes the browser signs, and the state the form sends
/// back (the challenge and its expiry, sealed to what the page is for).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub challenge: String,
    pub state: String,
}

pub fn new_challenge(sealer: &Sealer, purpose: &str, now: i64) -> Challenge {
    let bytes = random_bytes(32);
    let mut plain = bytes.clone();
    plain.extend_from_slice(&(now + CHALLENGE_TTL).to_be_bytes());
    let sealed = sealer.seal(Purpose::PasskeyChallenge, &plain, purpose.as_bytes());
    Challenge {
        challenge: b64url(&bytes),
        state: b64url(&sealed),
    }
}

/// The challenge a form's state holds, if it was made for `purpose` and is still good.
pub fn open_challenge(sealer: &Sealer, purpose: &str, state: &str, now: i64) -> Option<Vec<u8>> {
    let sealed = b64url_decode(state)?;
    let plain = sealer.open(Purpose::PasskeyChallenge, &sealed, purpose.as_bytes())?;
    let (challenge, exp) = plain.split_at_checked(32)?;
    let exp = i64::from_be_bytes(exp.try_into().ok()?);
    (exp > now).then(|| challenge.to_vec())
}

/// The browser's answer to a `get()`, from the form fields the passkey script fills.
pub fn answer_of(form: &Params) -> Option<PasskeyAnswer> {
    let field = |n: &str| form.get(n).filter(|v| !v.is_empty());
    Some(PasskeyAnswer {
        credential_id: field("credential_id")?.to_string(),
        client_data: b64url_decode(field("client_data")?)?,
        authenticator_data: b64url_decode(field("authenticator_data")?)?,
        signature: b64url_decode(field("signature")?)?,
    })
}

/// Verifies a passkey answer against the challenge in the form's state, once: a
/// challenge used before is refused, whatever the authenticator's counter says.
pub async fn verify_answer(
    services: &Data,
    form: &Params,
    purpose: &str,
    require_verification: bool,
    expected_user: Option<String>,
    now: i64,
) -> Result<Result<(String, Vec<Amr>), String>, Failure> {
    let expired = "The passkey request expired. Try again.".to_string();
    let Some(challenge) = form
        .get("passkey_state")
        .and_then(|s| open_challenge(&services.sealer, purpose, s, now))
    else {
        return Ok(Err(expired));
    };
    let Some(answer) = answer_of(form) else {
        return Ok(Err("The browser sent no passkey answer. Try again.".into()));
    };
    let rp = relying_party(&services.settings);
    let key = format!("passkey-challenge:{}", b64url(&challenge));
    let result = services
        .db
        .run(move |c| {
            if !c.use_assertion(&key, now + CHALLENGE_TTL)? {
                return Ok(Err(AppError::Invalid(expired.clone())));
            }
            Ok(factors::use_passkey(
                c,
                &rp,
                &challenge,
                &answer,
                require_verification,
                expected_user.as_deref(),
                now,
            ))
        })
        .await
        .map_err(unavailable)?;
    match result {
        Ok(found) => Ok(Ok(found)),
        Err(AppError::Store(e)) => Err(unavailable(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// `POST /login/passkey`: a sign-in with a discoverable passkey and user verification,
/// no password.
async fn passkey_login(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let ctx = super::context(&services, &req);
    let form = read_page_form(&services, &req, payload).await?;
    let next = Next::from_form(&services, &form).await?;
    let (user_id, amr) =
        match verify_answer(&services, &form, "signin", true, None, ctx.now).await? {
            Ok(found) => found,
            Err(message) => {
                services.metrics.login("passkey_refused");
                return Ok(next.page(&services, &req, StatusCode::OK, "", Some(&message)));
            }
        };
    let user = services
        .db
        .run(move |c| c.find_user(&user_id))
        .await
        .map_err(unavailable)?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        let message = "This account cannot sign in. Ask your administrator for help.";
        return Ok(next.page(&services, &req, StatusCode::OK, "", Some(message)));
    };
    let attempt = next.attempt(&user.username, &ctx);
    finish_login(&services, &req, &next, attempt, user, amr).await
}

/// Where the passkey sign-in form posts.
pub fn login_action(settings: &Settings) -> String {
    settings.url(PATH_PASSKEY_LOGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_opens_only_for_its_purpose_and_in_time() {
        let sealer = Sealer::from_secret("test");
        let c = new_challenge(&sealer, "signin", 100);
        let bytes = open_challenge(&sealer, "signin", &c.state, 100).unwrap();
        assert_eq!(b64url(&bytes), c.challenge);
        assert_eq!(open_challenge(&sealer, "second:u1", &c.state, 100), None);
        assert_eq!(
            open_challenge(&sealer, "signin", &c.state, 100 + CHALLENGE_TTL),
            None
        );
        assert_eq!(open_challenge(&sealer, "signin", "not-base64!", 100), None);
    }

    #[test]
    fn the_relying_party_is_the_issuer() {
        let rp = relying_party_of;
        let a = rp("https://login.example.com:8443/tenant");
        assert_eq!(a.id, "login.example.com");
        assert_eq!(a.origin, "https://login.example.com:8443");
        assert_eq!(rp("http://localhost:8080").origin, "http://localhost:8080");
    }
}

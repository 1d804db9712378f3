//! The device authorization grant (RFC 8628): codes for a device without a browser, and
//! the polling that turns an approved request into tokens. The codes themselves and the
//! user's approval are `http::device`'s; this module decides what a poll gets.

use super::issue::Subject;
use super::user_grant::{self, UserGrant};
use super::{answer_for, Answer, Grant, GrantProfile, GrantRequest, GrantType, Issuer, Outcome};
use crate::crypto::{random_bytes, random_token, secret_hash};
use crate::domain::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::store::device::{DeviceRecord, DeviceStatus};
use crate::oauth::store::{atomically, Store, StoreResult};
use crate::secret_type;

pub const ID: GrantType = GrantType::new("urn:ietf:params:oauth:grant-type:device_code");
/// Seconds a device request waits for its approval.
pub const LIFETIME: i64 = 600;
/// Seconds between polls, at first; each `slow_down` adds five (RFC 8628 §3.5).
pub const INTERVAL: i64 = 5;

static PROFILE: GrantProfile = GrantProfile {
    id: ID,
    label: "Device (TVs, command lines: the person approves on another device)",
    confidential_only: false,
    needs_redirect_uri: false,
    standalone: true,
};

secret_type!(
    /// A device code as the device presents it.
    DeviceCodeValue
);

/// Letters a person reads off a screen and types without confusion: no vowels (so no
/// words), nothing that looks like a digit (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A new user code, `XXXX-XXXX` (about 34 bits; guesses are throttled).
pub fn new_user_code() -> String {
    let letters: String = random_bytes(8)
        .iter()
        .map(|b| USER_CODE_ALPHABET[*b as usize % USER_CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

/// A typed user code in its one form: upper case, letters of the alphabet only.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = letters.len() == 8 && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    ok.then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

/// A new pending request and its two codes (device code, user code).
pub fn new_request(
    client: &Client,
    scopes: crate::domain::Scopes,
    resources: Vec<String>,
    now: i64,
) -> (String, String, DeviceRecord) {
    let (device_code, user_code) = (random_token(32), new_user_code());
    let record = DeviceRecord {
        device_code_hash: secret_hash(&device_code),
        user_code_hash: secret_hash(&user_code),
        client_id: client.client_id.clone(),
        scopes,
        resources,
        status: DeviceStatus::Pending,
        user_id: None,
        auth_time: None,
        amr: Vec::new(),
        sid: None,
        created_at: now,
        expires_at: now + LIFETIME,
        interval: INTERVAL,
        last_poll_at: None,
    };
    (device_code, user_code, record)
}

pub struct DeviceCode;

impl Grant for DeviceCode {
    fn profile(&self) -> &'static GrantProfile {
        &PROFILE
    }

    fn parse(&self, p: &Params) -> Result<Box<dyn GrantRequest>, OAuthError> {
        Ok(Box::new(Request {
            device_code: DeviceCodeValue::new(p.require("device_code")?.to_string()),
        }))
    }
}

pub struct Request {
    pub device_code: DeviceCodeValue,
}

impl GrantRequest for Request {
    fn answer(
        self: Box<Self>,
        issuer: &Issuer,
        client: &Client,
        store: &mut dyn Store,
    ) -> StoreResult<Outcome> {
        // The poll is recorded whatever the answer, so the transaction commits either way.
        answer_for(client, ID, |_| {
            atomically(store, |s| self.poll(issuer, client, s))
        })
    }
}

fn error(code: ErrorCode, m: &str) -> Answer {
    Err(OAuthError::new(code, m))
}

impl Request {
    fn poll(&self, issuer: &Issuer, client: &Client, s: &mut dyn Store) -> StoreResult<Answer> {
        let now = issuer.now;
        let hash = secret_hash(self.device_code.secret());
        let Some(r) = s
            .find_device(&hash)?
            .filter(|r| r.client_id == client.client_id)
        else {
            return Ok(Err(OAuthError::invalid_grant(
                "the device code is not valid",
            )));
        };
        if r.expires_at <= now {
            return Ok(error(
                ErrorCode::ExpiredToken,
                "the device code has expired",
            ));
        }
        match r.status {
            DeviceStatus::Used => {
                return Ok(Err(OAuthError::invalid_grant(
                    "the device code was already used",
                )))
            }
            DeviceStatus::Denied => {
                return Ok(error(
                    ErrorCode::AccessDenied,
                    "the user denied the request",
                ))
            }
            _ => {}
        }
        if r.last_poll_at.is_some_and(|last| now - last < r.interval) {
            s.record_device_poll(&hash, now, r.interval + 5)?;
            return Ok(error(ErrorCode::SlowDown, "poll less often"));
        }
        s.record_device_poll(&hash, now, r.interval)?;
        if r.status == DeviceStatus::Pending {
            return Ok(error(
                ErrorCode::AuthorizationPending,
                "the user has not answered yet",
            ));
        }
        if !s.consume_device(&hash)? {
            return Ok(Err(OAuthError::invalid_grant(
                "the device code was already used",
            )));
        }
        issue(issuer, client, s, &r)
    }
}

/// The tokens of an approved request, as for an authorization code.
fn issue(
    issuer: &Issuer,
    client: &Client,
    s: &mut dyn Store,
    r: &DeviceRecord,
) -> StoreResult<Answer> {
    let user_id = r.user_id.as_deref().unwrap_or_default();
    if s.find_user(user_id)?.is_none_or(|u| u.disabled) {
        return Ok(Err(OAuthError::invalid_grant(
            "the user can no longer sign in",
        )));
    }
    let family_id = uuid::Uuid::new_v4().to_string();
    let grant = UserGrant {
        subject: Subject {
            user_id,
            auth_time: r.auth_time.unwrap_or(r.created_at),
            sid: r.sid.as_deref(),
            amr: &r.amr,
            claims: None,
            user: None,
        },
        scopes: &r.scopes,
        granted: &r.resources,
        requested: &[],
        nonce: None,
        family_id: &family_id,
    };
    Ok(user_grant::issue(issuer, client, s, grant)?.map(|(response, _, _)| response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_easy_to_type_and_normalize() {
        let code = new_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(
            normalize_user_code(&code.to_lowercase().replace('-', " ")),
            Some(code.clone())
        );
        assert_eq!(normalize_user_code("bcdf-ghjk"), Some("BCDF-GHJK".into()));
        assert_eq!(
            normalize_user_code("AEIO-UBCD"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
    }
}

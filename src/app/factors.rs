//! Second factors and passkeys: enrolment, use at sign-in, removal, and the
//! administrator's reset. Every change is audited in the transaction that makes it.

use serde_json::json;

use super::{Actor, AppError};
use crate::crypto::{b64url, Purpose, Sealer};
use crate::domain::{recovery, totp};
use crate::oauth::store::factors::{Factor, FactorKind};
use crate::oauth::store::{atomically, Amr, Store};
use crate::webauthn::{self, RelyingParty};

/// What a person has enrolled, for their account page and the second-factor page.
#[derive(Debug, Clone, Default)]
pub struct Enrolled {
    pub totp: Option<Factor>,
    pub passkeys: Vec<Factor>,
    pub recovery_left: usize,
}

impl Enrolled {
    pub fn of(factors: Vec<Factor>) -> Enrolled {
        let mut e = Enrolled::default();
        for f in factors {
            match f.kind {
                FactorKind::Totp => e.totp = Some(f),
                FactorKind::Passkey => e.passkeys.push(f),
                FactorKind::Recovery => e.recovery_left += 1,
            }
        }
        e
    }

    /// Whether a second step can be asked of this person. Recovery codes alone are not
    /// a factor: they stand in for one that was lost.
    pub fn has_second_factor(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    /// The credential ids a second-factor passkey prompt may offer.
    pub fn passkey_ids(&self) -> Vec<String> {
        (self.passkeys.iter())
            .filter_map(|p| p.lookup.clone())
            .collect()
    }
}

/// The user's factors.
pub fn enrolled(store: &mut dyn Store, user_id: &str) -> Result<Enrolled, AppError> {
    Ok(Enrolled::of(store.list_factors(user_id)?))
}

fn totp_context(user_id: &str) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

/// A new TOTP secret, and the same sealed for the enrolment form (bound to the user, so
/// a form cannot be replayed for someone else).
pub fn new_totp_secret(sealer: &Sealer, user_id: &str) -> (Vec<u8>, String) {
    let secret = crate::crypto::random_bytes(totp::SECRET_LEN);
    let context = format!("totp-enrolment:{user_id}");
    let sealed = sealer.seal(Purpose::FactorSecret, &secret, context.as_bytes());
    (secret, b64url(&sealed))
}

/// The secret of an enrolment form, if the form was made for this user.
pub fn open_totp_form(sealer: &Sealer, user_id: &str, sealed: &str) -> Option<Vec<u8>> {
    let context = format!("totp-enrolment:{user_id}");
    let raw = crate::crypto::b64url_decode(sealed)?;
    sealer.open(Purpose::FactorSecret, &raw, context.as_bytes())
}

/// Enrols an authenticator app once the person typed a code it shows: proof that the
/// app holds the secret. Replaces an app enrolled before.
pub fn enrol_totp(
    store: &mut dyn Store,
    sealer: &Sealer,
    actor: &Actor,
    user_id: &str,
    secret: &[u8],
    typed: &str,
    now: i64,
) -> Result<(), AppError> {
    let Some(step) = totp::verify(secret, typed, now, i64::MIN) else {
        return Err(AppError::Invalid(
            "code: that is not the code the app shows now; try the next one".into(),
        ));
    };
    let factor = Factor {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.into(),
        kind: FactorKind::Totp,
        name: "Authenticator app".into(),
        lookup: None,
        secret: sealer.seal(Purpose::FactorSecret, secret, &totp_context(user_id)),
        counter: step,
        detail: "{}".into(),
        created_at: now,
        last_used_at: Some(now),
    };
    atomically(store, |s| {
        s.delete_factors(user_id, Some(FactorKind::Totp))?;
        s.insert_factor(&factor)?;
        s.record(&actor.event("factor.totp.added", user_id, now))?;
        Ok(())
    })
}

/// A new set of recovery codes, replacing the old set; the codes are returned once and
/// only their hashes are kept.
pub fn new_recovery_codes(
    store: &mut dyn Store,
    actor: &Actor,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, AppError> {
    let codes = recovery::generate();
    let factors: Vec<Factor> = codes
        .iter()
        .map(|c| Factor {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.into(),
            kind: FactorKind::Recovery,
            name: String::new(),
            lookup: recovery::hash_typed(c),
            secret: Vec::new(),
            counter: 0,
            detail: "{}".into(),
            created_at: now,
            last_used_at: None,
        })
        .collect();
    atomically(store, |s| {
        s.delete_factors(user_id, Some(FactorKind::Recovery))?;
        for f in &factors {
            s.insert_factor(f)?;
        }
        s.record(&actor.event("factor.recovery.generated", user_id, now))?;
        Ok::<(), AppError>(())
    })?;
    Ok(codes)
}

/// Checks a typed code: the authenticator app's current code (each accepted once), or
/// else one of the recovery codes (then used up). `None` when it is neither.
pub fn check_code(
    store: &mut dyn Store,
    sealer: &Sealer,
    user_id: &str,
    typed: &str,
    now: i64,
) -> Result<Option<Amr>, AppError> {
    let enrolled = enrolled(store, user_id)?;
    if let Some(app) = &enrolled.totp {
        let secret = sealer
            .open(Purpose::FactorSecret, &app.secret, &totp_context(user_id))
            .ok_or_else(|| {
                AppError::Invalid("the authenticator app's secret does not open".into())
            })?;
        if let Some(step) = totp::verify(&secret, typed, now, app.counter) {
            // Of two requests with one code, only one moves the counter on.
            return Ok(store
                .use_factor(&app.id, step, true, now)?
                .then_some(Amr::Otp));
        }
    }
    let Some(hash) = recovery::hash_typed(typed) else {
        return Ok(None);
    };
    if !store.take_recovery_code(user_id, &hash)? {
        return Ok(None);
    }
    let left = enrolled.recovery_left.saturating_sub(1);
    let event = Actor::new("anonymous", None)
        .event("factor.recovery.used", user_id, now)
        .detail(json!({ "left": left }));
    store.record(&event)?;
    Ok(Some(Amr::Otp))
}

/// Removes one of the user's own factors (or, for an administrator, anyone's).
pub fn remove_factor(
    store: &mut dyn Store,
    actor: &Actor,
    user_id: &str,
    id: &str,
    now: i64,
) -> Result<(), AppError> {
    atomically(store, |s| {
        if !s.delete_factor(user_id, id)? {
            return Err(AppError::NotFound(
                "no such passkey or authenticator".into(),
            ));
        }
        s.record(
            &actor
                .event("factor.removed", user_id, now)
                .detail(json!({ "factor_id": id })),
        )?;
        Ok(())
    })
}

/// Removes every factor of a user who lost theirs, so they can sign in with the
/// password and enrol again.
pub fn reset_factors(
    store: &mut dyn Store,
    actor: &Actor,
    username: &str,
    now: i64,
) -> Result<usize, AppError> {
    let user = store
        .find_user_by_name(username)?
        .ok_or_else(|| AppError::NotFound(format!("no user '{username}'")))?;
    atomically(store, |s| {
        let n = s.delete_factors(&user.id, None)?;
        s.record(
            &actor
                .event("user.factors_reset", username, now)
                .detail(json!({ "user_id": user.id, "removed": n })),
        )?;
        Ok(n)
    })
}

/// A passkey's stored flags.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct PasskeyDetail {
    alg: i64,
    backup_eligible: bool,
    transports: Vec<String>,
}

/// Whether a stored passkey is synced between devices (a software key, `swk`) rather
/// than bound to one authenticator (`hwk`).
pub fn passkey_synced(f: &Factor) -> bool {
    serde_json::from_str::<PasskeyDetail>(&f.detail).is_ok_and(|d| d.backup_eligible)
}

/// Stores a verified registration under the name the person gave it.
pub fn add_passkey(
    store: &mut dyn Store,
    actor: &Actor,
    user_id: &str,
    name: &str,
    reg: &webauthn::Registration,
    transports: Vec<String>,
    now: i64,
) -> Result<(), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::Invalid(
            "name: give the passkey a name of up to 64 characters".into(),
        ));
    }
    let detail = PasskeyDetail {
        alg: reg.alg,
        backup_eligible: reg.backup_eligible,
        transports,
    };
    let factor = Factor {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.into(),
        kind: FactorKind::Passkey,
        name: name.into(),
        lookup: Some(b64url(&reg.credential_id)),
        secret: reg.public_key.clone(),
        counter: i64::from(reg.sign_count),
        detail: serde_json::to_string(&detail).unwrap_or_else(|_| "{}".into()),
        created_at: now,
        last_used_at: None,
    };
    atomically(store, |s| {
        s.insert_factor(&factor)?;
        s.record(
            &actor
                .event("factor.passkey.added", user_id, now)
                .detail(json!({ "factor_id": factor.id, "name": factor.name })),
        )?;
        Ok(())
    })
}

/// A passkey's answer to a challenge, as the browser sent it.
#[derive(Debug, Clone)]
pub struct PasskeyAnswer {
    pub credential_id: String,
    pub client_data: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Verifies a passkey's answer: the credential is found by its id (and must belong to
/// `expected_user` when one is signing in already), its signature checked, its counter
/// moved on. Returns the user and the methods the answer proves.
#[allow(clippy::too_many_arguments)]
pub fn use_passkey(
    store: &mut dyn Store,
    rp: &RelyingParty,
    challenge: &[u8],
    answer: &PasskeyAnswer,
    require_verification: bool,
    expected_user: Option<&str>,
    now: i64,
) -> Result<(String, Vec<Amr>), AppError> {
    let unknown = || AppError::Invalid("this passkey is not registered here".into());
    let factor = store
        .find_factor(FactorKind::Passkey, &answer.credential_id)?
        .ok_or_else(unknown)?;
    if expected_user.is_some_and(|u| u != factor.user_id) {
        return Err(unknown());
    }
    let stored_count = u32::try_from(factor.counter).unwrap_or(0);
    let verified = webauthn::verify_assertion(
        rp,
        challenge,
        &factor.secret,
        stored_count,
        &answer.client_data,
        &answer.authenticator_data,
        &answer.signature,
        require_verification,
    )
    .map_err(|e| AppError::Invalid(e.to_string()))?;
    // A counter that is in use must grow; concurrent answers with one counter lose.
    let counting = verified.sign_count != 0 || stored_count != 0;
    if !store.use_factor(&factor.id, i64::from(verified.sign_count), counting, now)? {
        return Err(AppError::Invalid(
            "this passkey answer was used already".into(),
        ));
    }
    let mut amr = vec![if verified.backup_eligible {
        Amr::Swk
    } else {
        Amr::Hwk
    }];
    if verified.user_verified {
        amr.push(Amr::User);
    }
    Ok((factor.user_id, amr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::memory::MemoryStore;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_totp_code_is_accepted_once_and_recovery_codes_once_each() {
        let mut store = MemoryStore::new();
        let sealer = Sealer::from_secret("test secret");
        let actor = Actor::cli();
        let (secret, sealed) = new_totp_secret(&sealer, "u1");
        assert_eq!(open_totp_form(&sealer, "u1", &sealed).unwrap(), secret);
        assert_eq!(open_totp_form(&sealer, "u2", &sealed), None);
        let wrong = if totp::code_at(&secret, totp::step_of(NOW)) == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert!(enrol_totp(&mut store, &sealer, &actor, "u1", &secret, wrong, NOW).is_err());
        let code = totp::code_at(&secret, totp::step_of(NOW));
        enrol_totp(&mut store, &sealer, &actor, "u1", &secret, &code, NOW).unwrap();
        // The code used to enrol is spent; the next step's is not.
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &code, NOW).unwrap(),
            None
        );
        let later = NOW + totp::STEP;
        let next = totp::code_at(&secret, totp::step_of(later));
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &next, later).unwrap(),
            Some(Amr::Otp)
        );
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &next, later).unwrap(),
            None
        );

        let codes = new_recovery_codes(&mut store, &actor, "u1", NOW).unwrap();
        assert_eq!(enrolled(&mut store, "u1").unwrap().recovery_left, 10);
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &codes[3], NOW).unwrap(),
            Some(Amr::Otp)
        );
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &codes[3], NOW).unwrap(),
            None
        );
        // Another user's codes are not this one's.
        assert_eq!(
            check_code(&mut store, &sealer, "u2", &codes[4], NOW).unwrap(),
            None
        );
        // A new set replaces the old one.
        let fresh = new_recovery_codes(&mut store, &actor, "u1", NOW).unwrap();
        assert_eq!(
            check_code(&mut store, &sealer, "u1", &codes[4], NOW).unwrap(),
            None
        );
        assert!(check_code(&mut store, &sealer, "u1", &fresh[0], NOW)
            .unwrap()
            .is_some());
        let e = enrolled(&mut store, "u1").unwrap();
        assert!(e.has_second_factor());
        assert_eq!(e.recovery_left, 9);
        let actions: Vec<_> = store
            .audit_events()
            .iter()
            .map(|a| a.action.clone())
            .collect();
        assert!(
            actions.contains(&"factor.totp.added".to_string()),
            "{actions:?}"
        );
        assert!(
            actions.contains(&"factor.recovery.used".to_string()),
            "{actions:?}"
        );
    }
}

//! Delivering queued logout tokens (OpenID Back-Channel Logout 1.0 §2.5) through the
//! safe fetcher. Every instance runs this loop over the shared queue; a lease makes sure
//! each attempt is made by one of them. Deliveries and give-ups are audited.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::unix_now;
use crate::keys::Alg;
use crate::oauth::backchannel::{self, LogoutClaims, LOGOUT_TYP};
use crate::oauth::store::logout::LogoutDelivery;
use crate::oauth::store::AuditEvent;
use crate::startup::Services;

/// How often the queue is looked at when nothing wakes the loop sooner.
const POLL: Duration = Duration::from_secs(2);
/// Deliveries taken per round.
const BATCH: i64 = 20;

/// Wakes the delivery loop at once (after a session ended on this instance).
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// Runs the delivery loop until the runtime stops.
pub fn spawn(services: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = round(&services).await {
                tracing::warn!(error = %e, "delivering logout tokens failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = services.logout_wake.0.notified() => {}
            }
        }
    })
}

/// One round: lease what is due and deliver it, concurrently.
pub async fn round(services: &Services) -> Result<usize, crate::db::StoreError> {
    let now = unix_now();
    let leased = services
        .db
        .run(move |c| {
            let mut mine = Vec::new();
            for d in c.due_logouts(now, BATCH)? {
                if c.lease_logout(&d.id, d.next_attempt_at, now + backchannel::LEASE)? {
                    mine.push(d);
                }
            }
            Ok(mine)
        })
        .await?;
    let n = leased.len();
    let tasks: Vec<_> = leased
        .into_iter()
        .map(|d| {
            let s = services.clone();
            tokio::spawn(async move { deliver(&s, d).await })
        })
        .collect();
    for t in tasks {
        if let Ok(Err(e)) = t.await {
            tracing::warn!(error = %e, "recording a logout delivery failed");
        }
    }
    Ok(n)
}

/// What became of one attempt.
enum Outcome {
    Delivered,
    /// The client is gone or no longer listens: nothing to deliver.
    Moot,
    Failed(String),
}

async fn deliver(services: &Services, d: LogoutDelivery) -> Result<(), crate::db::StoreError> {
    let now = unix_now();
    let client = services.client(&d.client_id).await?;
    let target = client
        .as_deref()
        .and_then(|c| c.openid.backchannel_logout_uri.clone());
    let outcome = match (client.as_deref(), target) {
        (Some(client), Some(uri)) => match sign(services, client, &d, now) {
            Some(token) => attempt(services, &uri, &token).await,
            None => Outcome::Failed("no signing key for the client's algorithm".into()),
        },
        _ => Outcome::Moot,
    };
    services.db.run(move |c| record(c, &d, outcome, now)).await
}

fn sign(
    services: &Services,
    client: &crate::domain::Client,
    d: &LogoutDelivery,
    now: i64,
) -> Option<String> {
    let sub = crate::oauth::subject::subject_for(&services.sealer, client, &d.user_id);
    let claims = LogoutClaims::new(&services.settings.issuer, client, d, sub, now);
    let alg = client.id_token_alg.unwrap_or(Alg::RS256);
    let key = services.keys.current().signer(alg)?;
    Some(key.sign_jwt(LOGOUT_TYP, &claims))
}

/// POSTs the token; a 200 or 204 is a delivery (Back-Channel Logout §2.8).
async fn attempt(services: &Services, uri: &str, token: &str) -> Outcome {
    let fetcher = &services.remote.fetcher;
    match fetcher.post_form(uri, &[("logout_token", token)]).await {
        Ok(200 | 204) => Outcome::Delivered,
        Ok(status) => Outcome::Failed(format!("{uri} answered {status}")),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn record(
    store: &mut dyn crate::oauth::store::Store,
    d: &LogoutDelivery,
    outcome: Outcome,
    now: i64,
) -> Result<(), crate::db::StoreError> {
    let event = |action: &str| {
        AuditEvent::new("gatehouse".to_string(), action, now)
            .target(&d.client_id)
            .detail(serde_json::json!({
                "sid": d.sid, "user_id": d.user_id, "attempts": d.attempts + 1, "jti": d.id,
            }))
    };
    match outcome {
        Outcome::Delivered => {
            store.finish_logout(&d.id)?;
            store.record(&event("logout.backchannel.delivered"))
        }
        Outcome::Moot => store.finish_logout(&d.id),
        Outcome::Failed(error) if now - d.created_at >= backchannel::GIVE_UP_AFTER => {
            store.finish_logout(&d.id)?;
            let mut e = event("logout.backchannel.abandoned");
            e.detail = serde_json::json!({
                "sid": d.sid, "user_id": d.user_id, "attempts": d.attempts + 1, "error": error,
            });
            store.record(&e)
        }
        Outcome::Failed(error) => {
            tracing::info!(client_id = %d.client_id, %error, "a logout token was not delivered; retrying");
            let attempts = d.attempts + 1;
            let at = backchannel::next_attempt(attempts, now);
            store.retry_logout(&d.id, attempts, at, &error)
        }
    }
}

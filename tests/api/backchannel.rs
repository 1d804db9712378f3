//! OpenID Back-Channel and Front-Channel Logout 1.0 against a relying party of the test's
//! own: a receiver on a loopback port that takes logout tokens, which the test verifies
//! against the JWKS with `jsonwebtoken`. The receiver is down at first; the token is
//! queued in the database, survives a restart of the server, and arrives once the
//! receiver is up.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::authorize::{get_code, redeem, with_db, PW, RP};
use crate::both_backends_on;
use crate::fixtures::{client, jwt_parts, user, verify_with_jwks};
use crate::helpers::{location, query_param, spawn_on, Backend, TestApp, TestDb};
use gatehouse::oauth::store::prelude::*;

const BYE: &str = "https://rp.example/bye";

/// A relying party's back-channel logout endpoint: keeps every `logout_token` posted.
struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    server: actix_web::dev::ServerHandle,
}

async fn take(
    form: web::Form<std::collections::HashMap<String, String>>,
    tokens: web::Data<Arc<Mutex<Vec<String>>>>,
) -> HttpResponse {
    match form.get("logout_token") {
        Some(t) => {
            tokens.lock().unwrap().push(t.clone());
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .finish()
        }
        None => HttpResponse::BadRequest().finish(),
    }
}

impl Receiver {
    fn start(listener: TcpListener) -> Receiver {
        let tokens: Arc<Mutex<Vec<String>>> = Default::default();
        let data = web::Data::new(tokens.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/backchannel", web::post().to(take))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            tokens,
            server: handle,
        }
    }

    /// Waits until `n` tokens arrived (retries back off to a few seconds apart).
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let got = self.tokens.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no logout token arrived");
    }
}

fn settings(s: &mut gatehouse::config::Settings) {
    s.outbound.fetch.allow_loopback = true;
    s.outbound.fetch.timeout = Duration::from_secs(1);
}

pub async fn logout_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(spawn_on(backend, db, settings).await)
}

/// Checks a logout token as a relying party must (Back-Channel Logout §2.6).
async fn check_logout_token(app: &TestApp, token: &str, client_id: &str) -> Value {
    let (header, _) = jwt_parts(token);
    assert_eq!(header["typ"], "logout+jwt");
    let claims = verify_with_jwks(app, token).await;
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["aud"], client_id);
    assert!(claims["iat"].is_i64() && claims["jti"].is_string());
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    claims
}

fn db_is_postgres(app: &TestApp) -> bool {
    matches!(
        app.services.settings.database,
        gatehouse::config::DatabaseUrl::Postgres(_)
    )
}

async fn queued(app: &TestApp) -> Vec<(i32, Option<String>)> {
    with_db(app, |c| {
        c.due_logouts(i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|d| (d.attempts, d.last_error))
            .collect()
    })
    .await
}

async fn logout_reaches_the_relying_party(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
    assert_eq!(meta["frontchannel_logout_supported"], true);
    // A port where nothing listens yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let receiver_url = format!("http://127.0.0.1:{port}/backchannel");
    let c = client(
        &app,
        &[
            "--name",
            "Notes",
            "--redirect-uri",
            RP,
            "--post-logout-redirect-uri",
            BYE,
            "--backchannel-logout-uri",
            &receiver_url,
            "--backchannel-logout-session-required",
            "--frontchannel-logout-uri",
            "https://rp.example/frontchannel",
            "--frontchannel-logout-session-required",
        ],
    );
    let uid = user(&app, "lin", PW);
    let (code, req) = get_code(&app, &c, "lin", "openid").await;
    let (status, tokens) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    let sid = jwt_parts(&id_token).1["sid"].as_str().unwrap().to_string();

    // RP-initiated logout: the front channel is a page of frames, then the way back.
    let url = format!(
        "{}?id_token_hint={id_token}&post_logout_redirect_uri={BYE}&state=st",
        app.url("/logout")
    );
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let refresh = res.headers()["refresh"].to_str().unwrap().to_string();
    assert!(
        refresh.ends_with(&format!("url={BYE}?state=st")),
        "{refresh}"
    );
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-src https://rp.example"), "{csp}");
    let page = res.text().await.unwrap();
    let frame = page
        .split("src=\"")
        .find(|s| s.starts_with("https://rp.example/frontchannel"))
        .and_then(|s| s.split('"').next())
        .map(crate::helpers::html_unescape)
        .expect("a front-channel frame");
    assert_eq!(query_param(&frame, "sid").as_deref(), Some(sid.as_str()));
    assert_eq!(
        query_param(&frame, "iss").as_deref(),
        Some(app.issuer.as_str())
    );

    // The receiver is down: the token waits in the queue, with the failure noted.
    let mut tries = 0;
    let failed = loop {
        let q = queued(&app).await;
        if q.first().is_some_and(|(attempts, _)| *attempts >= 1) || tries > 50 {
            break q;
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].1.is_some(), "{failed:?}");
    // The queue survives a restart: a new server process on the same database delivers.
    let backend = match db_is_postgres(&app) {
        true => Backend::Postgres,
        false => Backend::Sqlite,
    };
    let db = app.stop().await;
    let app = spawn_on(backend, db, settings).await;
    let receiver = Receiver::start(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let got = receiver.wait_for(1).await;
    let claims = check_logout_token(&app, &got[0], &c.id).await;
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["sub"], uid.as_str());
    for _ in 0..50 {
        if queued(&app).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(queued(&app).await.is_empty(), "delivered and removed");
    let events = with_db(&app, |c| c.list_events(None, 1000).unwrap()).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "logout.backchannel.delivered"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.action == "session.end"));

    // Disabling the user (from the CLI, another process) ends the next session too.
    let (code, req) = get_code(&app, &c, "lin", "openid").await;
    let (_, tokens) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    let second_sid = jwt_parts(tokens["id_token"].as_str().unwrap()).1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second_sid, sid);
    let out = app.cli(&["users", "disable", "lin"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = receiver.wait_for(2).await;
    let claims = check_logout_token(&app, &got[1], &c.id).await;
    assert_eq!(claims["sid"], second_sid.as_str());
    receiver.server.stop(false).await;
}
both_backends_on!(
    backchannel,
    logout_reaches_the_relying_party,
    crate::backchannel::logout_app
);

async fn logout_uris_are_checked(app: TestApp) {
    for (flag, uri, field) in [
        (
            "--backchannel-logout-uri",
            "http://rp.example/bc",
            "backchannel_logout_uri",
        ),
        (
            "--frontchannel-logout-uri",
            "https://elsewhere.example/fc",
            "frontchannel_logout_uri",
        ),
    ] {
        let out = app.cli(
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--redirect-uri",
                RP,
                flag,
                uri,
            ],
            None,
        );
        assert_eq!(out.code, 1, "{uri}");
        assert!(out.stderr.contains(field), "{}", out.stderr);
    }
    // Without a front-channel URI, logout redirects at once.
    let c = client(
        &app,
        &[
            "--name",
            "Plain",
            "--redirect-uri",
            RP,
            "--post-logout-redirect-uri",
            BYE,
        ],
    );
    user(&app, "kai", PW);
    let (code, req) = get_code(&app, &c, "kai", "openid").await;
    let (_, tokens) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={BYE}",
        app.url("/logout"),
        tokens["id_token"].as_str().unwrap()
    );
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).as_deref(), Some(BYE));
}
both_backends_on!(
    logout_channels,
    logout_uris_are_checked,
    crate::backchannel::logout_app
);

//! The front page and first-run setup: `gatehouse serve` logs a one-time link while no
//! administrator exists; the link creates the first administrator once, expires, and is
//! refused once an administrator exists.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use gatehouse::crypto::secret_hash;
use gatehouse::oauth::store::prelude::*;

use crate::authorize::with_db;
use crate::both_backends;
use crate::helpers::{hidden_field, location, Backend, TestApp, TestDb, SECRET};

async fn issue(app: &TestApp) -> String {
    with_db(app, |c| {
        gatehouse::app::setup::issue_token(c, gatehouse::db::unix_now())
            .unwrap()
            .expect("no administrator yet")
    })
    .await
}

async fn post_setup(app: &TestApp, token: &str, username: &str) -> reqwest::Response {
    let page = app.page(&app.url(&format!("/setup?token={token}"))).await;
    app.http
        .post(app.url("/setup"))
        .form(&[
            (
                "csrf_token",
                hidden_field(&page, "csrf_token").unwrap().as_str(),
            ),
            ("token", token),
            ("username", username),
            ("password", "the first admin's password"),
        ])
        .send()
        .await
        .unwrap()
}

async fn first_administrator_in_the_browser(app: TestApp) {
    let front = app.page(&app.url("/")).await;
    assert!(front.contains(&app.issuer), "{front}");
    assert!(front.contains("/.well-known/openid-configuration"));
    assert!(front.contains("/jwks.json"));
    assert!(!front.contains("/admin\""), "no admin link for a stranger");

    let bogus = app
        .http
        .get(app.url("/setup?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 404);
    // An expired token is refused.
    let now = gatehouse::db::unix_now();
    with_db(&app, move |c| {
        c.insert_setup_token(&secret_hash("old-token"), now - 1, now - 3600)
            .unwrap()
    })
    .await;
    let expired = app
        .http
        .get(app.url("/setup?token=old-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 404);

    let first = issue(&app).await;
    let second = issue(&app).await;
    let res = post_setup(&app, &first, "root").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).unwrap().ends_with("/login?return_to=/admin"));
    let root = with_db(&app, |c| c.find_user_by_name("root").unwrap().unwrap()).await;
    assert!(root.is_admin);
    // Used once; and no token works once an administrator exists.
    let again = app
        .http
        .get(app.url(&format!("/setup?token={first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let late = app
        .http
        .get(app.url(&format!("/setup?token={second}")))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 404);
    let none = with_db(&app, |c| {
        gatehouse::app::setup::issue_token(c, gatehouse::db::unix_now()).unwrap()
    })
    .await;
    assert_eq!(none, None);
    let events = with_db(&app, |c| c.list_events(None, 100).unwrap()).await;
    assert!(events
        .iter()
        .any(|e| e.action == "user.create" && e.actor == "setup"));

    // Signed in, the administrator finds the admin pages from the front page.
    let login = app.page(&app.url("/login?return_to=/admin")).await;
    let res = app
        .http
        .post(app.url("/login"))
        .form(&[
            (
                "csrf_token",
                hidden_field(&login, "csrf_token").unwrap().as_str(),
            ),
            ("return_to", "/admin"),
            ("username", "root"),
            ("password", "the first admin's password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let front = app.page(&app.url("/")).await;
    assert!(front.contains(&format!("{}/admin", app.issuer)), "{front}");
}
both_backends!(first_run_setup, first_administrator_in_the_browser);

/// `gatehouse serve` on an empty database logs the link, and the link works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_a_setup_link() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATABASE_URL", &db.url)
        .env("GATEHOUSE_SECRET_KEY", SECRET)
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log goes to standard error.
    let out = child.stderr.take().unwrap();
    // Read the log on a thread that drains it to the end, so the server never writes
    // into a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(u) = v["fields"]["url"].as_str() {
                let _ = tx.send(u.to_string());
            }
        }
    });
    let url =
        tokio::task::spawn_blocking(move || rx.recv_timeout(std::time::Duration::from_secs(20)))
            .await
            .unwrap()
            .expect("a setup link in the log");
    assert!(url.contains("/setup?token="), "{url}");
    let http = crate::helpers::browser();
    let mut status = 0;
    for _ in 0..100 {
        if let Ok(r) = http.get(&url).send().await {
            status = r.status().as_u16();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "the logged link opens the setup page");
}

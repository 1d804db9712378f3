//! Client addresses: forwarding headers count only from configured proxies.

use reqwest::Method;
use serde_json::json;

use crate::admin_api::{admin_token, audit_log, event};
use crate::helpers::{spawn_on, Backend, TestDb};

/// Creates a user through the admin API with a forged `X-Forwarded-For` and returns the
/// address the audit log recorded.
async fn recorded_ip(trusted: Vec<std::net::IpAddr>, forwarded: &str) -> Option<String> {
    recorded_ip_on(Backend::Sqlite, trusted, forwarded).await
}

async fn recorded_ip_on(
    backend: Backend,
    trusted: Vec<std::net::IpAddr>,
    forwarded: &str,
) -> Option<String> {
    let db = TestDb::new(backend)?;
    let app = spawn_on(backend, db, move |s| s.trusted_proxies = trusted).await;
    let (token, _) = admin_token(&app).await;
    let res = app
        .http
        .request(Method::POST, app.url("/admin/api/users"))
        .bearer_auth(&token)
        .header("X-Forwarded-For", forwarded)
        .json(&json!({"username": "pat", "password": "pat's long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let log = audit_log(&app);
    Some(
        event(&log, "user.create", "pat")["ip"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    assert_eq!(
        recorded_ip(vec![], "203.0.113.7").await.unwrap(),
        "127.0.0.1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_from_a_trusted_proxy() {
    let loopback = "127.0.0.1".parse().unwrap();
    assert_eq!(
        recorded_ip(vec![loopback], "203.0.113.7").await.unwrap(),
        "203.0.113.7"
    );
}

/// A proxy appends what it saw: entries to its left were written by the client, so the
/// address is read from the right, never the left.
async fn read_from_the_right(backend: Backend) {
    let loopback = "127.0.0.1".parse().unwrap();
    let forged = "6.6.6.6, 198.51.100.1, 203.0.113.7";
    if let Some(ip) = recorded_ip_on(backend, vec![loopback], forged).await {
        assert_eq!(ip, "203.0.113.7");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_read_from_the_right_sqlite() {
    read_from_the_right(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_read_from_the_right_postgres() {
    read_from_the_right(Backend::Postgres).await;
}

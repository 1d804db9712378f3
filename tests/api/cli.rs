use serde_json::Value;

use crate::both_backends;
use crate::helpers::{run_cli, spawn_on, Backend, TestApp, TestDb};

async fn users_add_and_its_errors(app: TestApp) {
    let out = app.cli(
        &[
            "users",
            "add",
            "alice",
            "--password-stdin",
            "--email",
            "alice@example.com",
            "--name",
            "Alice",
        ],
        Some("correct horse battery\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = out.stdout.trim().to_string();
    assert_eq!(id.len(), 36, "prints the user's opaque id");

    let out = app.cli(
        &["users", "add", "alice", "--password-stdin"],
        Some("another password\n"),
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim().lines().count(),
        1,
        "one clear line: {}",
        out.stderr
    );

    let out = app.cli(
        &["users", "add", "bob", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("at least 8"), "{}", out.stderr);

    let out = app.cli(&["users", "add", "bob"], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);

    let out = app.cli(
        &[
            "users",
            "add",
            "bob",
            "--password-stdin",
            "--email",
            "not-an-email",
        ],
        Some("long enough pw\n"),
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("e-mail"), "{}", out.stderr);

    let out = app.cli(&["users", "list", "--json"], None);
    assert_eq!(out.code, 0);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["username"], "alice");
    assert_eq!(list[0]["id"], id.as_str());

    let out = app.cli(&["users", "disable", "alice"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = app.cli(&["users", "list", "--json"], None);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list[0]["disabled"], true);

    let out = app.cli(
        &["users", "set-password", "nobody", "--password-stdin"],
        Some("long enough pw\n"),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no user named 'nobody'"),
        "{}",
        out.stderr
    );

    let out = app.cli(&["users", "delete", "alice"], None);
    assert_eq!(out.code, 0);
    let out = app.cli(&["users", "delete", "alice"], None);
    assert_eq!(out.code, 1);
}
both_backends!(cli_users, users_add_and_its_errors);

async fn clients_create_json_and_its_errors(app: TestApp) {
    let out = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Web app",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid profile",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    let id = v["client_id"].as_str().unwrap().to_string();
    let secret = v["client_secret"].as_str().unwrap();
    assert!(
        gatehouse::crypto::b64url_decode(secret).unwrap().len() >= 32,
        "256-bit secret"
    );
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // The secret is shown once and stored only as a hash.
    let out = app.cli(&["clients", "show", &id], None);
    assert_eq!(out.code, 0);
    assert!(!out.stdout.contains(secret));
    let stored = app.services.db.conn().unwrap();
    drop(stored);

    let out = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Public",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:7000/cb",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert!(v.get("client_secret").is_none());
    assert_eq!(v["token_endpoint_auth_method"], "none");

    for (args, needle) in [
        (
            vec![
                "clients",
                "create",
                "--name",
                "x",
                "--redirect-uri",
                "http://evil.example/cb",
            ],
            "redirect_uris",
        ),
        (
            vec![
                "clients",
                "create",
                "--name",
                "x",
                "--redirect-uri",
                "https://a.example/cb#f",
            ],
            "fragment",
        ),
        (
            vec![
                "clients",
                "create",
                "--name",
                "x",
                "--grant-type",
                "password",
            ],
            "grant_types",
        ),
        (
            vec![
                "clients",
                "create",
                "--name",
                "x",
                "--public",
                "--grant-type",
                "client_credentials",
            ],
            "confidential",
        ),
        (
            vec![
                "clients",
                "create",
                "--name",
                "x",
                "--grant-type",
                "authorization_code",
            ],
            "redirect URI",
        ),
    ] {
        let out = app.cli(&args, None);
        assert_eq!(out.code, 1, "{args:?} must fail");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }

    let out = app.cli(&["clients", "rotate-secret", &id, "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_ne!(v["client_secret"].as_str().unwrap(), secret);

    let out = app.cli(&["clients", "list", "--json"], None);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let out = app.cli(&["clients", "delete", &id], None);
    assert_eq!(out.code, 0);
    let out = app.cli(&["clients", "show", &id], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no client"));
}
both_backends!(cli_clients, clients_create_json_and_its_errors);

async fn keys_rotate_keeps_retired_key_published(app: TestApp) {
    let kids = |v: &Value| -> Vec<String> {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let before: Value = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signer = |app: &TestApp| {
        app.services
            .keys
            .current()
            .signer(gatehouse::keys::Alg::ES256)
            .unwrap()
            .kid
            .clone()
    };
    let old_kid = signer(&app);
    let reload = |app: &TestApp| {
        let services = app.services.clone();
        async move {
            tokio::task::spawn_blocking(move || services.reload_keys())
                .await
                .unwrap()
                .unwrap()
        }
    };
    // Scheduled: published at once, signing after the pre-publication time.
    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let next_kid = out.stdout.trim().to_string();
    reload(&app).await;
    let jwks = |app: &TestApp| {
        let http = app.http.clone();
        let url = app.url("/jwks.json");
        async move {
            let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let after = jwks(&app).await;
    assert_eq!(after.len(), 4, "the next ES256 key is published");
    assert!(after.contains(&next_kid));
    assert_eq!(signer(&app), old_kid, "the current key still signs");
    let listed: Value =
        serde_json::from_str(&app.cli(&["keys", "list", "--json"], None).stdout).unwrap();
    let state = |kid: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state(&next_kid).as_deref(), Some("next"));
    assert_eq!(state(&old_kid).as_deref(), Some("active"));

    // At once: the new key signs now; the others stay published.
    let out = app.cli(&["keys", "rotate", "--alg", "ES256", "--now"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let new_kid = out.stdout.trim().to_string();
    reload(&app).await;
    let after = jwks(&app).await;
    assert_eq!(after.len(), 5, "retired keys stay published");
    for k in kids(&before) {
        assert!(after.contains(&k));
    }
    assert_eq!(signer(&app), new_kid);
    let listed: Value =
        serde_json::from_str(&app.cli(&["keys", "list", "--json"], None).stdout).unwrap();
    let active = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "active")
        .count();
    assert_eq!(active, 3, "one active key per algorithm");

    let out = app.cli(&["keys", "rotate", "--alg", "HS256"], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("HS256"));
}
both_backends!(cli_keys, keys_rotate_keeps_retired_key_published);

#[test]
fn invalid_settings_exit_2_naming_the_setting() {
    for (var, value, needle) in [
        (
            "GATEHOUSE_ISSUER",
            "https://id.example/?x=1",
            "GATEHOUSE_ISSUER",
        ),
        (
            "GATEHOUSE_ISSUER",
            "https://id.example/#frag",
            "GATEHOUSE_ISSUER",
        ),
        (
            "GATEHOUSE_DATABASE_URL",
            "mysql://localhost/x",
            "GATEHOUSE_DATABASE_URL",
        ),
        ("GATEHOUSE_BIND", "nowhere", "GATEHOUSE_BIND"),
        (
            "GATEHOUSE_ACCESS_TOKEN_TTL",
            "forever",
            "GATEHOUSE_ACCESS_TOKEN_TTL",
        ),
        (
            "GATEHOUSE_CONFIG",
            "/nonexistent/gatehouse.toml",
            "--config",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["migrate"])
            .env(var, value)
            .env(
                "GATEHOUSE_DATABASE_URL",
                if var == "GATEHOUSE_DATABASE_URL" {
                    value
                } else {
                    "sqlite:///nonexistent-dir/x.db"
                },
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(needle), "{var}={value}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

/// Keys, clients and users survive a restart on the same database.
async fn restart_keeps_state(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let app = spawn_on(backend, db, |_| {}).await;
    let jwks1: Value = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let out = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let client: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(
        app.cli(
            &["users", "add", "carol", "--password-stdin"],
            Some("carol's password\n")
        )
        .code,
        0
    );
    let db = app.stop().await;

    let app = spawn_on(backend, db, |_| {}).await;
    let jwks2: Value = app
        .http
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks1, jwks2, "same keys after restart");
    let out = app.cli(
        &["clients", "show", client["client_id"].as_str().unwrap()],
        None,
    );
    assert_eq!(out.code, 0);
    let out = run_cli(&app.db.url, &["users", "list", "--json"], None);
    assert!(out.stdout.contains("carol"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state_sqlite() {
    restart_keeps_state(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state_postgres() {
    restart_keeps_state(Backend::Postgres).await;
}

/// Without a configured secret, SQLite gets a generated one beside the database, 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_generates_secret_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["migrate"])
        .env_remove("GATEHOUSE_SECRET_KEY")
        .env(
            "GATEHOUSE_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = dir.path().join("g.db.secret");
    let meta = std::fs::metadata(&secret).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&secret).unwrap().len() >= 32);

    // A different secret cannot open the stored keys: a clear error, exit 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["migrate"])
        .env(
            "GATEHOUSE_SECRET_KEY",
            "a-completely-different-secret-of-enough-length",
        )
        .env(
            "GATEHOUSE_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GATEHOUSE_SECRET_KEY"), "{stderr}");
}

use diesel::prelude::*;
use serde_json::Value;

use gatehouse::db::cleanup::{cleanup_expired, CleanupReport};
use gatehouse::db::schema::{
    authorization_codes, login_failures, login_sessions, refresh_tokens, revoked_tokens,
    used_assertions,
};
use gatehouse::db::{unix_now, DbConn};

use crate::both_backends;
use crate::helpers::TestApp;

fn audit_json(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(extra);
    let out = app.cli(&args, None);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("a JSON array");
    v.as_array().expect("a JSON array").clone()
}

async fn cli_changes_are_audited(app: TestApp) {
    let before = unix_now();
    let out = app.cli(
        &[
            "clients",
            "create",
            "--name",
            "Audited",
            "--redirect-uri",
            "https://app.example/cb",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let client: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let secret = client["client_secret"].as_str().unwrap().to_string();

    let out = app.cli(
        &["users", "add", "alice", "--password-stdin"],
        Some("correct horse battery\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let user_id = out.stdout.trim().to_string();

    // `--`: a client id may begin with '-'.
    let out = app.cli(
        &["clients", "rotate-secret", "--json", "--", &client_id],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rotated: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let out = app.cli(&["users", "disable", "alice"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let kid = out.stdout.trim().to_string();
    // A failed command records nothing.
    let out = app.cli(&["users", "delete", "nobody"], None);
    assert_eq!(out.code, 1);

    let events = audit_json(&app, &[]);
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "key.rotate",
            "user.disable",
            "client.secret_rotate",
            "user.create",
            "client.create"
        ],
        "newest first"
    );
    for e in &events {
        assert_eq!(e["actor"], "cli", "{e}");
        assert!(e["created_at"].as_i64().unwrap() >= before, "{e}");
        assert_eq!(e["id"].as_str().unwrap().len(), 36, "{e}");
        assert!(e["detail"].is_object(), "{e}");
    }
    let find = |action: &str| events.iter().find(|e| e["action"] == action).unwrap();
    assert_eq!(find("client.create")["target"], client_id.as_str());
    assert_eq!(find("client.create")["detail"]["client_name"], "Audited");
    assert_eq!(find("client.secret_rotate")["target"], client_id.as_str());
    assert_eq!(find("user.create")["target"], "alice");
    assert_eq!(find("user.create")["detail"]["user_id"], user_id.as_str());
    assert_eq!(find("user.disable")["target"], "alice");
    assert_eq!(find("key.rotate")["target"], kid.as_str());
    assert_eq!(find("key.rotate")["detail"]["alg"], "ES256");

    // No secret or password hash ever reaches the log.
    let out = app.cli(&["audit", "--json"], None);
    for s in [
        secret.as_str(),
        rotated["client_secret"].as_str().unwrap(),
        "argon2",
        "correct horse",
    ] {
        assert!(!out.stdout.contains(s), "audit output leaks {s}");
    }

    // --limit, and each form of --since.
    assert_eq!(audit_json(&app, &["--limit", "2"]).len(), 2);
    assert_eq!(audit_json(&app, &["--since", "1h"]).len(), 5);
    assert_eq!(audit_json(&app, &["--since", &before.to_string()]).len(), 5);
    assert_eq!(
        audit_json(&app, &["--since", "2000-01-01T00:00:00Z"]).len(),
        5
    );
    let future = (unix_now() + 3600).to_string();
    assert!(audit_json(&app, &["--since", &future]).is_empty());
    assert!(audit_json(&app, &["--since", "2999-01-01T00:00:00Z"]).is_empty());

    for bad in ["yesterday", "2026-13-01T00:00:00Z", "-1h", ""] {
        let out = app.cli(&["audit", &format!("--since={bad}")], None);
        assert_eq!(out.code, 1, "--since {bad:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains("--since"), "{}", out.stderr);
    }

    // Text output: one line per event, with an RFC 3339 time.
    let out = app.cli(&["audit"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    assert!(lines[4].contains("client.create") && lines[4].contains(&client_id));
    assert!(lines[4].contains(" cli "), "{}", lines[4]);
    let time = lines[0].split_whitespace().next().unwrap();
    assert!(
        time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
}
both_backends!(audit_cli, cli_changes_are_audited);

/// Rows for one test: what `gatehouse cleanup` must delete and what it must keep.
struct Fixture {
    user_id: String,
    client_id: String,
}

impl Fixture {
    fn create(app: &TestApp) -> Fixture {
        let out = app.cli(
            &["users", "add", "carol", "--password-stdin"],
            Some("carol's password\n"),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let user_id = out.stdout.trim().to_string();
        let out = app.cli(
            &[
                "clients",
                "create",
                "--name",
                "c",
                "--redirect-uri",
                "https://app.example/cb",
                "--json",
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        Fixture {
            user_id,
            client_id: v["client_id"].as_str().unwrap().to_string(),
        }
    }

    fn code(&self, conn: &mut DbConn, hash: &str, expires_at: i64) {
        diesel::insert_into(authorization_codes::table)
            .values((
                authorization_codes::code_hash.eq(hash),
                authorization_codes::client_id.eq(&self.client_id),
                authorization_codes::user_id.eq(&self.user_id),
                authorization_codes::redirect_uri.eq("https://app.example/cb"),
                authorization_codes::scopes.eq("openid"),
                authorization_codes::code_challenge.eq("challenge"),
                authorization_codes::sid.eq(format!("sid-{hash}")),
                authorization_codes::auth_time.eq(expires_at - 120),
                authorization_codes::amr.eq("[\"pwd\"]"),
                authorization_codes::family_id.eq(format!("fam-{hash}")),
                authorization_codes::created_at.eq(expires_at - 60),
                authorization_codes::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .unwrap();
    }

    fn session(&self, conn: &mut DbConn, hash: &str, expires_at: i64) {
        diesel::insert_into(login_sessions::table)
            .values((
                login_sessions::id_hash.eq(hash),
                login_sessions::sid.eq(format!("sid-{hash}")),
                login_sessions::user_id.eq(&self.user_id),
                login_sessions::auth_time.eq(expires_at - 3600),
                login_sessions::amr.eq("[\"pwd\"]"),
                login_sessions::created_at.eq(expires_at - 3600),
                login_sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .unwrap();
    }

    fn refresh(&self, conn: &mut DbConn, hash: &str, expires_at: i64) {
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_hash.eq(hash),
                refresh_tokens::family_id.eq(format!("fam-{hash}")),
                refresh_tokens::client_id.eq(&self.client_id),
                refresh_tokens::user_id.eq(&self.user_id),
                refresh_tokens::scopes.eq("openid offline_access"),
                refresh_tokens::auth_time.eq(expires_at - 86400),
                refresh_tokens::created_at.eq(expires_at - 86400),
                refresh_tokens::expires_at.eq(expires_at),
                refresh_tokens::idle_expires_at.eq(expires_at),
                refresh_tokens::revoked.eq(false),
            ))
            .execute(conn)
            .unwrap();
    }
}

fn revoked(conn: &mut DbConn, jti: &str, expires_at: i64) {
    diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .unwrap();
}

fn assertion(conn: &mut DbConn, key: &str, expires_at: i64) {
    diesel::insert_into(used_assertions::table)
        .values((
            used_assertions::jti_key.eq(key),
            used_assertions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .unwrap();
}

fn failure(conn: &mut DbConn, key: &str, last_failure_at: i64, blocked_until: i64) {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::throttle_key.eq(key),
            login_failures::failures.eq(5),
            login_failures::last_failure_at.eq(last_failure_at),
            login_failures::blocked_until.eq(blocked_until),
        ))
        .execute(conn)
        .unwrap();
}

/// Every table's remaining primary keys, sorted.
fn remaining(conn: &mut DbConn) -> [Vec<String>; 6] {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    [
        sorted(
            authorization_codes::table
                .select(authorization_codes::code_hash)
                .load(conn)
                .unwrap(),
        ),
        sorted(
            login_sessions::table
                .select(login_sessions::id_hash)
                .load(conn)
                .unwrap(),
        ),
        sorted(
            refresh_tokens::table
                .select(refresh_tokens::token_hash)
                .load(conn)
                .unwrap(),
        ),
        sorted(
            revoked_tokens::table
                .select(revoked_tokens::jti)
                .load(conn)
                .unwrap(),
        ),
        sorted(
            used_assertions::table
                .select(used_assertions::jti_key)
                .load(conn)
                .unwrap(),
        ),
        sorted(
            login_failures::table
                .select(login_failures::throttle_key)
                .load(conn)
                .unwrap(),
        ),
    ]
}

async fn cleanup_deletes_only_expired_rows(app: TestApp) {
    let f = Fixture::create(&app);
    let now = unix_now();
    let day = 86400;
    {
        let mut conn = app.services.db.conn().unwrap();
        let conn = &mut *conn;
        f.code(conn, "code-old", now - 7200);
        // Expired a minute ago: kept for an hour so a replay is still recognised.
        f.code(conn, "code-recent", now - 60);
        f.code(conn, "code-live", now + 60);
        f.session(conn, "session-old", now - 1);
        f.session(conn, "session-live", now + 3600);
        f.refresh(conn, "refresh-old", now - 10);
        f.refresh(conn, "refresh-live", now + 30 * day);
        // Revoked, its access token expired: nothing can use it, so it goes early.
        f.refresh(conn, "refresh-revoked", now + 30 * day);
        diesel::update(
            refresh_tokens::table.filter(refresh_tokens::token_hash.eq("refresh-revoked")),
        )
        .set((
            refresh_tokens::revoked.eq(true),
            refresh_tokens::access_expires_at.eq(Some(now - 10)),
        ))
        .execute(conn)
        .unwrap();
        revoked(conn, "jti-old", now - 10);
        revoked(conn, "jti-live", now + 600);
        assertion(conn, "assertion-old", now - 10);
        assertion(conn, "assertion-live", now + 600);
        failure(conn, "fail-stale", now - 2 * day, now - 2 * day);
        failure(conn, "fail-recent", now - 3600, 0);
        // Quiet for two days but blocked until tomorrow: kept.
        failure(conn, "fail-blocked", now - 2 * day, now + day);
    }

    let out = app.cli(&["cleanup", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("a JSON report");
    assert_eq!(
        report,
        serde_json::json!({
            "authorization_codes": 1, "login_sessions": 1, "refresh_tokens": 2,
            "revoked_tokens": 1, "used_assertions": 1, "login_failures": 1, "pushed_requests": 0, "device_codes": 0, "token_exchanges": 0, "session_clients": 0,
            "audit_events": 0, "unused_self_registered_clients": 0,
        })
    );
    let mut conn = app.services.db.conn().unwrap();
    assert_eq!(
        remaining(&mut conn),
        [
            vec!["code-live".to_string(), "code-recent".into()],
            vec!["session-live".into()],
            vec!["refresh-live".into()],
            vec!["jti-live".into()],
            vec!["assertion-live".into()],
            vec!["fail-blocked".into(), "fail-recent".into()],
        ]
    );
    drop(conn);

    // A second run finds nothing; the text form says so.
    let out = app.cli(&["cleanup"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("deleted 0 expired rows"),
        "{}",
        out.stdout
    );

    // More expired rows than a batch holds: 7 (not a multiple of 2), 6 (a multiple),
    // 5 and 5 more, each deleted two at a time.
    let mut conn = app.services.db.conn().unwrap();
    let conn = &mut *conn;
    for i in 0..7 {
        revoked(conn, &format!("jti-batch-{i}"), now - 100 - i);
    }
    for i in 0..6 {
        assertion(conn, &format!("assertion-batch-{i}"), now - 100 - i);
    }
    for i in 0..5 {
        f.session(conn, &format!("session-batch-{i}"), now - 100 - i);
        f.code(conn, &format!("code-batch-{i}"), now - 7200 - i);
        f.refresh(conn, &format!("refresh-batch-{i}"), now - 100 - i);
        failure(
            conn,
            &format!("fail-batch-{i}"),
            now - 3 * day,
            now - 3 * day,
        );
    }
    let report = cleanup_expired(conn, now, 2, 0).unwrap();
    assert_eq!(
        report,
        CleanupReport {
            authorization_codes: 5,
            login_sessions: 5,
            refresh_tokens: 5,
            revoked_tokens: 7,
            used_assertions: 6,
            pushed_requests: 0,
            device_codes: 0,
            token_exchanges: 0,
            session_clients: 0,
            login_failures: 5,
            audit_events: 0,
        }
    );
    assert_eq!(report.total(), 33);
    assert_eq!(
        remaining(conn),
        [
            vec!["code-live".to_string(), "code-recent".into()],
            vec!["session-live".into()],
            vec!["refresh-live".into()],
            vec!["jti-live".into()],
            vec!["assertion-live".into()],
            vec!["fail-blocked".into(), "fail-recent".into()],
        ]
    );
    assert_eq!(
        cleanup_expired(conn, now, 2, 0).unwrap(),
        CleanupReport::default()
    );
}
both_backends!(cleanup, cleanup_deletes_only_expired_rows);

async fn audit_events_past_retention_are_deleted(app: TestApp) {
    use gatehouse::oauth::store::prelude::*;
    use gatehouse::oauth::store::AuditEvent;
    let db = app.services.db.clone();
    let (kept_by_zero, deleted, left) = tokio::task::spawn_blocking(move || {
        let mut conn = db.conn().unwrap();
        let now = unix_now();
        let year = 365 * 86400;
        conn.record(&AuditEvent::new("cli", "user.create", now - year - 10).target("old"))
            .unwrap();
        conn.record(&AuditEvent::new("cli", "user.create", now - 10).target("new"))
            .unwrap();
        let kept_by_zero = cleanup_expired(&mut conn, now, 2, 0).unwrap().audit_events;
        let deleted = cleanup_expired(&mut conn, now, 2, year)
            .unwrap()
            .audit_events;
        let left: Vec<Option<String>> = conn
            .list_events(None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.target)
            .collect();
        (kept_by_zero, deleted, left)
    })
    .await
    .unwrap();
    assert_eq!(kept_by_zero, 0, "retention 0 keeps every event");
    assert_eq!(deleted, 1);
    assert_eq!(left, [Some("new".to_string())]);
}
both_backends!(audit_retention, audit_events_past_retention_are_deleted);

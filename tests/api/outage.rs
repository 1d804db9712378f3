//! A database that goes away or turns read-only: requests that need it get a prompt
//! 503 `temporarily_unavailable` with `Retry-After`, machine clients already known keep
//! getting tokens, readiness says so, and everything recovers without a restart.

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::Method;

use crate::admin_api::{admin_token, call};
use crate::fixtures::{machine, post_form};
use crate::helpers::{spawn_on, Backend, TestApp, TestDb};

fn sql(base: &str, statements: &[String]) {
    let mut c = PgConnection::establish(base).unwrap();
    for s in statements {
        diesel::sql_query(s).execute(&mut c).unwrap();
    }
}

/// Ends every connection to `name` but this one.
fn kick(name: &str) -> String {
    format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
}

async fn ready(app: &TestApp) -> u16 {
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    res.status().as_u16()
}

/// Polls until the server is ready again (a bounded loop, not a timing assertion).
async fn until_ready(app: &TestApp) {
    for _ in 0..100 {
        if ready(app).await == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not ready again after the database came back");
}

/// A server on its own PostgreSQL database, with the server's base URL and the
/// database's name; `None` without PostgreSQL.
async fn postgres_app() -> Option<(TestApp, String, String)> {
    let db = TestDb::new(Backend::Postgres)?;
    let (base, name) = db.postgres().map(|(b, n)| (b.to_string(), n.to_string()))?;
    Some((spawn_on(Backend::Postgres, db, |_| {}).await, base, name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_503_and_recovery_needs_no_restart() {
    let Some((app, base, name)) = postgres_app().await else {
        return;
    };
    let m = machine(&app, "read", &[]);
    let basic = Some((m.id.as_str(), m.secret.as_deref().unwrap()));
    let form = [("grant_type", "client_credentials")];
    let (token, _) = admin_token(&app).await;
    assert_eq!(post_form(&app, "/token", basic, &form).await.0, 200);

    sql(
        &base,
        &[
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
            kick(&name),
        ],
    );
    let (status, body, headers) =
        call(&app, Method::GET, "/admin/api/users", Some(&token), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(ready(&app).await, 503);
    let (status, body, _) = post_form(&app, "/token", basic, &form).await;
    assert_eq!(
        status, 200,
        "a known machine client still gets tokens: {body}"
    );

    sql(
        &base,
        &[format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")],
    );
    until_ready(&app).await;
    let (status, _, _) = call(&app, Method::GET, "/admin/api/users", Some(&token), None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_not_ready() {
    let Some((app, base, name)) = postgres_app().await else {
        return;
    };
    assert_eq!(ready(&app).await, 200);
    sql(
        &base,
        &[
            format!("ALTER DATABASE {name} SET default_transaction_read_only = on"),
            kick(&name),
        ],
    );
    assert_eq!(ready(&app).await, 503, "reads work, writes do not");
    let res = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "what needs no database still works");
    sql(
        &base,
        &[
            format!("ALTER DATABASE {name} RESET default_transaction_read_only"),
            kick(&name),
        ],
    );
    until_ready(&app).await;
}

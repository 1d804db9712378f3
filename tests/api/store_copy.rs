//! `gatehouse store copy`: tokens and a session made on SQLite keep working after the
//! data moved to PostgreSQL (and back), with the same issuer and secret.

use diesel::prelude::*;
use serde_json::Value;

use crate::authorize::{get_code, redeem, web_client, PW, RP};
use crate::fixtures::{jwt_parts, user};
use crate::helpers::{code_request, location, query_param, run_cli, spawn_on, Backend, TestDb};

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
}

/// The tables of a migrated PostgreSQL database.
fn postgres_tables(url: &str) -> Vec<String> {
    let mut c = PgConnection::establish(url).unwrap();
    let mut names: Vec<String> = diesel::sql_query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '__diesel_schema_migrations'",
    )
    .load::<TableName>(&mut c)
    .unwrap()
    .into_iter()
    .map(|t| t.table_name)
    .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_keeps_working_after_moving_to_postgres() {
    let Some(pg) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let c = web_client(&app, &[]);
    let uid = user(&app, "ivy", PW);
    let (code, req) = get_code(&app, &c, "ivy", "openid offline_access").await;
    let (status, tokens) = redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let access = tokens["access_token"].as_str().unwrap().to_string();

    let out = app.cli(&["store", "copy", "--to", &pg.url], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("counts and checksums match"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("refresh_tokens"), "{}", out.stdout);
    // A second copy into the now full target is refused, unless forced.
    let again = app.cli(&["store", "copy", "--to", &pg.url], None);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let forced = app.cli(&["store", "copy", "--to", &pg.url, "--force"], None);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    // The copy knows every table the migrations make.
    let mut known: Vec<String> = gatehouse::db::copy::TABLES
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    known.sort();
    assert_eq!(known, postgres_tables(&pg.url));

    // Serve on PostgreSQL with the same issuer; the browser keeps its cookies.
    let issuer = app.issuer.clone();
    let browser = app.http.clone();
    let _sqlite = app.stop().await;
    let moved = spawn_on(Backend::Postgres, pg, move |s| s.issuer = issuer).await;
    let basic = Some((c.id.as_str(), c.secret.as_deref().unwrap()));
    let (status, body, _) = crate::fixtures::post_form(
        &moved,
        "/token",
        basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "the refresh token works: {body}");
    let (status, seen, _) =
        crate::fixtures::post_form(&moved, "/introspect", basic, &[("token", access.as_str())])
            .await;
    assert_eq!(status, 200);
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], uid.as_str());
    // The session and the consent came along: a silent authorization succeeds.
    let req = code_request(
        &moved,
        &c.id,
        RP,
        "openid offline_access",
        &[("prompt", "none")],
    );
    let res = browser.get(&req.url).send().await.unwrap();
    let loc = location(&res).unwrap();
    let code = query_param(&loc, "code").unwrap_or_else(|| panic!("silently: {loc}"));
    let (status, tokens) = redeem(&moved, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let (header, _) = jwt_parts(tokens["id_token"].as_str().unwrap());
    let jwks: Value = crate::helpers::get_json(&moved, "/jwks.json").await;
    assert!(
        jwks.to_string().contains(header["kid"].as_str().unwrap()),
        "same keys"
    );

    // And back to SQLite.
    let back = TestDb::new(Backend::Sqlite).unwrap();
    let out = run_cli(&moved.db.url, &["store", "copy", "--to", &back.url], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("counts and checksums match"));
}

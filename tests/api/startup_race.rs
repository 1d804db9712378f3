//! Instances that start together on an empty database: one migrates and creates the
//! signing keys, the others wait and find them; none fails, and there is one active key
//! per algorithm. Real processes of the gatehouse binary.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse::config::DatabaseUrl;
use gatehouse::db::Db;
use gatehouse::oauth::store::prelude::*;

use crate::helpers::{Backend, TestDb, SECRET};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(db_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATABASE_URL", db_url)
        .env("GATEHOUSE_SECRET_KEY", SECRET)
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_ISSUER", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gatehouse")
}

/// Waits until every instance answers `/readyz`; panics with its output if one exits.
async fn all_ready(children: &mut [(Child, u16)]) {
    let http = crate::helpers::browser();
    let deadline = Instant::now() + Duration::from_secs(30);
    for (child, port) in children.iter_mut() {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("an instance exited ({status}): {err}");
            }
            let url = format!("http://127.0.0.1:{port}/readyz");
            if let Ok(r) = http.get(&url).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "an instance never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn trials(backend: Backend) {
    for _ in 0..3 {
        let Some(db) = TestDb::new(backend) else {
            return;
        };
        let mut children: Vec<(Child, u16)> = (0..2)
            .map(|_| {
                let port = free_port();
                (serve(&db.url, port), port)
            })
            .collect();
        all_ready(&mut children).await;
        for (mut c, _) in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let keys = tokio::task::spawn_blocking(move || {
            let db = Db::connect(&url).unwrap();
            let mut conn = db.conn().unwrap();
            conn.list_keys(gatehouse::db::unix_now(), 0).unwrap()
        })
        .await
        .unwrap();
        let mut algs: Vec<_> = keys.iter().map(|k| k.alg.clone()).collect();
        algs.sort();
        assert_eq!(algs, ["ES256", "EdDSA", "RS256"], "one key set: {keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_start_together_on_sqlite() {
    trials(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_start_together_on_postgres() {
    trials(Backend::Postgres).await;
}

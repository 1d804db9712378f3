//! Spawns the real server in-process on a loopback port over a fresh database.

use std::net::TcpListener;

use diesel::{Connection, PgConnection, RunQueryDsl};
use gatehouse::config::{Settings, SettingsArgs};
use gatehouse::startup::{self, Services};

pub const SECRET: &str = "test-secret-key-that-is-long-enough-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test: a SQLite file in a temporary folder, or a PostgreSQL
/// database created for it and dropped afterwards.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // Drop from a plain thread: Drop can't await, and the server's pool may
            // still hold connections, which FORCE ends.
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = PgConnection::establish(&base) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }
            })
            .join();
        }
    }
}

fn require(var: &str) -> bool {
    std::env::var(var).map(|v| v == "1").unwrap_or(false)
}

impl TestDb {
    /// `None` when PostgreSQL is not configured (and not required).
    pub fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Some(TestDb {
                url: format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
                _dir: dir,
                pg: None,
            }),
            Backend::Postgres => {
                let Ok(base) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
                    if require("GATEHOUSE_REQUIRE_POSTGRES") {
                        panic!("GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set");
                    }
                    eprintln!(
                        "\n*** SKIPPED on PostgreSQL: GATEHOUSE_TEST_POSTGRES_URL is not set ***\n"
                    );
                    return None;
                };
                let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&base).unwrap_or_else(|e| {
                    panic!("PostgreSQL at GATEHOUSE_TEST_POSTGRES_URL is not reachable: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&base).expect("GATEHOUSE_TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                Some(TestDb {
                    url: url.to_string(),
                    _dir: dir,
                    pg: Some((base, name)),
                })
            }
        }
    }
}

pub struct TestApp {
    pub backend: Backend,
    pub issuer: String,
    pub services: Services,
    pub http: reqwest::Client,
    pub db: TestDb,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Runs the real `gatehouse` binary against this app's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        run_cli(&self.db.url, args, stdin)
    }

    pub async fn stop(self) -> TestDb {
        self.server.stop(true).await;
        self.db
    }
}

pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_cli(db_url: &str, args: &[&str], stdin: Option<&str>) -> CliOutput {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATABASE_URL", db_url)
        .env("GATEHOUSE_SECRET_KEY", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Settings for a test server; `tweak` may adjust them.
pub fn test_settings(db_url: &str, port: u16) -> Settings {
    Settings::resolve(&SettingsArgs {
        issuer: Some(format!("http://127.0.0.1:{port}")),
        bind: Some(format!("127.0.0.1:{port}")),
        database_url: Some(db_url.to_string()),
        secret_key: Some(SECRET.to_string()),
        ..Default::default()
    })
    .expect("test settings")
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    Some(spawn_on(backend, db, |_| {}).await)
}

/// Spawns a server over an existing test database.
pub async fn spawn_on(backend: Backend, db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let mut settings = test_settings(&db.url, port);
    tweak(&mut settings);
    let issuer = settings.issuer.clone();
    let services = tokio::task::spawn_blocking(move || Services::open(settings))
        .await
        .unwrap()
        .expect("services open");
    let server = startup::run(listener, services.clone()).expect("server starts");
    let handle = server.handle();
    tokio::spawn(server);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        backend,
        issuer,
        services,
        http,
        db,
        server: handle,
    }
}

/// Defines `NAME::sqlite` and `NAME::postgres`, each running `body(app)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite)
                    .await
                    .unwrap();
                super::$body(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) =
                    $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await
                {
                    super::$body(app).await;
                }
            }
        }
    };
}

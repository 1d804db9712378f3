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
    /// For a PostgreSQL database: the server's base URL and the database's name.
    pub fn postgres(&self) -> Option<(&str, &str)> {
        self.pg.as_ref().map(|(b, n)| (b.as_str(), n.as_str()))
    }

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

/// The body of a GET with `http` (a page to fill in).
pub async fn page_of(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

impl TestApp {
    /// The body of a GET with this app's cookie-keeping client (a page to fill in).
    pub async fn page(&self, url: &str) -> String {
        page_of(&self.http, url).await
    }

    /// `path` on this server: at its listening address (the issuer, unless a test gave
    /// the server another one).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.services.settings.bind, path)
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
    gatehouse::fetch::install_tls_provider();
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

/// [`both_backends!`] for apps made by `$spawn` (an `async fn(Backend) -> Option<TestApp>`
/// with settings of its own), named by an absolute path.
#[macro_export]
macro_rules! both_backends_on {
    ($name:ident, $body:ident, $spawn:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                super::$body(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $spawn($crate::helpers::Backend::Postgres).await {
                    super::$body(app).await;
                }
            }
        }
    };
}

// ---- The browser side of the authorization-code flow (login and consent pages). ----

/// A fresh browser: keeps cookies, never follows redirects.
pub fn browser() -> reqwest::Client {
    gatehouse::fetch::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// A PKCE pair (S256).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = gatehouse::crypto::random_token(32);
    let challenge = gatehouse::crypto::b64url(&gatehouse::crypto::sha256(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// An authorization request URL with PKCE, state and nonce, plus what the client keeps.
pub struct CodeRequest {
    pub url: String,
    pub pkce: Pkce,
    pub state: String,
    pub nonce: String,
    pub redirect_uri: String,
}

/// `GET /authorize` parameters for `client_id`; `extra` adds or replaces parameters
/// (an empty value removes one).
pub fn code_request(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> CodeRequest {
    let pkce = pkce();
    let state = gatehouse::crypto::random_token(8);
    let nonce = gatehouse::crypto::random_token(8);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push((k.to_string(), v.to_string()));
        }
    }
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    CodeRequest {
        url: url.to_string(),
        pkce,
        state,
        nonce,
        redirect_uri: redirect_uri.to_string(),
    }
}

/// Undoes HTML escaping: named entities and numeric ones (askama writes `&#38;` etc.).
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of the hidden (or any) input named `name` in a page.
pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[start + name.len() + 15..];
    Some(html_unescape(&rest[..rest.find('"')?]))
}

/// The first form's `action`.
pub fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + 8;
    html_unescape(&html[start..start + html[start..].find('"').unwrap()])
}

/// The text of the page's `role="alert"` element.
pub fn alert_text(html: &str) -> Option<String> {
    let start = html.find("role=\"alert\">")? + 13;
    Some(html_unescape(
        html[start..start + html[start..].find('<')?].trim(),
    ))
}

pub fn is_login_page(html: &str) -> bool {
    html.contains("name=\"password\"")
}

pub fn is_consent_page(html: &str) -> bool {
    html.contains("name=\"decision\" value=\"allow\"")
}

pub fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Posts the login form of `page` with these credentials (and the page's hidden fields).
pub async fn submit_login(
    http: &reqwest::Client,
    page: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    http.post(form_action(page))
        .form(&[
            (
                "csrf_token",
                hidden_field(page, "csrf_token").unwrap().as_str(),
            ),
            ("request", hidden_field(page, "request").unwrap().as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Posts the consent form of `page` with `decision` (`allow` or `deny`).
pub async fn submit_consent(
    http: &reqwest::Client,
    page: &str,
    decision: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("csrf_token", hidden_field(page, "csrf_token").unwrap()),
        ("request", hidden_field(page, "request").unwrap()),
        ("decision", decision.to_string()),
    ];
    if let Some(proof) = hidden_field(page, "login_proof") {
        form.push(("login_proof", proof));
    }
    http.post(form_action(page))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Follows an authorization request through the login page (when shown) and the consent
/// page (when shown, answering "allow"); returns the final redirect to the client.
pub async fn login_flow(
    http: &reqwest::Client,
    authorize_url: &str,
    username: &str,
    password: &str,
) -> String {
    let mut res = http.get(authorize_url).send().await.unwrap();
    for _ in 0..3 {
        if res.status() == 303 {
            return location(&res).unwrap();
        }
        let status = res.status();
        let page = res.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        res = if is_login_page(&page) {
            submit_login(http, &page, username, password).await
        } else if is_consent_page(&page) {
            submit_consent(http, &page, "allow").await
        } else {
            panic!("neither a login nor a consent page: {page}");
        };
    }
    panic!("no redirect to the client after login and consent");
}

/// Exchanges a code at the token endpoint: Basic authentication when `secret` is given,
/// else as a public client.
pub async fn exchange(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    if secret.is_none() {
        form.push(("client_id", client_id));
    }
    let mut req = browser().post(app.url("/token")).form(&form);
    if let Some(s) = secret {
        req = req.basic_auth(client_id, Some(s));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The JSON at `path` of the app, fetched with its client.
pub async fn get_json(app: &TestApp, path: &str) -> serde_json::Value {
    let res = app.http.get(app.url(path)).send().await.unwrap();
    res.json().await.unwrap()
}

/// The consent page a fresh browser reaches for `client_id` after logging in as
/// `username` (asserting that the login page came first).
pub async fn consent_page_after_login(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    username: &str,
    password: &str,
) -> String {
    consent_page_for(
        app,
        client_id,
        redirect_uri,
        "openid",
        &[],
        username,
        password,
    )
    .await
}

/// [`consent_page_after_login`] for a request with `scope` and `extra` parameters.
pub async fn consent_page_for(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    extra: &[(&str, &str)],
    username: &str,
    password: &str,
) -> String {
    let browser = browser();
    let req = code_request(app, client_id, redirect_uri, scope, extra);
    let page = page_of(&browser, &req.url).await;
    assert!(is_login_page(&page), "{page}");
    let res = submit_login(&browser, &page, username, password).await;
    let consent = res.text().await.unwrap();
    assert!(is_consent_page(&consent), "{consent}");
    consent
}

//! The command line: `gatehouse serve`, `migrate`, `users …`, `clients …`, `keys …`.

pub(crate) mod audit;
mod clients;
mod resources;
mod store;
mod users;

use std::io::Read;
use std::net::TcpListener;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Settings, SettingsArgs};
use crate::db::unix_now;
use crate::keys::Alg;
use crate::oauth::store::prelude::*;
use crate::startup::{self, Services};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "An OAuth 2.0 and OpenID Connect provider"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage users
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage OAuth clients
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage the protected resources (APIs, MCP servers) tokens are issued for
    #[command(subcommand)]
    Resources(resources::ResourcesCommand),
    /// Manage signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show the audit log, newest first
    Audit(audit::AuditArgs),
    /// Delete expired codes, sessions, tokens and other stale rows now
    Cleanup(audit::CleanupArgs),
    /// Move the data to another database
    #[command(subcommand)]
    Store(store::StoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a new key (for every algorithm unless --alg is given): published at once, it
    /// signs after GATEHOUSE_KEY_PREPUBLISH, when the key before it retires; retired keys
    /// stay in the JWKS until the tokens they signed have expired
    Rotate {
        #[arg(long, value_name = "ALG")]
        alg: Vec<String>,
        /// Sign with the new key at once (a key that must go now, such as a leaked one);
        /// relying parties that cached the JWKS refuse its tokens until they refetch it
        #[arg(long)]
        now: bool,
    },
}

/// A CLI failure: printed as one line, exit code 1 (2 for settings).
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
}

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::new(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let settings = match Settings::resolve(&cli.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return 2;
        }
    };
    init_tracing(&settings, matches!(cli.command, Command::Serve));
    match run(cli.command, settings) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("gatehouse: {}", e.message);
            e.code
        }
    }
}

fn init_tracing(settings: &Settings, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn open(settings: Settings) -> Result<Services, CliError> {
    Services::open(settings).map_err(|e| CliError {
        message: e.0,
        code: 2,
    })
}

fn run(command: Command, settings: Settings) -> CliResult {
    match command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            open(settings)?;
            println!("database is up to date");
            Ok(())
        }
        Command::Users(cmd) => users::run(cmd, &open(settings)?),
        Command::Clients(cmd) => clients::run(cmd, &open(settings)?),
        Command::Resources(cmd) => resources::run(cmd, &open(settings)?),
        Command::Keys(cmd) => keys(cmd, &open(settings)?),
        Command::Audit(args) => audit::audit(args, &open(settings)?),
        Command::Cleanup(args) => audit::cleanup(args, &open(settings)?),
        Command::Store(cmd) => store::run(cmd, &open(settings)?),
    }
}

/// With no administrator yet, logs a one-time setup link (valid 30 minutes).
fn announce_setup(services: &Services) -> CliResult {
    let mut conn = services.db.conn()?;
    if let Some(token) = crate::app::setup::issue_token(&mut *conn, unix_now())? {
        let url = services
            .settings
            .url(&format!("{}?token={token}", crate::http::setup::PATH));
        tracing::warn!(
            %url,
            "no administrator exists: open this link within 30 minutes to create one \
             (it works once), or run `gatehouse users add --admin`"
        );
    }
    Ok(())
}

fn serve(settings: Settings) -> CliResult {
    let bind = settings.bind.clone();
    let listener = TcpListener::bind(&bind).map_err(|e| CliError {
        message: format!("invalid setting GATEHOUSE_BIND: cannot listen on {bind}: {e}"),
        code: 2,
    })?;
    let issuer = settings.issuer.clone();
    let services = open(settings)?;
    announce_setup(&services)?;
    actix_web::rt::System::new().block_on(async move {
        let server = startup::run(listener, services).map_err(|e| CliError::new(e.0))?;
        tracing::info!(%bind, %issuer, "gatehouse listening");
        server.await.map_err(CliError::from)
    })
}

fn keys(cmd: KeysCommand, services: &Services) -> CliResult {
    let mut conn = services.db.conn()?;
    match cmd {
        KeysCommand::List { json } => {
            let keys = conn.list_keys(unix_now(), services.publish_after_retire())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<45} {:<6} {:<8} {:<10} {:<20} {:<20} RETIRES",
                    "KID", "ALG", "STATE", "PUBLISHED", "CREATED", "SIGNS FROM"
                );
                for k in keys {
                    println!(
                        "{:<45} {:<6} {:<8} {:<10} {:<20} {:<20} {}",
                        k.kid,
                        k.alg,
                        k.state,
                        if k.published { "yes" } else { "no" },
                        crate::cli::audit::format_rfc3339(k.created_at),
                        crate::cli::audit::format_rfc3339(k.activates_at),
                        k.retired_at
                            .map(crate::cli::audit::format_rfc3339)
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Rotate { alg, now: at_once } => {
            let algs = if alg.is_empty() {
                Alg::ALL.to_vec()
            } else {
                alg.iter()
                    .map(|a| {
                        Alg::parse(a).ok_or_else(|| {
                            CliError::new(format!(
                                "unknown algorithm '{a}' (use RS256, ES256 or EdDSA)"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let now = unix_now();
            let actor = crate::app::Actor::cli();
            let at = match at_once {
                true => now,
                false => now + services.settings.lifetimes.key_prepublish,
            };
            let sealer = &services.sealer;
            let kids = crate::app::keys::rotate_keys(&mut *conn, sealer, &actor, &algs, now, at)?;
            for kid in kids {
                println!("{kid}");
            }
            Ok(())
        }
    }
}

/// Reads a password from standard input: the first line, without its line ending.
pub(crate) fn read_password_stdin() -> Result<String, CliError> {
    let mut buf = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut buf)
        .map_err(|e| CliError::new(format!("cannot read the password from standard input: {e}")))?;
    let line = buf.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(CliError::new("no password on standard input"));
    }
    Ok(line)
}

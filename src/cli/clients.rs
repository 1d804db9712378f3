use clap::Subcommand;
use serde_json::json;

use super::audit::in_transaction;
use super::{CliError, CliResult};
use crate::db::audit::{AuditEvent, AuditStore};
use crate::db::clients::ClientStore;
use crate::db::unix_now;
use crate::domain::client::{ClientSecret, ClientSpec};
use crate::domain::{Client, ClientId};
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its client_id and, once, its client_secret
    Create(Box<CreateArgs>),
    /// List clients
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client
    Show { client_id: String },
    /// Delete a client and everything issued to it
    Delete { client_id: String },
    /// Issue a new client secret (the old one stops working); prints it once
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// authorization_code, client_credentials or refresh_token (repeatable)
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// An allowed scope (repeatable, or space-separated)
    #[arg(long = "scope", value_name = "S")]
    scopes: Vec<String>,
    /// A public client (no secret; token_endpoint_auth_method none)
    #[arg(long)]
    public: bool,
    /// client_secret_basic (default), client_secret_post, private_key_jwt or none
    #[arg(long)]
    auth_method: Option<String>,
    /// File with the client's public JWKS (for private_key_jwt)
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<std::path::PathBuf>,
    /// A first-party client: users are never asked for consent
    #[arg(long)]
    skip_consent: bool,
    /// Audience (`aud`) of this client's access tokens
    #[arg(long)]
    audience: Option<String>,
    /// RS256 (default), ES256 or EdDSA
    #[arg(long)]
    id_token_alg: Option<String>,
    /// ES256, RS256 or EdDSA (default: GATEHOUSE_ACCESS_TOKEN_ALG)
    #[arg(long)]
    access_token_alg: Option<String>,
    #[arg(long)]
    json: bool,
}

/// A client's metadata in the JSON form of RFC 7591 (no secret), with the operator-only
/// settings: the same shape as the admin API's.
pub fn client_json(c: &Client) -> serde_json::Value {
    serde_json::to_value(crate::oauth::registration::ClientView::from(c))
        .expect("client metadata serializes")
}

pub fn run(cmd: ClientsCommand, services: &Services) -> CliResult {
    let now = unix_now();
    let mut conn = services.db.conn()?;
    match cmd {
        ClientsCommand::Create(args) => {
            let CreateArgs {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                scopes,
                public,
                auth_method,
                jwks_file,
                skip_consent,
                audience,
                id_token_alg,
                access_token_alg,
                json,
            } = *args;
            let jwks = match jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        CliError::new(format!("cannot read {}: {e}", path.display()))
                    })?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        CliError::new(format!("{} is not JSON: {e}", path.display()))
                    })?)
                }
                None => None,
            };
            let spec = ClientSpec {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                scopes,
                public,
                auth_method,
                skip_consent,
                jwks,
                id_token_alg,
                access_token_alg,
                audience,
                ..Default::default()
            };
            let new = spec
                .validate(true)
                .map_err(|e| CliError::new(format!("invalid client: {e}")))?;
            let secret = new
                .auth_method
                .uses_secret()
                .then(|| ClientSecret::new(crate::crypto::random_token(32)));
            let id = ClientId::generate();
            let secret_hash = secret
                .as_ref()
                .map(|s| crate::crypto::secret_hash(s.secret()));
            let client = in_transaction(&mut conn, |conn| {
                let client = conn.insert_client(id.as_str(), &new, secret_hash, None, now)?;
                conn.record(
                    &AuditEvent::new("cli", "client.create", now)
                        .target(client.client_id.as_str())
                        .detail(audit_detail(&client)),
                )?;
                Ok(client)
            })?;
            print_credentials(&client, secret.as_ref(), json)
        }
        ClientsCommand::List { json } => {
            let clients = conn.list_clients(0, i64::MAX)?;
            if json {
                let list: Vec<_> = clients.iter().map(client_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<24} {:<20} {:<22} NAME", "CLIENT_ID", "AUTH", "GRANTS");
                for c in clients {
                    let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
                    println!(
                        "{:<24} {:<20} {:<22} {}",
                        c.client_id,
                        c.auth_method.as_str(),
                        grants.join(","),
                        c.name
                    );
                }
            }
            Ok(())
        }
        ClientsCommand::Show { client_id } => {
            let client = conn
                .find_client(&client_id)?
                .ok_or_else(|| not_found(&client_id))?;
            println!("{}", serde_json::to_string_pretty(&client_json(&client))?);
            Ok(())
        }
        ClientsCommand::Delete { client_id } => {
            in_transaction(&mut conn, |conn| {
                if !conn.delete_client(&client_id)? {
                    return Err(not_found(&client_id));
                }
                conn.record(
                    &AuditEvent::new("cli", "client.delete", now).target(client_id.as_str()),
                )
                .map_err(CliError::from)
            })?;
            println!("deleted {client_id}");
            Ok(())
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let client = conn
                .find_client(&client_id)?
                .ok_or_else(|| not_found(&client_id))?;
            if !client.auth_method.uses_secret() {
                return Err(CliError::new(format!(
                    "client {client_id} authenticates with {}, not a secret",
                    client.auth_method.as_str()
                )));
            }
            let secret = ClientSecret::new(crate::crypto::random_token(32));
            let secret_hash = crate::crypto::secret_hash(secret.secret());
            in_transaction(&mut conn, |conn| {
                if !conn.set_client_secret(&client_id, &secret_hash, now)? {
                    return Err(not_found(&client_id));
                }
                conn.record(
                    &AuditEvent::new("cli", "client.secret_rotate", now).target(client_id.as_str()),
                )
                .map_err(CliError::from)
            })?;
            print_credentials(&client, Some(&secret), json)
        }
    }
}

/// What the audit log keeps about a new client: its metadata, never a secret.
fn audit_detail(c: &Client) -> serde_json::Value {
    json!({
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scopes.to_string(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
    })
}

fn not_found(client_id: &str) -> CliError {
    CliError::new(format!("no client with id '{client_id}'"))
}

fn print_credentials(client: &Client, secret: Option<&ClientSecret>, json: bool) -> CliResult {
    if json {
        let mut v = client_json(client);
        if let Some(s) = secret {
            v["client_secret"] = json!(s.secret());
            v["client_secret_expires_at"] = json!(0);
        }
        println!("{v}");
    } else {
        println!("client_id: {}", client.client_id);
        if let Some(s) = secret {
            println!("client_secret: {}", s.secret());
            eprintln!("Store the client secret now: it is not shown again.");
        }
    }
    Ok(())
}

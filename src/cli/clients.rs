use clap::Subcommand;
use serde_json::json;

use super::{CliError, CliResult};
use crate::app::clients::{self as ops, Via};
use crate::app::Actor;
use crate::db::unix_now;
use crate::domain::client::{ClientSecret, ClientSpec, NewClient, OpenIdSpec};
use crate::domain::{Client, ClientId};
use crate::oauth::store::prelude::*;
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
    #[arg(long = "grant-type", value_name = "GRANT", help = grant_help())]
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
    /// Where the client publishes its public JWKS (for private_key_jwt), instead of a file
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof (dpop_bound_access_tokens)
    #[arg(long)]
    dpop_bound_access_tokens: bool,
    /// Authorization requests must be pushed first (require_pushed_authorization_requests)
    #[arg(long)]
    require_pushed_authorization_requests: bool,
    /// A security profile: fapi2 (the FAPI 2.0 Security Profile: PAR, DPoP-bound tokens
    /// and private_key_jwt required, codes valid 60 s at most)
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    /// ES256, EdDSA, RS256, PS256, or none (unsigned request objects allowed)
    #[arg(long, value_name = "ALG")]
    request_object_signing_alg: Option<String>,
    /// A URL request objects may be fetched from (request_uri; repeatable)
    #[arg(long = "request-uri", value_name = "URL")]
    request_uris: Vec<String>,
    /// RS256, ES256 or EdDSA: UserInfo answers as a signed JWT
    #[arg(long, value_name = "ALG")]
    userinfo_alg: Option<String>,
    /// public (default) or pairwise: a sub of the client's own sector
    #[arg(long, value_name = "TYPE")]
    subject_type: Option<String>,
    /// An https URL of the JSON list of the sector's redirect URIs (fetched and checked)
    #[arg(long, value_name = "URL")]
    sector_identifier_uri: Option<String>,
    /// Where logout tokens are POSTed when a session of the client ends
    #[arg(long, value_name = "URL")]
    backchannel_logout_uri: Option<String>,
    /// Logout tokens carry the session's sid
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// Where the logout page points an iframe when a session of the client ends
    #[arg(long, value_name = "URL")]
    frontchannel_logout_uri: Option<String>,
    /// The front-channel logout URL carries iss and sid
    #[arg(long)]
    frontchannel_logout_session_required: bool,
    /// Its users must sign in with a second factor or a verified passkey
    #[arg(long)]
    require_mfa: bool,
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

impl CreateArgs {
    /// The validated client these flags describe.
    fn into_client(self) -> Result<NewClient, CliError> {
        let jwks = match &self.jwks_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
                Some(
                    serde_json::from_str(&text).map_err(|e| {
                        CliError::new(format!("{} is not JSON: {e}", path.display()))
                    })?,
                )
            }
            None => None,
        };
        let spec = ClientSpec {
            name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scopes: self.scopes,
            public: self.public,
            auth_method: self.auth_method,
            skip_consent: self.skip_consent,
            jwks,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound_access_tokens,
            require_par: self.require_pushed_authorization_requests,
            security_profile: self.profile,
            request_object_alg: self.request_object_signing_alg,
            request_uris: self.request_uris,
            userinfo_alg: self.userinfo_alg,
            openid: OpenIdSpec {
                subject_type: self.subject_type,
                sector_identifier_uri: self.sector_identifier_uri,
                backchannel_logout_uri: self.backchannel_logout_uri,
                backchannel_logout_session_required: self.backchannel_logout_session_required,
                frontchannel_logout_uri: self.frontchannel_logout_uri,
                frontchannel_logout_session_required: self.frontchannel_logout_session_required,
                require_mfa: self.require_mfa,
            },
            id_token_alg: self.id_token_alg,
            access_token_alg: self.access_token_alg,
            audience: self.audience,
            ..Default::default()
        };
        spec.validate(true)
            .map_err(|e| CliError::new(format!("invalid client: {e}")))
    }
}

/// The `--grant-type` help, from the grant registry.
fn grant_help() -> String {
    format!("One of {} (repeatable)", crate::oauth::grants::names())
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
    let actor = Actor::cli();
    match cmd {
        ClientsCommand::Create(args) => {
            let json = args.json;
            let new = args.into_client()?;
            super::resources::block_on(services.check_sector(&new))?
                .map_err(|e| CliError::new(format!("invalid client: {e}")))?;
            let id = ClientId::generate();
            let created = ops::create_client(&mut *conn, &actor, &id, &new, Via::Operator, now)?;
            print_credentials(&created.client, created.secret.as_ref(), json)
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
            let client = ops::find_client(&mut *conn, &client_id)?;
            println!("{}", serde_json::to_string_pretty(&client_json(&client))?);
            Ok(())
        }
        ClientsCommand::Delete { client_id } => {
            let cache = &services.clients;
            ops::delete_client(&mut *conn, cache, &actor, &client_id, Via::Operator, now)?;
            println!("deleted {client_id}");
            Ok(())
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let client = ops::find_client(&mut *conn, &client_id)?;
            let secret =
                ops::rotate_secret(&mut *conn, &services.clients, &actor, &client_id, now)?;
            print_credentials(&client, Some(&secret), json)
        }
    }
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

//! `gatehouse resources`: the protected resources gatehouse issues tokens for.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, CliResult};
use crate::app::resources::{self as ops, ResourceInput};
use crate::app::Actor;
use crate::db::unix_now;
use crate::domain::ProtectedResource;
use crate::oauth::store::prelude::*;
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// Register a protected resource; its name and scopes come from its RFC 9728
    /// metadata (/.well-known/oauth-protected-resource), which must name this issuer
    Add {
        /// The resource identifier (RFC 8707), e.g. https://mcp.example.com/mcp
        url: String,
        /// Name shown on consent pages (default: the metadata's resource_name)
        #[arg(long)]
        name: Option<String>,
        /// A scope of the resource (repeatable; default: the metadata's scopes_supported)
        #[arg(long = "scope", value_name = "S")]
        scopes: Vec<String>,
        /// Do not fetch the metadata; register with the given name and scopes only
        #[arg(long)]
        no_fetch: bool,
        #[arg(long)]
        json: bool,
    },
    /// List registered resources
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one resource, with its metadata as last fetched
    Show { url: String },
    /// Fetch the resource's metadata again and take its name and scopes
    Refresh {
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a resource: tokens can no longer be requested for it
    Delete { url: String },
}

fn view(r: &ProtectedResource) -> serde_json::Value {
    json!({
        "resource": r.resource,
        "name": r.name,
        "scopes": r.scopes.iter().collect::<Vec<_>>(),
        "fetched_at": r.fetched_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "metadata": r.metadata,
    })
}

fn print(r: &ProtectedResource, json: bool) {
    if json {
        println!("{}", view(r));
    } else {
        println!("{}\t{}\t{}", r.resource, r.name, r.scopes);
    }
}

/// Runs `f` on a runtime of its own: the CLI fetches metadata once and exits.
pub(super) fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start: {e}")))?;
    Ok(rt.block_on(f))
}

pub fn run(cmd: ResourcesCommand, services: &Services) -> CliResult {
    let mut conn = services.db.conn()?;
    match cmd {
        ResourcesCommand::Add {
            url,
            name,
            scopes,
            no_fetch,
            json,
        } => {
            let input = ResourceInput { name, scopes };
            let r = block_on(services.prepare_resource(&url, &input, !no_fetch))??;
            ops::register(&mut *conn, &Actor::cli(), &r)?;
            print(&r, json);
        }
        ResourcesCommand::List { json } => {
            let all = conn.list_resources()?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(all.iter().map(view).collect())
                );
            } else {
                for r in &all {
                    print(r, false);
                }
            }
        }
        ResourcesCommand::Show { url } => {
            let r = conn
                .find_resource(&url)?
                .ok_or_else(|| CliError::new(format!("no resource {url}")))?;
            println!("{:#}", view(&r));
        }
        ResourcesCommand::Refresh { url, json } => {
            let existing = conn
                .find_resource(&url)?
                .ok_or_else(|| CliError::new(format!("no resource {url}")))?;
            let r = block_on(services.prepare_resource(
                &existing.resource,
                &ResourceInput::default(),
                true,
            ))??;
            let r = ops::update(&mut *conn, &Actor::cli(), &r)?;
            print(&r, json);
        }
        ResourcesCommand::Delete { url } => {
            ops::delete(&mut *conn, &Actor::cli(), &url, unix_now())?;
            println!("deleted {url}");
        }
    }
    Ok(())
}

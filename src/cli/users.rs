use clap::Subcommand;
use serde_json::json;

use super::audit::in_transaction;
use super::{read_password_stdin, CliError, CliResult};
use crate::db::audit::{AuditEvent, AuditStore};
use crate::db::unix_now;
use crate::db::users::{UserChanges, UserStore};
use crate::domain::user::{parse_email, NewUser, Password, Username};
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input
    Add {
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// May use the admin pages
        #[arg(long)]
        admin: bool,
    },
    /// List users
    List {
        #[arg(long)]
        json: bool,
    },
    /// Replace a user's password, read from standard input
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from logging in (their sessions and tokens stop working)
    Disable { username: String },
    /// Allow a disabled user to log in again
    Enable { username: String },
    /// Delete a user and everything issued to them
    Delete { username: String },
}

fn require_stdin(flag: bool) -> Result<Password, CliError> {
    if !flag {
        return Err(CliError::new(
            "pass --password-stdin and write the password to standard input",
        ));
    }
    Password::parse(read_password_stdin()?).map_err(CliError::new)
}

fn not_found(username: &str) -> CliError {
    CliError::new(format!("no user named '{username}'"))
}

pub fn run(cmd: UsersCommand, services: &Services) -> CliResult {
    let now = unix_now();
    match cmd {
        UsersCommand::Add {
            username,
            password_stdin,
            email,
            name,
            admin,
        } => {
            let username = Username::parse(&username).map_err(CliError::new)?;
            let password = require_stdin(password_stdin)?;
            let email = email
                .map(|e| parse_email(&e))
                .transpose()
                .map_err(CliError::new)?;
            let user = NewUser {
                username,
                password: password.clone(),
                email,
                name,
                is_admin: admin,
            };
            let hash = password.hash();
            let created = in_transaction(&mut *services.db.conn()?, |conn| {
                let created = conn.insert_user(&user, hash, now)?;
                conn.record(
                    &AuditEvent::new("cli", "user.create", now)
                        .target(created.username.as_str())
                        .detail(json!({ "user_id": created.id, "admin": created.is_admin })),
                )?;
                Ok(created)
            })?;
            println!("{}", created.id);
            Ok(())
        }
        UsersCommand::List { json } => {
            let users = services.db.conn()?.list_users(None, 0, i64::MAX)?;
            if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id, "username": u.username, "email": u.email, "name": u.name,
                            "admin": u.is_admin, "disabled": u.disabled, "created_at": u.created_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<36} {:<24} {:<6} {:<9} EMAIL",
                    "ID", "USERNAME", "ADMIN", "DISABLED"
                );
                for u in users {
                    println!(
                        "{:<36} {:<24} {:<6} {:<9} {}",
                        u.id,
                        u.username,
                        if u.is_admin { "yes" } else { "no" },
                        if u.disabled { "yes" } else { "no" },
                        u.email.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        UsersCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let password = require_stdin(password_stdin)?;
            let changes = UserChanges {
                password_hash: Some(password.hash()),
                ..Default::default()
            };
            in_transaction(&mut *services.db.conn()?, |conn| {
                if !conn.update_user(&username, changes, now)? {
                    return Err(not_found(&username));
                }
                conn.record(
                    &AuditEvent::new("cli", "user.update", now)
                        .target(username.as_str())
                        .detail(json!({ "changed": ["password"] })),
                )?;
                Ok(())
            })?;
            println!("password changed for {username}");
            Ok(())
        }
        UsersCommand::Disable { username } => set_disabled(services, &username, true, now),
        UsersCommand::Enable { username } => set_disabled(services, &username, false, now),
        UsersCommand::Delete { username } => {
            let mut conn = services.db.conn()?;
            // Looked up first (outside the transaction, which starts with its write, as
            // SQLite prefers) for the id the audit event names.
            let user = conn
                .find_user_by_name(&username)?
                .ok_or_else(|| not_found(&username))?;
            in_transaction(&mut conn, |conn| {
                if !conn.delete_user(&username)? {
                    return Err(not_found(&username));
                }
                conn.record(
                    &AuditEvent::new("cli", "user.delete", now)
                        .target(username.as_str())
                        .detail(json!({ "user_id": user.id })),
                )
                .map_err(CliError::from)
            })?;
            println!("deleted {username}");
            Ok(())
        }
    }
}

fn set_disabled(services: &Services, username: &str, disabled: bool, now: i64) -> CliResult {
    let changes = UserChanges {
        disabled: Some(disabled),
        ..Default::default()
    };
    in_transaction(&mut *services.db.conn()?, |conn| {
        if !conn.update_user(username, changes, now)? {
            return Err(not_found(username));
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        conn.record(&AuditEvent::new("cli", action, now).target(username))
            .map_err(CliError::from)
    })?;
    println!(
        "{} {username}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

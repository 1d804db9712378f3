use clap::Subcommand;

use super::{read_password_stdin, CliError, CliResult};
use crate::app::users::{self as ops, UserUpdate};
use crate::app::Actor;
use crate::db::unix_now;
use crate::domain::user::Password;
use crate::oauth::store::prelude::*;
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
    Ok(ops::parse_password(read_password_stdin()?)?)
}

pub fn run(cmd: UsersCommand, services: &Services) -> CliResult {
    let now = unix_now();
    let mut conn = services.db.conn()?;
    let actor = Actor::cli();
    match cmd {
        UsersCommand::Add {
            username,
            password_stdin,
            email,
            name,
            admin,
        } => {
            let password = require_stdin(password_stdin)?;
            let user = ops::parse_new_user(
                &username,
                password.secret().to_string(),
                email.as_deref(),
                name.as_deref(),
                admin,
            )?;
            let created = ops::create_user(&mut *conn, &actor, &user, password.hash(), now)?;
            println!("{}", created.id);
            Ok(())
        }
        UsersCommand::List { json } => {
            let users = conn.list_users(None, 0, i64::MAX)?;
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
            ops::set_password(&mut *conn, &actor, &username, password.hash(), now)?;
            println!("password changed for {username}");
            Ok(())
        }
        UsersCommand::Disable { username } => set_disabled(&mut *conn, &username, true, now),
        UsersCommand::Enable { username } => set_disabled(&mut *conn, &username, false, now),
        UsersCommand::Delete { username } => {
            ops::delete_user(&mut *conn, &actor, &username, now)?;
            println!("deleted {username}");
            Ok(())
        }
    }
}

fn set_disabled(store: &mut dyn Store, username: &str, disabled: bool, now: i64) -> CliResult {
    let update = UserUpdate {
        disabled: Some(disabled),
        ..Default::default()
    };
    ops::update_user(store, &Actor::cli(), username, &update, now)?;
    println!(
        "{} {username}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

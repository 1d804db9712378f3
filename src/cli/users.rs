use clap::Subcommand;

use super::{read_password_stdin, CliError, CliResult};
use crate::app::users::{self as ops, UserUpdate};
use crate::app::Actor;
use crate::db::unix_now;
use crate::domain::user::{Address, Password};
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
        #[command(flatten)]
        contact: ContactArgs,
        /// May use the admin pages
        #[arg(long)]
        admin: bool,
    },
    /// Change a user's profile: e-mail, name, telephone number, postal address; an empty
    /// value removes one
    Update {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        contact: ContactArgs,
        /// Whether the e-mail address has been verified (true or false)
        #[arg(long, value_name = "BOOL")]
        email_verified: Option<bool>,
        /// Whether the telephone number has been verified (true or false)
        #[arg(long, value_name = "BOOL")]
        phone_number_verified: Option<bool>,
        /// Whether the user must sign in with a second factor (true or false)
        #[arg(long, value_name = "BOOL")]
        require_mfa: Option<bool>,
    },
    /// Remove every passkey, authenticator app and recovery code of a user who lost
    /// theirs (audited); they sign in with their password and set them up again
    ResetFactors { username: String },
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

/// The OpenID `phone` and `address` claims of a user.
#[derive(Debug, clap::Args)]
pub struct ContactArgs {
    /// A telephone number, E.164 recommended (+49 30 1234567)
    #[arg(long)]
    phone_number: Option<String>,
    /// The whole postal address as it is written (may span lines)
    #[arg(long, value_name = "TEXT")]
    address_formatted: Option<String>,
    #[arg(long, value_name = "TEXT")]
    street_address: Option<String>,
    /// City or locality
    #[arg(long, value_name = "TEXT")]
    locality: Option<String>,
    /// State, province or region
    #[arg(long, value_name = "TEXT")]
    region: Option<String>,
    #[arg(long, value_name = "TEXT")]
    postal_code: Option<String>,
    #[arg(long, value_name = "TEXT")]
    country: Option<String>,
}

impl ContactArgs {
    /// The address, when any of its parts was given.
    fn address(&self) -> Option<Address> {
        let a = Address {
            formatted: self.address_formatted.clone(),
            street_address: self.street_address.clone(),
            locality: self.locality.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        };
        (a != Address::default()).then_some(a)
    }
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
            contact,
            admin,
        } => {
            let password = require_stdin(password_stdin)?;
            let mut user = ops::parse_new_user(
                &username,
                password.secret().to_string(),
                email.as_deref(),
                name.as_deref(),
                admin,
            )?;
            (user.phone_number, user.address) =
                ops::parse_contact(contact.phone_number.as_deref(), contact.address())?;
            let created = ops::create_user(&mut *conn, &actor, &user, password.hash(), now)?;
            println!("{}", created.id);
            Ok(())
        }
        UsersCommand::List { json } => list(&conn.list_users(None, 0, i64::MAX)?, json),
        UsersCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let password = require_stdin(password_stdin)?;
            ops::set_password(&mut *conn, &actor, &username, password.hash(), now)?;
            println!("password changed for {username}");
            Ok(())
        }
        UsersCommand::Update {
            username,
            email,
            name,
            contact,
            email_verified,
            phone_number_verified,
            require_mfa,
        } => {
            // An empty value removes a field; a given address replaces the whole address.
            let clear = |v: Option<String>| v.map(|v| Some(v).filter(|v| !v.trim().is_empty()));
            let update = UserUpdate {
                email: clear(email),
                name: clear(name),
                phone_number: clear(contact.phone_number.clone()),
                address: contact.address().map(Some),
                email_verified,
                phone_number_verified,
                require_mfa,
                ..Default::default()
            };
            ops::update_user(&mut *conn, &actor, &username, &update, now)?;
            println!("updated {username}");
            Ok(())
        }
        UsersCommand::ResetFactors { username } => {
            let n = crate::app::factors::reset_factors(&mut *conn, &actor, &username, now)?;
            println!("removed {n} factors of {username}");
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

fn list(users: &[crate::domain::User], json: bool) -> CliResult {
    if json {
        let list: Vec<_> = users
            .iter()
            .map(|u| {
                serde_json::json!({
                    "id": u.id, "username": u.username, "email": u.email, "name": u.name,
                    "phone_number": u.phone_number, "address": u.address,
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
                u.email.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(())
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

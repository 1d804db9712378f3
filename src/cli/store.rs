//! `gatehouse store copy --to URL`: moves everything from the configured database to
//! another one, SQLite ↔ PostgreSQL.

use clap::Subcommand;

use super::{CliError, CliResult};
use crate::config::DatabaseUrl;
use crate::db::copy::{copy_all, CopyError};
use crate::db::Db;
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every table to another database (migrated first; refused when it holds data,
    /// unless --force), in one consistent snapshot of this one, then check row counts and
    /// a checksum per table
    Copy {
        /// The target: sqlite://FILE or postgres://…
        #[arg(long, value_name = "URL")]
        to: String,
        /// Replace whatever the target holds
        #[arg(long)]
        force: bool,
        /// Rows read per query
        #[arg(long, default_value_t = 1000)]
        batch: i64,
    },
}

pub fn run(cmd: StoreCommand, services: &Services) -> CliResult {
    let StoreCommand::Copy { to, force, batch } = cmd;
    let url = DatabaseUrl::parse(&to).map_err(|e| CliError::new(format!("--to: {e}")))?;
    let target = Db::connect(&url)
        .map_err(|e| CliError::new(format!("--to: cannot open the database: {e}")))?;
    crate::db::startup_lock::hold(&target, &url, || target.migrate()).map_err(CliError::new)?;
    let mut progress = |table: &str, n: u64| eprintln!("{table}: {n} rows");
    let copied =
        copy_all(&services.db, &target, batch, force, &mut progress).map_err(|e| match e {
            CopyError::NotEmpty(_) => CliError::new(e.to_string()),
            other => CliError::new(format!("the copy failed and was rolled back: {other}")),
        })?;
    let total: u64 = copied.iter().map(|c| c.rows).sum();
    for c in &copied {
        println!("{:<22} {:>10}  sha256 {}", c.table, c.rows, c.checksum);
    }
    println!(
        "copied {total} rows in {} tables; counts and checksums match",
        copied.len()
    );
    Ok(())
}

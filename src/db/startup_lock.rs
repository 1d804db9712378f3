//! The startup lock: of instances that start together on one database, one migrates and
//! creates the first signing keys while the others wait, then find the work done. On
//! PostgreSQL it is a session advisory lock; on SQLite an exclusive `flock` on a file
//! beside the database (the database's own locks cannot span diesel's migration
//! transactions).

use std::fs::OpenOptions;
use std::os::unix::io::AsRawFd;

use diesel::RunQueryDsl;

use super::{Db, DbConn};
use crate::config::DatabaseUrl;

/// The advisory lock's key: "gatehouse" in ASCII, as a number.
const ADVISORY_KEY: i64 = 0x6761_7465_686f_7573;

/// Runs `f` while holding the startup lock.
pub fn hold<T>(
    db: &Db,
    url: &DatabaseUrl,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut lock_path = path.clone().into_os_string();
            lock_path.push(".startup-lock");
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| format!("cannot open {}: {e}", lock_path.to_string_lossy()))?;
            // SAFETY: flock on a file descriptor this function owns; released on close.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(format!(
                    "cannot lock {}: {}",
                    lock_path.to_string_lossy(),
                    std::io::Error::last_os_error()
                ));
            }
            let result = f();
            drop(file);
            result
        }
        DatabaseUrl::Postgres(_) => {
            let mut conn = db.conn().map_err(|e| e.to_string())?;
            advisory(&mut conn, "pg_advisory_lock")?;
            let result = f();
            // The lock is the session's: unlocking fails only with the connection, which
            // then releases it anyway.
            let _ = advisory(&mut conn, "pg_advisory_unlock");
            result
        }
    }
}

fn advisory(conn: &mut DbConn, function: &str) -> Result<(), String> {
    let DbConn::Postgres(pg) = conn else {
        return Ok(());
    };
    diesel::sql_query(format!("SELECT {function}({ADVISORY_KEY})"))
        .execute(pg)
        .map(|_| ())
        .map_err(|e| format!("the startup lock: {e}"))
}

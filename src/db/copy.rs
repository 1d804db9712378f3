//! `gatehouse store copy`: every table from one database to another (SQLite ↔
//! PostgreSQL), read in one consistent snapshot of the source, written in batches in one
//! transaction on the target, then checked: row counts and a SHA-256 per table, computed
//! over the rows in key order on both sides.

use aws_lc_rs::digest;
use diesel::prelude::*;

use super::{Db, DbConn, StoreError};

/// One table's copy: rows and the checksum of the source's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    pub rows: u64,
    pub checksum: String,
}

/// A table's rows and checksum.
pub type Summary = QueryResult<(u64, String)>;
/// Copies a table from the first connection to the second, `batch` rows per query.
pub type CopyFn = fn(&mut DbConn, &mut DbConn, i64, &mut dyn FnMut(u64)) -> Summary;

/// What each table offers the copy.
pub struct TableOps {
    pub name: &'static str,
    /// Copies the source's rows into the target, `batch` at a time, reporting the
    /// running count; returns the rows and the checksum of what was read.
    pub copy: CopyFn,
    /// The rows and the checksum of a table as it is.
    pub checksum: fn(&mut DbConn, i64) -> Summary,
    pub count: fn(&mut DbConn) -> QueryResult<i64>,
    pub clear: fn(&mut DbConn) -> QueryResult<usize>,
}

/// The running SHA-256 of a table's rows: each value's debug form, separated.
pub(super) struct RowHash(digest::Context);

impl RowHash {
    pub(super) fn new() -> Self {
        RowHash(digest::Context::new(&digest::SHA256))
    }

    pub(super) fn add(&mut self, value: &dyn std::fmt::Debug) {
        self.0.update(format!("{value:?}\u{1f}").as_bytes());
    }

    pub(super) fn end_row(&mut self) {
        self.0.update(b"\x1e");
    }

    pub(super) fn finish(self) -> String {
        crate::crypto::b64url(self.0.finish().as_ref())
    }
}

macro_rules! copier {
    ($table:ident, [$($pk:ident),+], $($col:ident: $ty:ty),+ $(,)?) => {
        pub(super) mod $table {
            use diesel::prelude::*;

            use crate::db::copy::RowHash;
            use crate::db::schema::$table as t;
            use crate::db::DbConn;

            type Row = ($($ty,)+);

            fn page(conn: &mut DbConn, offset: i64, batch: i64) -> QueryResult<Vec<Row>> {
                t::table
                    .select(($(t::$col,)+))
                    .order(($(t::$pk.asc(),)+))
                    .limit(batch)
                    .offset(offset)
                    .load::<Row>(conn)
            }

            /// Visits every row in key order, a page at a time.
            fn each(
                conn: &mut DbConn,
                batch: i64,
                mut f: impl FnMut(Row) -> QueryResult<()>,
            ) -> QueryResult<u64> {
                let mut n = 0u64;
                loop {
                    let rows = page(conn, n as i64, batch)?;
                    let got = rows.len();
                    for r in rows {
                        f(r)?;
                    }
                    n += got as u64;
                    if (got as i64) < batch {
                        return Ok(n);
                    }
                }
            }

            fn hash(h: &mut RowHash, r: &Row) {
                let ($($col,)+) = r;
                $(h.add($col);)+
                h.end_row();
            }

            pub fn copy(
                src: &mut DbConn,
                dst: &mut DbConn,
                batch: i64,
                progress: &mut dyn FnMut(u64),
            ) -> QueryResult<(u64, String)> {
                let mut h = RowHash::new();
                let mut done = 0u64;
                let n = each(src, batch, |r| {
                    hash(&mut h, &r);
                    let ($($col,)+) = r;
                    diesel::insert_into(t::table)
                        .values(($(t::$col.eq($col),)+))
                        .execute(dst)?;
                    done += 1;
                    if done % 10_000 == 0 {
                        progress(done);
                    }
                    Ok(())
                })?;
                Ok((n, h.finish()))
            }

            pub fn checksum(conn: &mut DbConn, batch: i64) -> QueryResult<(u64, String)> {
                let mut h = RowHash::new();
                let n = each(conn, batch, |r| {
                    hash(&mut h, &r);
                    Ok(())
                })?;
                Ok((n, h.finish()))
            }

            pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
                t::table.count().get_result(conn)
            }

            pub fn clear(conn: &mut DbConn) -> QueryResult<usize> {
                diesel::delete(t::table).execute(conn)
            }
        }
    };
}

#[path = "copy_tables.rs"]
mod tables;
pub use tables::TABLES;

/// Why a copy did not happen or did not check out.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target already holds data ({0}); pass --force to replace it")]
    NotEmpty(String),
    #[error("{table}: the copy does not match the source ({detail})")]
    Mismatch { table: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for CopyError {
    fn from(e: diesel::result::Error) -> Self {
        CopyError::Store(e.into())
    }
}

/// Runs `f` in a read-only snapshot of the source: one transaction, REPEATABLE READ on
/// PostgreSQL; on SQLite (WAL) a read transaction sees one snapshot from its first read.
fn in_snapshot<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, CopyError>,
) -> Result<T, CopyError> {
    let mut out = None;
    let mut f = Some(f);
    conn.transaction::<_, CopyError, _>(|c| {
        if let DbConn::Postgres(pg) = c {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(pg)?;
        }
        out = Some((f.take().expect("called once"))(c)?);
        Ok(())
    })?;
    Ok(out.expect("the transaction ran"))
}

/// Copies every table of `source` into `target` (migrated, and empty unless `force`,
/// which first empties it), then checks each table's count and checksum on the target.
pub fn copy_all(
    source: &Db,
    target: &Db,
    batch: i64,
    force: bool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<TableCopy>, CopyError> {
    let batch = batch.max(1);
    let mut dst = target.conn()?;
    let held: Vec<String> = TABLES
        .iter()
        .filter(|t| t.name != "health_checks")
        .filter_map(|t| match (t.count)(&mut dst) {
            Ok(0) => None,
            Ok(n) => Some(Ok(format!("{} {n} rows", t.name))),
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    if !held.is_empty() && !force {
        return Err(CopyError::NotEmpty(held.join(", ")));
    }
    let mut src = source.conn()?;
    let copied = in_snapshot(&mut src, |src| {
        let mut copied = Vec::new();
        dst.transaction::<_, CopyError, _>(|dst| {
            // Children first, so foreign keys never point nowhere.
            for t in TABLES.iter().rev() {
                (t.clear)(dst)?;
            }
            for t in TABLES {
                let (rows, checksum) = (t.copy)(src, dst, batch, &mut |n| progress(t.name, n))?;
                progress(t.name, rows);
                copied.push(TableCopy {
                    table: t.name,
                    rows,
                    checksum,
                });
            }
            Ok(())
        })?;
        Ok(copied)
    })?;
    verify(&mut dst, &copied, batch)?;
    Ok(copied)
}

/// Reads each table back from the target and compares count and checksum.
fn verify(dst: &mut DbConn, copied: &[TableCopy], batch: i64) -> Result<(), CopyError> {
    for (t, c) in TABLES.iter().zip(copied) {
        let (rows, checksum) = (t.checksum)(dst, batch)?;
        if rows != c.rows || checksum != c.checksum {
            return Err(CopyError::Mismatch {
                table: t.name,
                detail: format!(
                    "{rows} rows, checksum {checksum}; the source had {} rows, {}",
                    c.rows, c.checksum
                ),
            });
        }
    }
    Ok(())
}

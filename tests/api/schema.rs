//! Both migration trees must produce the same tables and columns with compatible types,
//! so the backends cannot drift apart.

use std::collections::BTreeMap;

use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::MigrationHarness;
use gatehouse::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

use crate::helpers::{Backend, TestDb};

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

type Shape = BTreeMap<(String, String), (String, bool)>;

/// One name for each type both backends agree on; anything else is kept verbatim,
/// so it shows up as a difference.
fn canonical(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "text" => "text",
        "bigint" => "bigint",
        "integer" => "integer",
        "boolean" => "boolean",
        "blob" | "bytea" => "binary",
        other => return other.to_string(),
    }
    .to_string()
}

fn shape(cols: Vec<Column>) -> Shape {
    cols.into_iter()
        .filter(|c| c.table_name != "__diesel_schema_migrations")
        .map(|c| {
            (
                (c.table_name, c.column_name),
                (canonical(&c.data_type), c.nullable),
            )
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_give_the_same_schema() {
    let Some(pg) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let sqlite = TestDb::new(Backend::Sqlite).unwrap();

    let mut s = SqliteConnection::establish(sqlite.url.trim_start_matches("sqlite://")).unwrap();
    s.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    let sqlite_cols: Vec<Column> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
         (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .load(&mut s)
    .unwrap();

    let mut p = PgConnection::establish(&pg.url).unwrap();
    p.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    let pg_cols: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         data_type::text AS data_type, (is_nullable = 'YES') AS nullable \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .load(&mut p)
    .unwrap();

    let (a, b) = (shape(sqlite_cols), shape(pg_cols));
    assert!(a.len() > 50, "the schema was read ({} columns)", a.len());
    let only_sqlite: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).collect();
    let only_pg: Vec<_> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "schemas differ\n  SQLite: {only_sqlite:?}\n  PostgreSQL: {only_pg:?}"
    );
}

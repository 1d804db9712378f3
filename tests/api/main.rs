//! The integration suite: one binary, every test against a real server on a loopback
//! port, over SQLite and over PostgreSQL.

mod helpers;

mod cli;
mod discovery;
mod schema;

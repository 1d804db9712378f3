//! The integration suite: one binary, every test against a real server on a loopback
//! port, over SQLite and over PostgreSQL.

mod helpers;

mod audit;
mod cli;
mod client_credentials;
mod discovery;
mod fixtures;
mod introspection;
mod refresh;
mod schema;

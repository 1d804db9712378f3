//! The protocol: typed requests and the clock in, typed outcomes out. No HTTP, no SQL.

pub mod client_auth;
pub mod error;
pub mod introspect;
pub mod params;
pub mod pkce;
pub mod token;
pub mod tokens;

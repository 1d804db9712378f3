//! Domain types, parsed once at the edge: client metadata, users, scopes, URIs.

pub mod client;
pub mod scopes;
pub mod throttle;
pub mod user;

pub use client::{AuthMethod, Client, ClientId, GrantType, NewClient, RedirectUri};
pub use scopes::Scopes;
pub use user::{NewUser, Password, User, Username};

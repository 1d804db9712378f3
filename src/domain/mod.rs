//! Domain types, parsed once at the edge: client metadata, users, scopes, URIs.

pub mod client;
pub mod recovery;
pub mod resource;
pub mod scopes;
pub mod throttle;
pub mod totp;
pub mod user;

pub use client::{AuthMethod, Client, ClientId, GrantType, NewClient, RedirectUri};
pub use resource::{ProtectedResource, ResourceSet, ResourceUri};
pub use scopes::{Scopes, ADMIN_SCOPE};
pub use user::{NewUser, Password, User, Username};

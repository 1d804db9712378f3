//! The protocol: typed requests and the clock in, typed outcomes out. No HTTP, no SQL.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod jar;
pub mod logout;
pub mod metadata_document;
pub mod par;
pub mod params;
pub mod pkce;
pub mod protected_resource;
pub mod redirect;
pub mod registration;
pub mod resource;
pub mod store;
pub mod subject;
pub mod tokens;
pub mod webfinger;

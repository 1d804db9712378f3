//! The integration suite: one binary, every test against a real server on a loopback
//! port, over SQLite and over PostgreSQL.

mod helpers;

mod admin_api;
mod admin_pages;
mod audit;
mod authorize;
mod backchannel;
mod browser;
mod cli;
mod client_credentials;
mod csrf;
mod device;
mod discovery;
mod dpop;
mod fapi;
mod fetching;
mod fixtures;
mod front_doors;
mod hardening;
mod introspection;
mod key_rotation;
mod login;
mod logout;
mod mcp;
mod mock;
mod node;
mod oidc;
mod open_registration;
mod openid_claims;
mod openid_client;
mod outage;
mod pairwise;
mod par;
mod proxies;
mod refresh;
mod registration;
mod regressions;
mod request_objects;
mod resource_registry;
mod resources;
mod schema;
mod signed_userinfo;
mod startup_race;
mod token_exchange;
mod user_search;

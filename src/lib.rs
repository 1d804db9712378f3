//! gatehouse: an OAuth 2.0 and OpenID Connect provider.

pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod deliver;
pub mod domain;
pub mod fetch;
pub mod http;
pub mod i18n;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod resolve;
pub mod startup;
pub mod webauthn;

#[cfg(test)]
mod architecture;

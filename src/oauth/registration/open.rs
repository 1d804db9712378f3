//! Open registration: what anyone may register without an administrator's token, as MCP
//! clients do. Such a client gets no grant without a person (no client credentials),
//! at most the operator's configured scopes (never `gatehouse:admin`), never skips
//! consent, and is marked as self-registered for the consent page.

use crate::domain::client::{Ceiling, MetadataError, NewClient, Provenance};
use crate::domain::Scopes;
use crate::oauth::grants::{authorization_code, refresh_token};

/// Narrows validated metadata to what open registration allows; refuses what it cannot
/// narrow (a grant type that needs no person).
pub fn restrict(new: &mut NewClient, cap: &Scopes) -> Result<(), MetadataError> {
    if let Some(g) = new
        .grant_types
        .iter()
        .find(|g| **g != authorization_code::ID && **g != refresh_token::ID)
    {
        return Err(MetadataError {
            field: "grant_types",
            message: format!("'{g}' is not open to self-registered clients"),
            redirect: false,
        });
    }
    new.scopes = new.scopes.intersection(cap);
    new.skip_consent = false;
    new.audience = None;
    new.provenance = Provenance::SelfRegistered;
    new.ceiling = Some(Ceiling::of(new));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientSpec;

    fn spec(grants: &[&str], scope: &str) -> NewClient {
        ClientSpec {
            name: "Agent".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            grant_types: grants.iter().map(|g| g.to_string()).collect(),
            scopes: vec![scope.into()],
            public: true,
            ..Default::default()
        }
        .validate(false)
        .unwrap()
    }

    #[test]
    fn scopes_are_capped_and_the_client_is_marked() {
        let cap = Scopes::parse("openid profile").unwrap();
        let mut new = spec(&["authorization_code"], "openid email mcp:tools");
        restrict(&mut new, &cap).unwrap();
        assert_eq!(new.scopes.to_string(), "openid");
        assert_eq!(new.provenance, Provenance::SelfRegistered);
        assert!(new.ceiling.is_some());
    }

    #[test]
    fn grants_without_a_person_are_refused() {
        let mut new = ClientSpec {
            name: "Bot".into(),
            grant_types: vec!["client_credentials".into()],
            ..Default::default()
        }
        .validate(false)
        .unwrap();
        let e = restrict(&mut new, &Scopes::default()).unwrap_err();
        assert_eq!(e.field, "grant_types");
    }
}

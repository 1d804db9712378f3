//! Registering protected resources: from their RFC 9728 metadata (fetched by the caller,
//! see `resolve`) or from what the operator says, with the operator's name and scopes
//! winning over the document's.

use serde_json::json;

use super::{Actor, AppError};
use crate::domain::resource::resource_scopes;
use crate::domain::{ProtectedResource, ResourceUri};
use crate::oauth::protected_resource::ResourceMetadata;
use crate::oauth::store::{atomically, Store};

/// What the operator gives when registering (or refreshing) a resource.
#[derive(Debug, Clone, Default)]
pub struct ResourceInput {
    pub name: Option<String>,
    pub scopes: Vec<String>,
}

/// The resource as it will be stored, from the identifier, the fetched metadata (if
/// any) and the operator's input.
pub fn describe(
    uri: &ResourceUri,
    metadata: Option<ResourceMetadata>,
    input: &ResourceInput,
    now: i64,
) -> Result<ProtectedResource, AppError> {
    let scopes = match (&metadata, input.scopes.is_empty()) {
        (_, false) => {
            resource_scopes(&input.scopes).map_err(|m| AppError::Invalid(format!("scope: {m}")))?
        }
        (Some(m), true) => m.scopes.clone(),
        (None, true) => Default::default(),
    };
    let name = input
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| metadata.as_ref().and_then(|m| m.name.clone()))
        .unwrap_or_else(|| host(uri));
    if name.chars().count() > 200 {
        return Err(AppError::Invalid(
            "name: must have at most 200 characters".into(),
        ));
    }
    Ok(ProtectedResource {
        resource: uri.as_str().to_string(),
        name,
        scopes,
        fetched_at: metadata.as_ref().map(|_| now),
        metadata: metadata.map(|m| m.document),
        created_at: now,
        updated_at: now,
    })
}

fn host(uri: &ResourceUri) -> String {
    url::Url::parse(uri.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

fn audit_detail(r: &ProtectedResource) -> serde_json::Value {
    json!({"name": r.name, "scopes": r.scopes.to_string(), "from_metadata": r.fetched_at.is_some()})
}

/// Registers a new resource.
pub fn register(
    store: &mut dyn Store,
    actor: &Actor,
    r: &ProtectedResource,
) -> Result<(), AppError> {
    atomically(store, |s| {
        s.insert_resource(r)?;
        s.record(
            &actor
                .event("resource.register", &r.resource, r.updated_at)
                .detail(audit_detail(r)),
        )?;
        Ok::<_, AppError>(())
    })
}

/// Replaces a registered resource's name, scopes and metadata; its creation time stays.
pub fn update(
    store: &mut dyn Store,
    actor: &Actor,
    r: &ProtectedResource,
) -> Result<ProtectedResource, AppError> {
    atomically(store, |s| {
        let existing = s
            .find_resource(&r.resource)?
            .ok_or_else(|| AppError::NotFound(format!("no resource {}", r.resource)))?;
        let updated = ProtectedResource {
            created_at: existing.created_at,
            ..r.clone()
        };
        s.update_resource(&updated)?;
        s.record(
            &actor
                .event("resource.update", &r.resource, r.updated_at)
                .detail(audit_detail(&updated)),
        )?;
        Ok::<_, AppError>(updated)
    })
}

/// Deletes a resource: tokens can no longer be requested for it (tokens already issued
/// stay valid until they expire).
pub fn delete(
    store: &mut dyn Store,
    actor: &Actor,
    resource: &str,
    now: i64,
) -> Result<(), AppError> {
    atomically(store, |s| {
        if !s.delete_resource(resource)? {
            return Err(AppError::NotFound(format!("no resource {resource}")));
        }
        s.record(&actor.event("resource.delete", resource, now))?;
        Ok::<_, AppError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::memory::MemoryStore;
    use crate::oauth::store::prelude::*;

    fn uri() -> ResourceUri {
        ResourceUri::parse("https://mcp.example/mcp").unwrap()
    }

    fn fetched() -> ResourceMetadata {
        ResourceMetadata {
            resource: "https://mcp.example/mcp".into(),
            name: Some("Tools".into()),
            scopes: crate::domain::Scopes::parse("mcp:tools").unwrap(),
            document: json!({}),
        }
    }

    #[test]
    fn the_operator_wins_over_the_document() {
        let r = describe(&uri(), Some(fetched()), &ResourceInput::default(), 5).unwrap();
        assert_eq!(
            (r.name.as_str(), r.scopes.to_string()),
            ("Tools", "mcp:tools".into())
        );
        assert_eq!(r.fetched_at, Some(5));
        let input = ResourceInput {
            name: Some("Mine".into()),
            scopes: vec!["read".into()],
        };
        let r = describe(&uri(), Some(fetched()), &input, 5).unwrap();
        assert_eq!(
            (r.name.as_str(), r.scopes.to_string()),
            ("Mine", "read".into())
        );
        let bare = describe(&uri(), None, &ResourceInput::default(), 5).unwrap();
        assert_eq!(bare.name, "mcp.example");
        let reserved = ResourceInput {
            scopes: vec!["gatehouse:admin".into()],
            ..Default::default()
        };
        assert!(describe(&uri(), None, &reserved, 5).is_err());
    }

    #[test]
    fn register_update_delete_are_audited() {
        let mut store = MemoryStore::new();
        let r = describe(&uri(), Some(fetched()), &ResourceInput::default(), 5).unwrap();
        register(&mut store, &Actor::cli(), &r).unwrap();
        assert!(matches!(
            register(&mut store, &Actor::cli(), &r),
            Err(AppError::Store(_)) | Err(AppError::Conflict(_))
        ));
        let later = ProtectedResource {
            name: "New".into(),
            updated_at: 9,
            ..r.clone()
        };
        let u = update(&mut store, &Actor::cli(), &later).unwrap();
        assert_eq!((u.created_at, u.name.as_str()), (5, "New"));
        delete(&mut store, &Actor::cli(), &r.resource, 10).unwrap();
        assert!(store.find_resource(&r.resource).unwrap().is_none());
        let actions: Vec<_> = store
            .audit_events()
            .iter()
            .map(|e| e.action.clone())
            .collect();
        assert_eq!(
            actions,
            ["resource.register", "resource.update", "resource.delete"]
        );
    }
}

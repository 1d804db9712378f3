//! `ResourceRegistry` over diesel: registered protected resources.

use diesel::prelude::*;

use super::schema::protected_resources as pr;
use super::DbConn;
use crate::domain::{ProtectedResource, Scopes};
use crate::oauth::store::{ResourceRegistry, StoreError, StoreResult};

#[derive(Queryable, Insertable, AsChangeset)]
#[diesel(table_name = pr, treat_none_as_null = true)]
struct ResourceRow {
    resource: String,
    name: String,
    scopes: String,
    metadata: Option<String>,
    fetched_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl ResourceRow {
    fn of(r: &ProtectedResource) -> ResourceRow {
        ResourceRow {
            resource: r.resource.clone(),
            name: r.name.clone(),
            scopes: r.scopes.to_string(),
            metadata: r.metadata.as_ref().map(|m| m.to_string()),
            fetched_at: r.fetched_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn parse(self) -> StoreResult<ProtectedResource> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("resource {}: bad {what}", self.resource));
        Ok(ProtectedResource {
            scopes: Scopes::parse(&self.scopes).ok_or_else(|| corrupt("scopes"))?,
            metadata: match &self.metadata {
                Some(m) => Some(serde_json::from_str(m).map_err(|_| corrupt("metadata"))?),
                None => None,
            },
            resource: self.resource,
            name: self.name,
            fetched_at: self.fetched_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl ResourceRegistry for DbConn {
    fn insert_resource(&mut self, r: &ProtectedResource) -> StoreResult<()> {
        diesel::insert_into(pr::table)
            .values(ResourceRow::of(r))
            .execute(self)
            .map_err(|e| super::conflict_on_unique(e, "this resource is registered already"))?;
        Ok(())
    }

    fn update_resource(&mut self, r: &ProtectedResource) -> StoreResult<bool> {
        let n = diesel::update(pr::table.filter(pr::resource.eq(&r.resource)))
            .set(ResourceRow::of(r))
            .execute(self)?;
        Ok(n == 1)
    }

    fn find_resource(&mut self, resource: &str) -> StoreResult<Option<ProtectedResource>> {
        pr::table
            .filter(pr::resource.eq(resource))
            .first::<ResourceRow>(self)
            .optional()?
            .map(ResourceRow::parse)
            .transpose()
    }

    fn list_resources(&mut self) -> StoreResult<Vec<ProtectedResource>> {
        pr::table
            .order(pr::resource.asc())
            .limit(10_000)
            .load::<ResourceRow>(self)?
            .into_iter()
            .map(ResourceRow::parse)
            .collect()
    }

    fn delete_resource(&mut self, resource: &str) -> StoreResult<bool> {
        let n = diesel::delete(pr::table.filter(pr::resource.eq(resource))).execute(self)?;
        Ok(n == 1)
    }
}

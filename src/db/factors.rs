//! `FactorStore` over diesel.

use diesel::prelude::*;

use super::schema::user_factors as uf;
use super::DbConn;
use crate::oauth::store::factors::{Factor, FactorKind, FactorStore};
use crate::oauth::store::{StoreError, StoreResult};

#[derive(Queryable, Insertable)]
#[diesel(table_name = uf)]
struct FactorRow {
    id: String,
    user_id: String,
    kind: String,
    name: String,
    lookup: Option<String>,
    secret: Vec<u8>,
    counter: i64,
    detail: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<&Factor> for FactorRow {
    fn from(f: &Factor) -> FactorRow {
        FactorRow {
            id: f.id.clone(),
            user_id: f.user_id.clone(),
            kind: f.kind.as_str().into(),
            name: f.name.clone(),
            lookup: f.lookup.clone(),
            secret: f.secret.clone(),
            counter: f.counter,
            detail: f.detail.clone(),
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

impl TryFrom<FactorRow> for Factor {
    type Error = StoreError;
    fn try_from(r: FactorRow) -> Result<Factor, StoreError> {
        let kind = FactorKind::parse(&r.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("factor {}: kind '{}'", r.id, r.kind)))?;
        Ok(Factor {
            id: r.id,
            user_id: r.user_id,
            kind,
            name: r.name,
            lookup: r.lookup,
            secret: r.secret,
            counter: r.counter,
            detail: r.detail,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
    }
}

impl FactorStore for DbConn {
    fn insert_factor(&mut self, factor: &Factor) -> StoreResult<()> {
        diesel::insert_into(uf::table)
            .values(FactorRow::from(factor))
            .execute(self)
            .map_err(|e| super::conflict_on_unique(e, "this factor is registered already"))?;
        Ok(())
    }

    fn list_factors(&mut self, user_id: &str) -> StoreResult<Vec<Factor>> {
        uf::table
            .filter(uf::user_id.eq(user_id))
            .order((uf::created_at.asc(), uf::id.asc()))
            .load::<FactorRow>(self)?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    fn find_factor(&mut self, kind: FactorKind, lookup: &str) -> StoreResult<Option<Factor>> {
        uf::table
            .filter(uf::kind.eq(kind.as_str()))
            .filter(uf::lookup.eq(lookup))
            .first::<FactorRow>(self)
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }

    fn use_factor(
        &mut self,
        id: &str,
        counter: i64,
        increasing: bool,
        now: i64,
    ) -> StoreResult<bool> {
        let mut q = diesel::update(uf::table).filter(uf::id.eq(id)).into_boxed();
        if increasing {
            q = q.filter(uf::counter.lt(counter));
        }
        let n = q
            .set((uf::counter.eq(counter), uf::last_used_at.eq(Some(now))))
            .execute(self)?;
        Ok(n == 1)
    }

    fn take_recovery_code(&mut self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let n = diesel::delete(
            uf::table
                .filter(uf::kind.eq(FactorKind::Recovery.as_str()))
                .filter(uf::user_id.eq(user_id))
                .filter(uf::lookup.eq(hash)),
        )
        .execute(self)?;
        Ok(n == 1)
    }

    fn delete_factor(&mut self, user_id: &str, id: &str) -> StoreResult<bool> {
        let n = diesel::delete(
            uf::table
                .filter(uf::user_id.eq(user_id))
                .filter(uf::id.eq(id)),
        )
        .execute(self)?;
        Ok(n == 1)
    }

    fn delete_factors(&mut self, user_id: &str, kind: Option<FactorKind>) -> StoreResult<usize> {
        let mut q = diesel::delete(uf::table)
            .filter(uf::user_id.eq(user_id))
            .into_boxed();
        if let Some(kind) = kind {
            q = q.filter(uf::kind.eq(kind.as_str()));
        }
        Ok(q.execute(self)?)
    }
}

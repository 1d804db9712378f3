//! `PushedRequestStore` over diesel: pushed authorization requests (RFC 9126).

use diesel::prelude::*;

use super::schema::pushed_requests as pr;
use super::DbConn;
use crate::oauth::store::{PushedRequestStore, StoreResult};

impl PushedRequestStore for DbConn {
    fn push_request(
        &mut self,
        hash: &str,
        client_id: &str,
        params: &str,
        exp: i64,
    ) -> StoreResult<()> {
        diesel::insert_into(pr::table)
            .values((
                pr::request_uri_hash.eq(hash),
                pr::client_id.eq(client_id),
                pr::params.eq(params),
                pr::expires_at.eq(exp),
            ))
            .execute(self)?;
        Ok(())
    }

    fn take_pushed_request(
        &mut self,
        hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let found: Option<(String, String, i64)> = pr::table
            .filter(pr::request_uri_hash.eq(hash))
            .select((pr::client_id, pr::params, pr::expires_at))
            .first(self)
            .optional()?;
        // The DELETE decides: of concurrent callers, only the one that deletes the row
        // may use it.
        let deleted =
            diesel::delete(pr::table.filter(pr::request_uri_hash.eq(hash))).execute(self)?;
        if deleted != 1 {
            return Ok(None);
        }
        Ok(found
            .filter(|(c, _, exp)| c == client_id && *exp > now)
            .map(|(_, params, _)| params))
    }
}

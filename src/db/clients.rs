//! `ClientRegistry` over diesel: registered OAuth clients.

use diesel::prelude::*;

use super::schema::clients;
use super::DbConn;
use crate::domain::client::{AuthMethod, Client, GrantType, OpenIdOptions, Provenance, FAPI2};
use crate::domain::Scopes;
use crate::keys::Alg;
use crate::oauth::store::StoreResult;
use crate::oauth::store::{ClientRegistry, Replacement, StoreError};

#[derive(Queryable, Insertable, AsChangeset, PartialEq)]
#[diesel(table_name = clients, treat_none_as_null = true)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    is_public: bool,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    skip_consent: bool,
    jwks: Option<String>,
    id_token_signed_response_alg: Option<String>,
    access_token_alg: Option<String>,
    audience: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    contacts: String,
    registration_token_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
    registration_ceiling: Option<String>,
    tokens_valid_after: i64,
    jwks_uri: Option<String>,
    provenance: String,
    used_at: Option<i64>,
    dpop_bound_access_tokens: bool,
    require_pushed_authorization_requests: bool,
    security_profile: Option<String>,
    request_object_signing_alg: Option<String>,
    request_uris: String,
    userinfo_signed_response_alg: Option<String>,
    /// Subject type and logout channels as JSON (`OpenIdOptions`).
    openid_options: String,
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("string list serializes")
}

fn parse_list(field: &str, raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("clients.{field}: {e}")))
}

impl ClientRow {
    fn into_client(self) -> StoreResult<Client> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("client {}: bad {what}", self.client_id));
        let auth_method =
            AuthMethod::parse(&self.auth_method).ok_or_else(|| corrupt("auth_method"))?;
        let grant_types = parse_list("grant_types", &self.grant_types)?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
            .collect::<Result<Vec<_>, _>>()?;
        let alg = |v: &Option<String>| v.as_deref().and_then(Alg::parse);
        let ceiling = match &self.registration_ceiling {
            Some(j) => Some(serde_json::from_str(j).map_err(|_| corrupt("ceiling"))?),
            None => None,
        };
        let provenance =
            Provenance::parse(&self.provenance).ok_or_else(|| corrupt("provenance"))?;
        Ok(Client {
            provenance,
            jwks_uri: self.jwks_uri,
            used_at: self.used_at,
            dpop_bound: self.dpop_bound_access_tokens,
            require_par: self.require_pushed_authorization_requests,
            fapi2: self.security_profile.as_deref() == Some(FAPI2),
            request_object_alg: self.request_object_signing_alg,
            request_uris: parse_list("request_uris", &self.request_uris)?,
            userinfo_alg: alg(&self.userinfo_signed_response_alg),
            openid: serde_json::from_str::<OpenIdOptions>(&self.openid_options)
                .map_err(|_| corrupt("openid_options"))?,
            auth_method,
            grant_types,
            redirect_uris: parse_list("redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: parse_list(
                "post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            scopes: Scopes::parse(&self.scopes).ok_or_else(|| corrupt("scopes"))?,
            jwks: match &self.jwks {
                Some(j) => Some(serde_json::from_str(j).map_err(|_| corrupt("jwks"))?),
                None => None,
            },
            id_token_alg: alg(&self.id_token_signed_response_alg),
            access_token_alg: alg(&self.access_token_alg),
            contacts: parse_list("contacts", &self.contacts)?,
            client_id: self.client_id,
            name: self.name,
            secret_hash: self.secret_hash,
            skip_consent: self.skip_consent,
            audience: self.audience,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            registration_token_hash: self.registration_token_hash,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ceiling,
            tokens_valid_after: self.tokens_valid_after,
        })
    }

    fn from_client(c: &Client) -> ClientRow {
        let grants: Vec<String> = c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_string())
            .collect();
        ClientRow {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            secret_hash: c.secret_hash.clone(),
            is_public: c.auth_method == AuthMethod::None,
            auth_method: c.auth_method.as_str().to_string(),
            redirect_uris: json_list(&c.redirect_uris),
            post_logout_redirect_uris: json_list(&c.post_logout_redirect_uris),
            grant_types: json_list(&grants),
            scopes: c.scopes.to_string(),
            skip_consent: c.skip_consent,
            jwks: c.jwks.as_ref().map(|j| j.to_string()),
            id_token_signed_response_alg: c.id_token_alg.map(|a| a.as_str().to_string()),
            access_token_alg: c.access_token_alg.map(|a| a.as_str().to_string()),
            audience: c.audience.clone(),
            client_uri: c.client_uri.clone(),
            logo_uri: c.logo_uri.clone(),
            contacts: json_list(&c.contacts),
            registration_token_hash: c.registration_token_hash.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            registration_ceiling: c
                .ceiling
                .as_ref()
                .map(|x| serde_json::to_string(x).unwrap_or_default()),
            tokens_valid_after: c.tokens_valid_after,
            jwks_uri: c.jwks_uri.clone(),
            provenance: c.provenance.as_str().to_string(),
            used_at: c.used_at,
            dpop_bound_access_tokens: c.dpop_bound,
            require_pushed_authorization_requests: c.require_par,
            security_profile: c.fapi2.then(|| FAPI2.to_string()),
            request_object_signing_alg: c.request_object_alg.clone(),
            request_uris: json_list(&c.request_uris),
            userinfo_signed_response_alg: c.userinfo_alg.map(|a| a.as_str().to_string()),
            openid_options: serde_json::to_string(&c.openid).expect("options serialize"),
        }
    }
}

impl ClientRegistry for DbConn {
    fn insert_client(&mut self, client: &Client) -> StoreResult<()> {
        diesel::insert_into(clients::table)
            .values(ClientRow::from_client(client))
            .execute(self)
            .map_err(|e| super::conflict_on_unique(e, "a client with this id exists"))?;
        Ok(())
    }

    fn find_client(&mut self, client_id: &str) -> StoreResult<Option<Client>> {
        clients::table
            .filter(clients::client_id.eq(client_id))
            .first::<ClientRow>(self)
            .optional()?
            .map(ClientRow::into_client)
            .transpose()
    }

    fn list_clients(&mut self, offset: i64, limit: i64) -> StoreResult<Vec<Client>> {
        clients::table
            .order((clients::created_at.asc(), clients::client_id.asc()))
            .offset(offset)
            .limit(limit)
            .load::<ClientRow>(self)?
            .into_iter()
            .map(ClientRow::into_client)
            .collect()
    }

    fn count_clients(&mut self) -> StoreResult<i64> {
        Ok(clients::table.count().get_result(self)?)
    }

    fn replace_client(&mut self, id: &str, with: &Replacement) -> StoreResult<Option<Client>> {
        let Some(existing) = self.find_client(id)? else {
            return Ok(None);
        };
        let c = with
            .new
            .replacing(existing, with.secret_hash.clone(), with.now);
        diesel::update(clients::table.filter(clients::client_id.eq(id)))
            .set(ClientRow::from_client(&c))
            .execute(self)?;
        Ok(Some(c))
    }

    fn set_client_secret(&mut self, id: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let n = diesel::update(clients::table.filter(clients::client_id.eq(id)))
            .set((clients::secret_hash.eq(hash), clients::updated_at.eq(now)))
            .execute(self)?;
        Ok(n == 1)
    }

    fn invalidate_client_tokens(&mut self, client_id: &str, at: i64) -> StoreResult<bool> {
        let n = diesel::update(clients::table.filter(clients::client_id.eq(client_id)))
            .set(clients::tokens_valid_after.eq(at))
            .execute(self)?;
        Ok(n == 1)
    }

    fn mark_client_used(&mut self, client_id: &str, now: i64) -> StoreResult<()> {
        diesel::update(
            clients::table
                .filter(clients::client_id.eq(client_id))
                .filter(
                    clients::used_at
                        .is_null()
                        .or(clients::used_at.le(now - 3600)),
                ),
        )
        .set(clients::used_at.eq(now))
        .execute(self)?;
        Ok(())
    }

    fn save_document_client(&mut self, client: &Client) -> StoreResult<()> {
        let Some(existing) = self.find_client(&client.client_id)? else {
            return self.insert_client(client);
        };
        let mut c = client.clone();
        c.created_at = existing.created_at;
        c.used_at = existing.used_at;
        c.tokens_valid_after = existing.tokens_valid_after;
        c.updated_at = existing.updated_at;
        let row = ClientRow::from_client(&c);
        if row == ClientRow::from_client(&existing) {
            return Ok(());
        }
        diesel::update(clients::table.filter(clients::client_id.eq(&c.client_id)))
            .set(ClientRow {
                updated_at: client.updated_at,
                ..row
            })
            .execute(self)?;
        Ok(())
    }

    fn unused_self_registered(&mut self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        Ok(clients::table
            .filter(clients::provenance.ne(Provenance::Operator.as_str()))
            .filter(
                clients::used_at.lt(before).or(clients::used_at
                    .is_null()
                    .and(clients::created_at.lt(before))),
            )
            .select(clients::client_id)
            .limit(limit)
            .load(self)?)
    }

    fn delete_client(&mut self, client_id: &str) -> StoreResult<bool> {
        let n = diesel::delete(clients::table.filter(clients::client_id.eq(client_id)))
            .execute(self)?;
        Ok(n == 1)
    }
}

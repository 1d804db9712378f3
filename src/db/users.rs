//! `UserDirectory` over diesel: the people who log in.

use diesel::prelude::*;

use super::schema::users;
use super::DbConn;
use crate::domain::user::{Address, User};
use crate::oauth::store::{StoreError, StoreResult};
use crate::oauth::store::{UserChanges, UserDirectory};

#[derive(Queryable, Insertable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    is_admin: bool,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
    phone_number: Option<String>,
    phone_number_verified: bool,
    /// The OpenID address claim as JSON.
    address: Option<String>,
    require_mfa: bool,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> UserRow {
        UserRow {
            id: u.id.clone(),
            username: u.username.clone(),
            password_hash: u.password_hash.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            name: u.name.clone(),
            is_admin: u.is_admin,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
            phone_number: u.phone_number.clone(),
            phone_number_verified: u.phone_number_verified,
            address: u.address.as_ref().map(address_json),
            require_mfa: u.require_mfa,
        }
    }
}

fn address_json(a: &Address) -> String {
    serde_json::to_string(a).expect("an address serializes")
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User, StoreError> {
        let address = r
            .address
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|_| StoreError::Corrupt(format!("user {}: address", r.id)))?;
        Ok(User {
            id: r.id,
            username: r.username,
            password_hash: r.password_hash,
            email: r.email,
            email_verified: r.email_verified,
            name: r.name,
            is_admin: r.is_admin,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            phone_number: r.phone_number,
            phone_number_verified: r.phone_number_verified,
            address,
            require_mfa: r.require_mfa,
        })
    }
}

/// The changeset of a [`UserChanges`]; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct UserChangeset {
    email: Option<Option<String>>,
    name: Option<Option<String>>,
    email_verified: Option<bool>,
    phone_number: Option<Option<String>>,
    phone_number_verified: Option<bool>,
    address: Option<Option<String>>,
    is_admin: Option<bool>,
    disabled: Option<bool>,
    password_hash: Option<String>,
    require_mfa: Option<bool>,
    updated_at: i64,
}

diesel::define_sql_function! {
    /// SQL `lower()`, so a search ignores case on both backends alike (SQLite's LIKE
    /// ignores ASCII case, PostgreSQL's does not).
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Users whose username, e-mail or name contains `search`, ignoring case (all when
/// `None` or empty).
fn matching(
    search: Option<&str>,
) -> users::BoxedQuery<'static, <DbConn as diesel::Connection>::Backend> {
    let mut q = users::table.into_boxed();
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        q = q.filter(
            lower(users::username.nullable())
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::email).like(pattern.clone()).escape('\\'))
                .or(lower(users::name).like(pattern).escape('\\')),
        );
    }
    q
}

impl UserDirectory for DbConn {
    fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        let name = &user.username;
        diesel::insert_into(users::table)
            .values(UserRow::from(user))
            .execute(self)
            .map_err(|e| super::conflict_on_unique(e, &format!("user '{name}' already exists")))?;
        Ok(())
    }

    fn find_user_by_name(&mut self, username: &str) -> StoreResult<Option<User>> {
        users::table
            .filter(users::username.eq(username))
            .first::<UserRow>(self)
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }

    fn find_user(&mut self, id: &str) -> StoreResult<Option<User>> {
        users::table
            .filter(users::id.eq(id))
            .first::<UserRow>(self)
            .optional()?
            .map(TryInto::try_into)
            .transpose()
    }

    fn list_users(&mut self, search: Option<&str>, skip: i64, max: i64) -> StoreResult<Vec<User>> {
        matching(search)
            .order(users::username.asc())
            .offset(skip)
            .limit(max)
            .load::<UserRow>(self)?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    fn count_users(&mut self, search: Option<&str>) -> StoreResult<i64> {
        Ok(matching(search).count().get_result(self)?)
    }

    fn update_user(&mut self, name: &str, changes: &UserChanges, now: i64) -> StoreResult<bool> {
        let username = name;
        let changes = UserChangeset {
            email: changes.email.clone(),
            name: changes.name.clone(),
            email_verified: changes.email_verified,
            phone_number: changes.phone_number.clone(),
            phone_number_verified: changes.phone_number_verified,
            address: changes
                .address
                .as_ref()
                .map(|a| a.as_ref().map(address_json)),
            is_admin: changes.is_admin,
            disabled: changes.disabled,
            password_hash: changes.password_hash.clone(),
            require_mfa: changes.require_mfa,
            updated_at: now,
        };
        let n = diesel::update(users::table.filter(users::username.eq(username)))
            .set(changes)
            .execute(self)?;
        Ok(n == 1)
    }

    fn delete_user(&mut self, username: &str) -> StoreResult<bool> {
        let n = diesel::delete(users::table.filter(users::username.eq(username))).execute(self)?;
        Ok(n == 1)
    }
}

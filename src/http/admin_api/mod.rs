//! The admin REST API under `/admin/api/`: clients and users, for a Bearer token carrying
//! `gatehouse:admin`, with JSON errors of one shape ([`ApiError`]) and an OpenAPI document
//! generated from the handlers' annotations.

pub mod clients;
pub mod factors;
pub mod resources;
pub mod users;

use crate::oauth::subject::token_user;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::bearer::require_scope;
use super::errors::{ApiError, ApiErrorBody, Failure};
use super::Data;
use crate::app::{Actor, AppError};
use crate::domain::scopes::ADMIN_SCOPE;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::registration::{from_json, JsonError};
use crate::oauth::store::Store;

pub const PREFIX: &str = "/admin/api";
pub const OPENAPI_PATH: &str = "/admin/api/openapi.json";

/// Declares the routes once: [`ROUTES`] (method, full path) and the function registering
/// them come from the same list, so the OpenAPI check tests what is really served.
macro_rules! admin_routes {
    ($( $path:literal => { $( $method:ident $handler:path ),+ $(,)? } ),+ $(,)?) => {
        /// Every route of the admin API except the OpenAPI document itself.
        pub const ROUTES: &[(&str, &str)] = &[
            $( $( (stringify!($method), concat!("/admin/api", $path)) ),+ ),+
        ];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .route(web::method(Method::$method).to($handler)) )+
                        .default_service(web::to(method_not_allowed)),
                );
            )+
        }
    };
}

admin_routes! {
    "/clients" => { GET clients::list, POST clients::create },
    "/clients/{client_id}" => {
        GET clients::show,
        PUT clients::replace,
        DELETE clients::delete,
    },
    "/clients/{client_id}/rotate-secret" => { POST clients::rotate_secret },
    "/users" => { GET users::list, POST users::create },
    "/users/{username}" => {
        GET users::show,
        PATCH users::update,
        DELETE users::delete,
    },
    "/users/{username}/password" => { POST users::set_password },
    "/users/{username}/factors" => { GET factors::list, DELETE users::reset_factors },
    "/users/{username}/factors/{id}" => { DELETE factors::remove },
    "/resources" => { GET resources::list, POST resources::create },
    "/resource" => { GET resources::show, DELETE resources::delete },
    "/resource/refresh" => { POST resources::refresh },
}

/// Registered before any `/admin` page scope, which would otherwise take these paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .route("/openapi.json", web::get().to(openapi_json))
            .configure(register)
            .default_service(web::to(no_such_route)),
    );
}

/// 405 in the API's shape, with the `Allow` header RFC 9110 §15.5.6 asks for.
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let pattern = req.match_pattern().unwrap_or_default();
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, p)| *p == pattern)
        .map(|(m, _)| *m)
        .collect();
    let mut res = Failure::from(ApiError::method_not_allowed()).error_response();
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

async fn no_such_route() -> Result<HttpResponse, Failure> {
    Err(ApiError::not_found("no such admin API route").into())
}

/// The refusals every admin operation may answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
pub enum Refused {
    #[response(status = 401, description = "No valid token (`invalid_token`)")]
    NoToken(#[to_schema] ApiErrorBody),
    #[response(
        status = 403,
        description = "The token lacks gatehouse:admin (`insufficient_scope`)"
    )]
    NoScope(#[to_schema] ApiErrorBody),
}

/// Who is acting, as the audit log names them.
#[derive(Debug, Clone)]
pub struct Admin {
    pub actor: String,
}

/// A token with `gatehouse:admin`: 401 without a valid token, 403 without the scope.
/// A user's token counts only while the user exists, is enabled and is an administrator.
/// Failures are in the OAuth (RFC 6750) shape; the admin API converts them.
pub async fn require_admin(services: &Data, req: &HttpRequest) -> Result<Admin, Failure> {
    let claims = require_scope(services, req, ADMIN_SCOPE).await?;
    // The client must still hold the scope, not just the token.
    let client = services
        .client(&claims.client_id)
        .await
        .map_err(|e| Failure::Bearer(e.into()))?;
    if !client.is_some_and(|c| c.scopes.contains(ADMIN_SCOPE)) {
        return Err(Failure::Bearer(OAuthError::invalid_token(
            "the token's client may no longer administer gatehouse",
        )));
    }
    if !claims.is_user_token() {
        return Ok(Admin {
            actor: format!("client:{}", claims.client_id),
        });
    }
    let sealer = services.sealer.clone();
    let user = services
        .db
        .run(move |c| match token_user(c, &sealer, &claims)? {
            Some(id) => c.find_user(&id),
            None => Ok(None),
        })
        .await
        .map_err(|e| Failure::Bearer(e.into()))?;
    match user {
        // Named as the admin pages name users, so one person has one actor name.
        Some(u) if !u.disabled && u.is_admin => Ok(Admin {
            actor: format!("user:{}", u.username),
        }),
        Some(u) if !u.disabled => Err(Failure::Bearer(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the token's user is not an administrator",
        ))),
        _ => Err(Failure::Bearer(OAuthError::invalid_token(
            "the token's user is disabled or gone",
        ))),
    }
}

/// [`require_admin`] with failures in the admin API's shape.
async fn admin(services: &Data, req: &HttpRequest) -> Result<Admin, ApiError> {
    require_admin(services, req)
        .await
        .map_err(Failure::into_api)
}

/// The acting administrator and the request's address, for the application layer.
fn actor(admin: &Admin, req: &HttpRequest) -> Actor {
    Actor::new(admin.actor.clone(), super::audit::client_ip(req))
}

/// An application operation on the blocking pool, failures in the admin API's shape.
async fn app<T, F>(services: &Data, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Store) -> Result<T, AppError> + Send + 'static,
{
    super::run_app(services, f).await
}

/// A JSON body as `T`; a 400 naming the member at fault otherwise.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    from_json(bytes).map_err(|e: JsonError| ApiError::bad_request(e.to_string()))
}

/// A JSON response; admin responses may carry secrets, so none is cached.
fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// `offset` (default 0) and `limit` (1 to 200, default 50) of a list request, and its
/// other query parameters.
#[derive(Debug)]
struct Paging {
    offset: i64,
    limit: i64,
    params: Params,
}

impl Paging {
    fn parse(query: &str) -> Result<Paging, ApiError> {
        let params = Params::parse_query(query).map_err(|e| {
            ApiError::bad_request(e.description.unwrap_or_else(|| "bad query".into()))
        })?;
        let number = |name: &str, default: i64, min: i64, max: i64| match params.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name}: must be an integer from {min} to {max}"))
                }),
        };
        Ok(Paging {
            offset: number("offset", 0, 0, i64::MAX)?,
            limit: number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?,
            params,
        })
    }
}

/// The bearer security scheme: a token from the token endpoint carrying `gatehouse:admin`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from this server's token endpoint (e.g. a \
                         client_credentials grant) carrying the scope gatehouse:admin.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse admin API",
        description = "Manage OAuth clients, users and protected resources. Every operation needs a Bearer \
                       access token carrying the scope `gatehouse:admin`. Errors are \
                       always `{\"error\": code, \"message\": text}`."
    ),
    paths(
        clients::list,
        clients::create,
        clients::show,
        clients::replace,
        clients::delete,
        clients::rotate_secret,
        users::list,
        users::create,
        users::show,
        users::update,
        users::delete,
        users::set_password,
        users::reset_factors,
        factors::list,
        factors::remove,
        resources::list,
        resources::create,
        resources::show,
        resources::refresh,
        resources::delete,
    ),
    components(schemas(ApiErrorBody)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "clients", description = "OAuth clients"),
        (name = "users", description = "People who log in"),
        (name = "resources", description = "Protected resources (APIs, MCP servers) tokens are issued for"),
    )
)]
pub struct ApiDoc;

/// The document, with this server's issuer as its server.
pub fn openapi_document(issuer: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.servers = Some(vec![utoipa::openapi::Server::new(issuer)]);
    doc
}

/// Public: it describes the API and holds nothing secret.
async fn openapi_json(services: Data) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache"))
        .json(openapi_document(&services.settings.issuer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every documented operation as (METHOD, path).
    fn documented(doc: &utoipa::openapi::OpenApi) -> BTreeSet<(String, String)> {
        let v = serde_json::to_value(doc).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in v["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn the_document_lists_exactly_the_registered_routes() {
        let doc = openapi_document("https://id.example");
        let registered: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented(&doc), registered);
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            v["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        // What OpenAPI requires and generators rely on: unique operation ids, and a
        // description on every response.
        let mut ids = BTreeSet::new();
        for item in v["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
                for status in ["401", "403"] {
                    let r = &op["responses"][status];
                    assert!(
                        r["content"]["application/json"].is_object(),
                        "{status} of {op}"
                    );
                }
                for (status, r) in op["responses"].as_object().unwrap() {
                    assert!(r["description"].is_string(), "{status} of {op}");
                }
            }
        }
    }

    #[test]
    fn paging_bounds() {
        let p = Paging::parse("").unwrap();
        assert_eq!((p.offset, p.limit), (0, DEFAULT_LIMIT));
        let p = Paging::parse("offset=10&limit=5&q=al").unwrap();
        assert_eq!((p.offset, p.limit, p.params.get("q")), (10, 5, Some("al")));
        assert!(Paging::parse("limit=0").is_err());
        assert!(Paging::parse("limit=201").is_err());
        assert!(Paging::parse("offset=-1").is_err());
        assert!(Paging::parse("offset=x").is_err());
        assert!(Paging::parse("limit=1&limit=2").is_err());
    }
}

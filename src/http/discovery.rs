//! OpenID Connect Discovery 1.0, RFC 8414 metadata, and the JWKS.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::Data;
use crate::config::Settings;
use crate::domain::client::AuthMethod;
use crate::domain::scopes::STANDARD_SCOPES;
use crate::keys::Alg;
use crate::oauth::grants;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(openid_configuration),
    )
    .route(
        "/.well-known/oauth-authorization-server",
        web::get().to(oauth_metadata),
    )
    .route("/jwks.json", web::get().to(jwks))
    .route("/.well-known/webfinger", web::get().to(webfinger));
}

/// WebFinger (OpenID Discovery §2): the issuer of an identifier on this host.
async fn webfinger(services: Data, req: actix_web::HttpRequest) -> HttpResponse {
    use crate::oauth::webfinger::{lookup, Refused};
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let resources: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    let rels: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "rel")
        .map(|(_, v)| v.as_str())
        .collect();
    let resource = match resources.as_slice() {
        [one] => Some(*one),
        [] => None,
        _ => {
            return HttpResponse::BadRequest().json(
                json!({"error": "invalid_request", "error_description": "give one resource"}),
            )
        }
    };
    match lookup(&services.settings.issuer, resource, &rels) {
        Ok(jrd) => HttpResponse::Ok()
            .content_type("application/jrd+json")
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .body(jrd.to_string()),
        Err(Refused::BadRequest(why)) => HttpResponse::BadRequest()
            .json(json!({"error": "invalid_request", "error_description": why})),
        Err(Refused::NotHere) => HttpResponse::NotFound().json(
            json!({"error": "not_found", "error_description": "no such identifier on this server"}),
        ),
    }
}

pub const PATH_AUTHORIZE: &str = "/authorize";
pub const PATH_TOKEN: &str = "/token";
pub const PATH_JWKS: &str = "/jwks.json";

/// The provider metadata: only what gatehouse implements.
pub fn metadata(settings: &Settings) -> Value {
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let mut doc = json!({
        "issuer": settings.issuer,
        "authorization_endpoint": settings.url(PATH_AUTHORIZE),
        "token_endpoint": settings.url(PATH_TOKEN),
        "jwks_uri": settings.url(PATH_JWKS),
        "userinfo_endpoint": settings.url(super::userinfo::PATH),
        "introspection_endpoint": settings.url(super::introspect::INTROSPECT),
        "revocation_endpoint": settings.url(super::introspect::REVOKE),
        "registration_endpoint": settings.url(super::registration::PATH),
        "pushed_authorization_request_endpoint": settings.url(super::par::PATH),
        "device_authorization_endpoint": settings.url(super::device::PATH_AUTHORIZATION),
        "require_pushed_authorization_requests": settings.outbound.require_par,
        "end_session_endpoint": settings.url(super::logout::PATH),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "scopes_supported": STANDARD_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": grants::all().map(|g| g.as_str()).collect::<Vec<_>>(),
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": &auth_methods[..3],
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": crate::oauth::claims::CLAIMS_SUPPORTED,
        "claims_parameter_supported": true,
        "acr_values_supported": crate::oauth::claims::ACR_VALUES,
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256", "none"],
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": crate::oauth::authorize::PROMPT_VALUES,
        // draft-ietf-oauth-client-id-metadata-document: https URLs as client_id.
        "client_id_metadata_document_supported": settings.outbound.metadata_documents,
        "dpop_signing_alg_values_supported": crate::oauth::dpop::ALGS,
    });
    // The languages of the pages (OpenID Discovery §3), beside the macro's limit.
    doc["ui_locales_supported"] = json!(crate::i18n::Lang::ALL.map(|l| l.tag()));
    doc
}

fn json_response(body: String, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", cache))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(body)
}

async fn openid_configuration(services: Data) -> HttpResponse {
    json_response(
        metadata(&services.settings).to_string(),
        "public, max-age=3600",
    )
}

async fn oauth_metadata(services: Data) -> HttpResponse {
    json_response(
        metadata(&services.settings).to_string(),
        "public, max-age=3600",
    )
}

/// Short caching: a client that sees an unknown `kid` after a rotation refetches soon,
/// and a cached copy is always younger than the pre-publication time of new keys.
async fn jwks(services: Data) -> HttpResponse {
    let set = services.keys.current();
    let max_age = (services.settings.lifetimes.key_prepublish / 2).clamp(1, 300);
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(set.jwks_json.clone())
}

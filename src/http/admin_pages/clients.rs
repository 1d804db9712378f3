//! `/admin/clients`: list, register, edit, rotate the secret of and delete clients,
//! through the admin API's operations.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{
    admin_url, api_failure, notice, query, read_form, require_admin, respond, see_other,
    unavailable, Admin, FormError, Frame, Layout, Refusal, Section,
};
use crate::domain::client::{AuthMethod, ClientSecret, GrantType};
use crate::domain::Client;
use crate::http::admin_api::clients::{
    create_client, delete_client, find_client, replace_client, rotate_client_secret, ClientRequest,
};
use crate::http::errors::ApiError;
use crate::http::Data;
use crate::oauth::grants;
use crate::oauth::params::Params;
use crate::oauth::registration::ClientMetadataRequest;

/// Clients per page of the list.
const PAGE_SIZE: i64 = 50;
/// Beyond any real list, and far from overflowing.
const MAX_OFFSET: i64 = 1 << 40;

/// The admin API's field names, and the form's field and label for each.
const FIELDS: &[(&str, &str, &str)] = &[
    ("client_name", "client_name", "Name"),
    ("redirect_uris", "redirect_uris", "Redirect URIs"),
    (
        "post_logout_redirect_uris",
        "post_logout_redirect_uris",
        "Post-logout redirect URIs",
    ),
    ("audience", "audience", "Access token audiences"),
    ("grant_types", "grant_types", "Grant types"),
    ("scope", "scope", "Scopes"),
    (
        "token_endpoint_auth_method",
        "auth_method",
        "Client authentication",
    ),
    ("jwks", "jwks", "Public keys (JWKS)"),
    (
        "subject_type",
        "subject_type",
        "Pairwise subject identifiers",
    ),
    (
        "sector_identifier_uri",
        "sector_identifier_uri",
        "Sector identifier URI",
    ),
    (
        "backchannel_logout_uri",
        "backchannel_logout_uri",
        "Back-channel logout URI",
    ),
    (
        "frontchannel_logout_uri",
        "frontchannel_logout_uri",
        "Front-channel logout URI",
    ),
];

/// The confidential methods the form offers (a public client uses `none`).
const METHODS: &[(&str, &str)] = &[
    (
        "client_secret_basic",
        "Client secret, HTTP Basic (client_secret_basic)",
    ),
    (
        "client_secret_post",
        "Client secret in the form (client_secret_post)",
    ),
    ("private_key_jwt", "Signed JWT with a key (private_key_jwt)"),
];

/// The form field of a grant's checkbox: `grant_` and its name, punctuation as `_`.
fn grant_field(g: GrantType) -> String {
    let name: String = g
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("grant_{name}")
}

pub struct Row {
    pub name: String,
    pub client_id: String,
    pub kind: &'static str,
    pub grants: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage {
    layout: Layout,
    notice: Option<&'static str>,
    new_url: String,
    rows: Vec<Row>,
    total: i64,
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
}

pub struct Choice {
    pub name: String,
    pub label: &'static str,
    pub checked: bool,
}

/// The form's values, as shown and as posted.
#[derive(Debug, Clone, Default)]
pub struct ClientForm {
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub audience: String,
    pub grants: Vec<GrantType>,
    pub scope: String,
    pub public: bool,
    pub auth_method: String,
    pub jwks: String,
    pub skip_consent: bool,
    /// Pairwise subjects, the sector document and the logout channels.
    pub pairwise: bool,
    pub sector_identifier_uri: String,
    pub backchannel_logout_uri: String,
    pub backchannel_logout_session_required: bool,
    pub frontchannel_logout_uri: String,
    pub frontchannel_logout_session_required: bool,
    /// Its users need a second factor.
    pub require_mfa: bool,
}

impl ClientForm {
    fn blank() -> Self {
        ClientForm {
            auth_method: AuthMethod::ClientSecretBasic.as_str().into(),
            ..Default::default()
        }
    }

    fn of(c: &Client) -> Self {
        ClientForm {
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            audience: c.audience.clone().unwrap_or_default(),
            grants: c.grant_types.clone(),
            scope: c.scopes.to_string(),
            public: c.is_public(),
            auth_method: if c.is_public() {
                AuthMethod::ClientSecretBasic.as_str().into()
            } else {
                c.auth_method.as_str().into()
            },
            jwks: c
                .jwks
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok())
                .unwrap_or_default(),
            skip_consent: c.skip_consent,
            pairwise: c.openid.pairwise,
            sector_identifier_uri: c.openid.sector_identifier_uri.clone().unwrap_or_default(),
            backchannel_logout_uri: c.openid.backchannel_logout_uri.clone().unwrap_or_default(),
            backchannel_logout_session_required: c.openid.backchannel_logout_session_required,
            frontchannel_logout_uri: c.openid.frontchannel_logout_uri.clone().unwrap_or_default(),
            frontchannel_logout_session_required: c.openid.frontchannel_logout_session_required,
            require_mfa: c.openid.require_mfa,
        }
    }

    fn posted(form: &Params) -> Self {
        let text = |k: &str| form.get(k).unwrap_or("").to_string();
        ClientForm {
            name: text("client_name").trim().to_string(),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            audience: text("audience")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            grants: grants::all()
                .filter(|g| form.get(&grant_field(*g)).is_some())
                .collect(),
            scope: text("scope")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            public: form.get("public").is_some(),
            auth_method: text("auth_method"),
            jwks: text("jwks").trim().to_string(),
            skip_consent: form.get("skip_consent").is_some(),
            pairwise: form.get("subject_type") == Some("pairwise"),
            sector_identifier_uri: text("sector_identifier_uri").trim().to_string(),
            backchannel_logout_uri: text("backchannel_logout_uri").trim().to_string(),
            backchannel_logout_session_required: form
                .get("backchannel_logout_session_required")
                .is_some(),
            frontchannel_logout_uri: text("frontchannel_logout_uri").trim().to_string(),
            frontchannel_logout_session_required: form
                .get("frontchannel_logout_session_required")
                .is_some(),
            require_mfa: form.get("require_mfa").is_some(),
        }
    }

    /// The admin API's request for this form; what the form does not show (contacts,
    /// token algorithms…) is kept from `existing`.
    fn request(&self, existing: Option<&Client>) -> Result<ClientRequest, FormError> {
        if self.name.is_empty() {
            return Err(FormError::new("client_name", "Name: enter a name."));
        }
        let jwks = match self.jwks.as_str() {
            "" => None,
            raw => Some(serde_json::from_str(raw).map_err(|e| {
                FormError::new("jwks", format!("Public keys (JWKS): not JSON ({e})."))
            })?),
        };
        // Public wins; no choice at all is the default (client_secret_basic).
        let method = if self.public {
            Some(AuthMethod::None.as_str().to_string())
        } else {
            Some(self.auth_method.clone()).filter(|m| !m.is_empty())
        };
        let lines = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        let metadata = ClientMetadataRequest {
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            grant_types: self.grants.iter().map(|g| g.as_str().to_string()).collect(),
            response_types: None,
            token_endpoint_auth_method: method,
            // Not on the form: kept as they are.
            jwks_uri: existing
                .and_then(|c| c.jwks_uri.clone())
                .filter(|_| jwks.is_none()),
            dpop_bound_access_tokens: existing.is_some_and(|c| c.dpop_bound),
            require_pushed_authorization_requests: existing.is_some_and(|c| c.require_par),
            request_object_signing_alg: existing.and_then(|c| c.request_object_alg.clone()),
            request_uris: existing.map(|c| c.request_uris.clone()).unwrap_or_default(),
            userinfo_signed_response_alg: existing
                .and_then(|c| c.userinfo_alg)
                .map(|a| a.as_str().to_string()),
            security_profile: existing
                .filter(|c| c.fapi2)
                .map(|_| crate::domain::client::FAPI2.to_string()),
            jwks,
            scope: (!self.scope.is_empty()).then(|| self.scope.clone()),
            client_name: Some(self.name.clone()),
            client_uri: existing.and_then(|c| c.client_uri.clone()),
            logo_uri: existing.and_then(|c| c.logo_uri.clone()),
            contacts: existing.map(|c| c.contacts.clone()).unwrap_or_default(),
            id_token_signed_response_alg: existing
                .and_then(|c| c.id_token_alg)
                .map(|a| a.as_str().to_string()),
            subject_type: Some(if self.pairwise { "pairwise" } else { "public" }.into()),
            sector_identifier_uri: Some(self.sector_identifier_uri.clone())
                .filter(|u| !u.is_empty()),
            backchannel_logout_uri: Some(self.backchannel_logout_uri.clone())
                .filter(|u| !u.is_empty()),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            frontchannel_logout_uri: Some(self.frontchannel_logout_uri.clone())
                .filter(|u| !u.is_empty()),
            frontchannel_logout_session_required: self.frontchannel_logout_session_required,
            require_mfa: self.require_mfa,
            client_id: None,
            client_secret: None,
        };
        Ok(ClientRequest {
            metadata,
            skip_consent: self.skip_consent,
            audience: (!self.audience.is_empty()).then(|| self.audience.clone()),
            access_token_signed_response_alg: existing
                .and_then(|c| c.access_token_alg)
                .map(|a| a.as_str().to_string()),
        })
    }

    pub fn grant_choices(&self) -> Vec<Choice> {
        grants::all()
            .map(|g| Choice {
                name: grant_field(g),
                label: g.profile().label,
                checked: self.grants.contains(&g),
            })
            .collect()
    }

    pub fn method_choices(&self) -> Vec<Choice> {
        METHODS
            .iter()
            .map(|(name, label)| Choice {
                name: name.to_string(),
                label,
                checked: self.auth_method == *name,
            })
            .collect()
    }
}

/// What the edit page shows about the client besides the form.
pub struct Existing {
    pub client_id: String,
    pub uses_secret: bool,
    pub rotate_url: String,
    pub delete_url: String,
}

#[derive(Template)]
#[template(path = "admin/client_form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    submit: &'static str,
    action: String,
    form: ClientForm,
    error: Option<FormError>,
    notice: Option<&'static str>,
    existing: Option<Existing>,
}

impl FormPage {
    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

#[derive(Template)]
#[template(path = "admin/client_secret.html")]
struct SecretPage {
    layout: Layout,
    heading: String,
    intro: String,
    client_id: String,
    secret: Option<String>,
    edit_url: String,
    list_url: String,
}

#[derive(Template)]
#[template(path = "admin/client_delete.html")]
struct DeletePage {
    layout: Layout,
    name: String,
    client_id: String,
    action: String,
    edit_url: String,
}

fn edit_url(services: &Data, client_id: &str) -> String {
    admin_url(services, &format!("/clients/{client_id}"))
}

fn kind(c: &Client) -> &'static str {
    if c.is_public() {
        "Public"
    } else {
        "Confidential"
    }
}

pub async fn list(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let offset = query(&req)
        .get("offset")
        .and_then(|o| o.parse::<i64>().ok())
        .filter(|o| (0..=MAX_OFFSET).contains(o))
        .unwrap_or(0);
    let (total, clients) = services
        .db
        .run(move |c| Ok((c.count_clients()?, c.list_clients(offset, PAGE_SIZE)?)))
        .await
        .map_err(unavailable)?;
    let page_url = |o: i64| admin_url(&services, &format!("/clients?offset={o}"));
    let rows: Vec<Row> = clients
        .iter()
        .map(|c| Row {
            name: c.name.clone(),
            client_id: c.client_id.clone(),
            kind: kind(c),
            grants: c
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            url: edit_url(&services, &c.client_id),
        })
        .collect();
    let (layout, csrf) = Frame::new(&services, &req, &admin, Section::Clients).take();
    let page = ListPage {
        layout,
        notice: notice(&req),
        new_url: admin_url(&services, "/clients/new"),
        first: offset + 1,
        last: offset + rows.len() as i64,
        rows,
        total,
        previous: (offset > 0).then(|| page_url((offset - PAGE_SIZE).max(0))),
        next: (offset + PAGE_SIZE < total).then(|| page_url(offset + PAGE_SIZE)),
    };
    Ok(respond(StatusCode::OK, &page, &csrf))
}

fn form_page(
    services: &Data,
    req: &HttpRequest,
    admin: &Admin,
    status: StatusCode,
    form: ClientForm,
    error: Option<FormError>,
    existing: Option<&Client>,
) -> HttpResponse {
    let (layout, csrf) = Frame::new(services, req, admin, Section::Clients).take();
    let page = match existing {
        None => FormPage {
            layout,
            heading: "Register a client".into(),
            submit: "Register client",
            action: admin_url(services, "/clients"),
            form,
            error,
            notice: None,
            existing: None,
        },
        Some(c) => FormPage {
            layout,
            heading: format!("Edit {}", c.name),
            submit: "Save changes",
            action: edit_url(services, &c.client_id),
            form,
            error,
            notice: notice(req),
            existing: Some(Existing {
                client_id: c.client_id.clone(),
                uses_secret: c.auth_method.uses_secret(),
                rotate_url: admin_url(services, &format!("/clients/{}/rotate-secret", c.client_id)),
                delete_url: admin_url(services, &format!("/clients/{}/delete", c.client_id)),
            }),
        },
    };
    respond(status, &page, &csrf)
}

/// A refused form comes back with what was entered and the reason; other failures are
/// pages.
fn refused(
    services: &Data,
    req: &HttpRequest,
    admin: &Admin,
    form: ClientForm,
    e: ApiError,
    existing: Option<&Client>,
) -> Result<HttpResponse, Refusal> {
    match e.status {
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {
            let error = FormError::from_message(&e.message, FIELDS);
            Ok(form_page(
                services,
                req,
                admin,
                e.status,
                form,
                Some(error),
                existing,
            ))
        }
        _ => Err(api_failure(e).into()),
    }
}

pub async fn new_form(services: Data, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    Ok(form_page(
        &services,
        &req,
        &admin,
        StatusCode::OK,
        ClientForm::blank(),
        None,
        None,
    ))
}

fn secret_page(
    services: &Data,
    req: &HttpRequest,
    admin: &Admin,
    client: &Client,
    heading: String,
    intro: String,
    secret: Option<&ClientSecret>,
) -> HttpResponse {
    let (layout, csrf) = Frame::new(services, req, admin, Section::Clients).take();
    let page = SecretPage {
        layout,
        heading,
        intro,
        client_id: client.client_id.clone(),
        secret: secret.map(|s| s.secret().to_string()),
        edit_url: edit_url(services, &client.client_id),
        list_url: admin_url(services, "/clients"),
    };
    respond(StatusCode::OK, &page, &csrf)
}

pub async fn create(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let form = ClientForm::posted(&read_form(&req, payload).await?);
    let input = match form.request(None) {
        Ok(i) => i,
        Err(e) => {
            let res = form_page(
                &services,
                &req,
                &admin,
                StatusCode::BAD_REQUEST,
                form,
                Some(e),
                None,
            );
            return Ok(res);
        }
    };
    match create_client(&services, admin.actor(&req), input).await {
        Ok((client, secret)) => {
            let intro = match &secret {
                Some(_) => "Copy the client secret now: it is shown only this once.".to_string(),
                None => format!(
                    "{} authenticates without a client secret ({}).",
                    client.name,
                    client.auth_method.as_str()
                ),
            };
            Ok(secret_page(
                &services,
                &req,
                &admin,
                &client,
                format!("{} is registered", client.name),
                intro,
                secret.as_ref(),
            ))
        }
        Err(e) => refused(&services, &req, &admin, form, e, None),
    }
}

pub async fn edit_form(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let client = find_client(&services, &path).await.map_err(api_failure)?;
    Ok(form_page(
        &services,
        &req,
        &admin,
        StatusCode::OK,
        ClientForm::of(&client),
        None,
        Some(&client),
    ))
}

pub async fn update(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let posted = read_form(&req, payload).await?;
    let existing = find_client(&services, &path).await.map_err(api_failure)?;
    let form = ClientForm::posted(&posted);
    let input = match form.request(Some(&existing)) {
        Ok(i) => i,
        Err(e) => {
            let status = StatusCode::BAD_REQUEST;
            return Ok(form_page(
                &services,
                &req,
                &admin,
                status,
                form,
                Some(e),
                Some(&existing),
            ));
        }
    };
    match replace_client(&services, admin.actor(&req), &existing.client_id, input).await {
        // Now confidential: the new secret is shown once.
        Ok((client, Some(secret))) => Ok(secret_page(
            &services,
            &req,
            &admin,
            &client,
            format!("{} is saved", client.name),
            "The client now authenticates with a secret. Copy it now: it is shown only this once."
                .into(),
            Some(&secret),
        )),
        Ok((client, None)) => Ok(see_other(&format!(
            "{}?notice=client-saved",
            edit_url(&services, &client.client_id)
        ))),
        Err(e) => refused(&services, &req, &admin, form, e, Some(&existing)),
    }
}

pub async fn rotate_secret(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    read_form(&req, payload).await?;
    let secret = rotate_client_secret(&services, admin.actor(&req), &path)
        .await
        .map_err(api_failure)?;
    let client = find_client(&services, &path).await.map_err(api_failure)?;
    Ok(secret_page(
        &services,
        &req,
        &admin,
        &client,
        format!("New secret for {}", client.name),
        "The old secret no longer works. Copy the new one now: it is shown only this once.".into(),
        Some(&secret),
    ))
}

pub async fn confirm_delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    let client = find_client(&services, &path).await.map_err(api_failure)?;
    let (layout, csrf) = Frame::new(&services, &req, &admin, Section::Clients).take();
    let page = DeletePage {
        layout,
        name: client.name.clone(),
        client_id: client.client_id.clone(),
        action: admin_url(&services, &format!("/clients/{}/delete", client.client_id)),
        edit_url: edit_url(&services, &client.client_id),
    };
    Ok(respond(StatusCode::OK, &page, &csrf))
}

pub async fn delete(
    services: Data,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let admin = require_admin(&services, &req).await?;
    read_form(&req, payload).await?;
    delete_client(&services, admin.actor(&req), &path)
        .await
        .map_err(api_failure)?;
    Ok(see_other(&admin_url(
        &services,
        "/clients?notice=client-deleted",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::of(pairs)
    }

    #[test]
    fn a_posted_form_becomes_an_admin_api_request() {
        let form = ClientForm::posted(&params(&[
            ("client_name", "  Reports "),
            (
                "redirect_uris",
                "https://a.example/cb\r\n\r\n  https://a.example/cb2 \n",
            ),
            ("grant_authorization_code", "on"),
            ("grant_refresh_token", "on"),
            ("scope", "openid   profile"),
            ("auth_method", "client_secret_post"),
            ("skip_consent", "on"),
        ]));
        let r = form.request(None).unwrap();
        assert_eq!(r.metadata.client_name.as_deref(), Some("Reports"));
        assert_eq!(
            r.metadata.redirect_uris,
            ["https://a.example/cb", "https://a.example/cb2"]
        );
        assert_eq!(
            r.metadata.grant_types,
            ["authorization_code", "refresh_token"]
        );
        assert_eq!(r.metadata.scope.as_deref(), Some("openid profile"));
        assert_eq!(
            r.metadata.token_endpoint_auth_method.as_deref(),
            Some("client_secret_post")
        );
        assert!(r.skip_consent);
    }

    #[test]
    fn public_wins_over_the_method_and_bad_input_names_its_field() {
        let form = ClientForm::posted(&params(&[
            ("client_name", "SPA"),
            ("public", "on"),
            ("auth_method", "client_secret_basic"),
        ]));
        let r = form.request(None).unwrap();
        assert_eq!(
            r.metadata.token_endpoint_auth_method.as_deref(),
            Some("none")
        );
        let e = ClientForm::posted(&params(&[("client_name", " ")]))
            .request(None)
            .err()
            .unwrap();
        assert_eq!(e.field, "client_name");
        let e = ClientForm::posted(&params(&[("client_name", "x"), ("jwks", "{nope")]))
            .request(None)
            .err()
            .unwrap();
        assert_eq!(e.field, "jwks");
    }
}

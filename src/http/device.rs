//! The device authorization grant's front doors (RFC 8628): `POST /device_authorization`
//! for the device, and `/device`, where the person enters the user code, signs in, sees
//! which app asks for what, and approves or denies.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::json;

use super::authorize::{current_session, describe_scope, read_page_form, unavailable, PATH_LOGIN};
use super::cookies::Csrf;
use super::errors::Failure;
use super::token::client_request;
use super::Data;
use crate::crypto::secret_hash;
use crate::domain::{Client, Scopes, ADMIN_SCOPE};
use crate::oauth::error::OAuthError;
use crate::oauth::grants::{device_code, require_client_grant};
use crate::oauth::params::Params;
use crate::oauth::store::device::{DeviceDecision, DeviceRecord, DeviceStatus};
use crate::oauth::store::SessionInfo;

pub const PATH_AUTHORIZATION: &str = "/device_authorization";
pub const PATH_VERIFY: &str = "/device";
/// Wrong or unknown user codes a client address may try per hour.
const GUESSES_PER_HOUR: u32 = 30;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH_AUTHORIZATION, web::post().to(authorization))
        .route(PATH_VERIFY, web::get().to(verify_page))
        .route(PATH_VERIFY, web::post().to(decide));
}

/// The scopes and resources a device request may ask for, as at the authorization
/// endpoint; by default the client's own scopes.
async fn requested(
    services: &Data,
    form: &Params,
    client: &Client,
) -> Result<(Scopes, Vec<String>), OAuthError> {
    let scopes = Scopes::parse(form.get("scope").unwrap_or(""))
        .ok_or_else(|| OAuthError::invalid_scope("the scope parameter is malformed"))?;
    if scopes.contains(ADMIN_SCOPE) {
        return Err(OAuthError::invalid_scope(format!(
            "{ADMIN_SCOPE} cannot be granted here"
        )));
    }
    let registered = services.resources().await?;
    let issuer = &services.settings.issuer;
    let resources = crate::oauth::resource::check(form.resources(), client, issuer, &registered)?;
    let allowed = client.scopes.union(&registered.scopes_of(&resources));
    let scopes = match scopes.is_empty() {
        true => Scopes::of(client.scopes.iter().filter(|s| *s != ADMIN_SCOPE)),
        // Scopes the client may not have are left out, as at the authorization endpoint.
        false => scopes.intersection(&allowed),
    };
    Ok((scopes, resources))
}

async fn authorization(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let (ctx, form, client) = client_request(&services, &req, payload, PATH_AUTHORIZATION).await?;
    require_client_grant(&client, device_code::ID)?;
    let (scopes, resources) = requested(&services, &form, &client).await?;
    let (device_code, user_code, record) =
        device_code::new_request(&client, scopes, resources, ctx.now);
    services
        .db
        .run(move |c| c.insert_device(&record))
        .await
        .map_err(OAuthError::from)?;
    let verify = services.settings.url(PATH_VERIFY);
    let complete = format!("{verify}?user_code={user_code}");
    Ok(super::no_store_json(
        StatusCode::OK,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verify,
            "verification_uri_complete": complete,
            "expires_in": device_code::LIFETIME,
            "interval": device_code::INTERVAL,
        }),
    ))
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    step: &'static str,
    error: Option<&'a str>,
    username: &'a str,
    user_code: &'a str,
    client_name: &'a str,
    scopes: Vec<String>,
    action: String,
    csrf_token: String,
    done_title: &'a str,
    done_message: &'a str,
    ui: super::ui::Ui,
}

fn page(services: &Data, req: &HttpRequest, status: StatusCode, mut p: DevicePage) -> HttpResponse {
    let csrf = Csrf::for_page(req, &services.settings, &services.sealer);
    p.csrf_token = csrf.token.clone();
    p.action = services.settings.url(PATH_VERIFY);
    let locales = super::ui::Ui::locales_of(req.query_string());
    p.ui = super::ui::Ui::of(services, req, locales.as_deref());
    let mut res = super::pages::render(status, &p, &[]);
    csrf.set_on(&mut res);
    res
}

fn blank<'a>(step: &'static str, session: &'a SessionInfo) -> DevicePage<'a> {
    DevicePage {
        step,
        error: None,
        username: &session.username,
        user_code: "",
        client_name: "",
        scopes: Vec::new(),
        action: String::new(),
        csrf_token: String::new(),
        done_title: "",
        done_message: "",
        ui: Default::default(),
    }
}

/// The pending request a typed user code names, or what to tell the person.
async fn lookup(
    services: &Data,
    req: &HttpRequest,
    typed: &str,
) -> Result<(String, DeviceRecord), Result<&'static str, Failure>> {
    let ip = super::context(services, req).client_ip.unwrap_or_default();
    if !services
        .device_guesses
        .allow(&crate::domain::throttle::ip_key(&ip), GUESSES_PER_HOUR)
    {
        return Err(Err(Failure::page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many codes tried",
            "Too many codes were tried from this address. Try again in an hour.",
        )));
    }
    let Some(code) = device_code::normalize_user_code(typed) else {
        return Err(Ok(
            "That is not a code of this server. Check the code your device shows.",
        ));
    };
    let hash = secret_hash(&code);
    let found = services
        .db
        .run(move |c| c.find_device_by_user_code(&hash))
        .await
        .map_err(|e| Err(unavailable(e)))?;
    match found {
        Some(r) if r.status == DeviceStatus::Pending && r.expires_at > crate::db::unix_now() => {
            Ok((code, r))
        }
        _ => Err(Ok(
            "That code is unknown, expired or already used. Start again on your device.",
        )),
    }
}

/// Sends a person without a session to the login page, which comes back here.
fn sign_in_first(services: &Data, typed: &str) -> HttpResponse {
    let back = match typed.is_empty() {
        true => PATH_VERIFY.to_string(),
        false => format!(
            "{PATH_VERIFY}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("user_code", typed)
                .finish()
        ),
    };
    let to: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    super::admin_pages::see_other(
        &services
            .settings
            .url(&format!("{PATH_LOGIN}?return_to={to}")),
    )
}

async fn verify_page(services: Data, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let params = Params::parse_query(req.query_string()).unwrap_or_default();
    let typed = params.get("user_code").unwrap_or("").trim().to_string();
    let Some((_, session)) = current_session(&services, &req).await? else {
        return Ok(sign_in_first(&services, &typed));
    };
    if typed.is_empty() {
        return Ok(page(
            &services,
            &req,
            StatusCode::OK,
            blank("enter", &session),
        ));
    }
    let (code, record) = match lookup(&services, &req, &typed).await {
        Ok(found) => found,
        Err(Ok(message)) => {
            let p = DevicePage {
                error: Some(message),
                user_code: &typed,
                ..blank("enter", &session)
            };
            return Ok(page(&services, &req, StatusCode::BAD_REQUEST, p));
        }
        Err(Err(failure)) => return Err(failure),
    };
    let client = services
        .client(&record.client_id)
        .await
        .map_err(unavailable)?;
    let name = client.as_ref().map_or("An app", |c| c.name.as_str());
    let p = DevicePage {
        user_code: &code,
        client_name: name,
        scopes: record.scopes.iter().map(describe_scope).collect(),
        ..blank("confirm", &session)
    };
    Ok(page(&services, &req, StatusCode::OK, p))
}

async fn decide(
    services: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Failure> {
    let form = read_page_form(&services, &req, payload).await?;
    let typed = form.get("user_code").unwrap_or("").to_string();
    let Some((_, session)) = current_session(&services, &req).await? else {
        return Ok(sign_in_first(&services, &typed));
    };
    let approved = form.get("decision") == Some("allow");
    let decision = DeviceDecision {
        approved,
        user_id: session.user_id.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        sid: Some(session.sid.clone()),
    };
    let hash = secret_hash(&device_code::normalize_user_code(&typed).unwrap_or_default());
    let now = crate::db::unix_now();
    let decided = services
        .db
        .run(move |c| c.decide_device(&hash, &decision, now))
        .await
        .map_err(unavailable)?;
    let p = match (decided, approved) {
        (false, _) => DevicePage {
            error: Some(
                "That code is unknown, expired or already answered. Start again on your device.",
            ),
            ..blank("enter", &session)
        },
        (true, true) => DevicePage {
            done_title: "Device connected",
            done_message: "You can return to your device; it will continue on its own.",
            ..blank("done", &session)
        },
        (true, false) => DevicePage {
            done_title: "Request denied",
            done_message: "The device was not given access. You can close this page.",
            ..blank("done", &session)
        },
    };
    let status = if decided {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(page(&services, &req, status, p))
}

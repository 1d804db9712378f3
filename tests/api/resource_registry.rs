//! The resource registry: protected resources registered from their RFC 9728 metadata
//! through the admin API, named on the consent page, and refused once deleted.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin_api::{admin_token, call};
use crate::authorize::{web_client, PW, RP};
use crate::fixtures::user;
use crate::helpers::{code_request, location, query_param, TestApp};
use crate::mock::{Answer, Mock};

fn metadata(resource: &str, issuer: &str, scopes: &[&str]) -> Value {
    json!({"resource": resource, "authorization_servers": [issuer],
           "scopes_supported": scopes, "resource_name": "Calendar API"})
}

async fn admin(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, body, _) = call(app, method, path, Some(token), body).await;
    (status, body)
}

async fn registered_from_metadata(app: TestApp) {
    let (token, _) = admin_token(&app).await;
    let mock = Mock::start().await;
    let api = mock.url("/calendar");
    let well_known = "/.well-known/oauth-protected-resource/calendar";
    mock.set(
        well_known,
        Answer::json(&metadata(&api, &app.issuer, &["calendar:read"])),
    );

    let (status, body) = admin(
        &app,
        &token,
        Method::POST,
        "/admin/api/resources",
        Some(json!({"resource": api})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "Calendar API");
    assert_eq!(body["scopes"], json!(["calendar:read"]));
    let (status, _) = admin(
        &app,
        &token,
        Method::POST,
        "/admin/api/resources",
        Some(json!({"resource": api})),
    )
    .await;
    assert_eq!(status, 409);
    let (status, list) = admin(&app, &token, Method::GET, "/admin/api/resources", None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    let one = format!("/admin/api/resource?resource={}", urlencode(&api));

    // The metadata changes; a refresh takes it.
    mock.set(
        well_known,
        Answer::json(&metadata(
            &api,
            &app.issuer,
            &["calendar:read", "calendar:write"],
        )),
    );
    let (status, body) = admin(
        &app,
        &token,
        Method::POST,
        &one.replace("resource?", "resource/refresh?"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scopes"], json!(["calendar:read", "calendar:write"]));

    // Metadata that does not name this issuer is refused.
    let other = mock.url("/other");
    mock.set(
        "/.well-known/oauth-protected-resource/other",
        Answer::json(&metadata(&other, "https://elsewhere.example", &[])),
    );
    let (status, body) = admin(
        &app,
        &token,
        Method::POST,
        "/admin/api/resources",
        Some(json!({"resource": other})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("authorization_servers"),
        "{body}"
    );

    // A client that never heard of the resource may ask for it and its scopes; the
    // consent page names it.
    let c = web_client(&app, &[]);
    user(&app, "ria", PW);
    let scope = "openid calendar:read";
    let page =
        crate::helpers::consent_page_for(&app, &c.id, RP, scope, &[("resource", &api)], "ria", PW)
            .await;
    assert!(page.contains("Calendar API"), "{page}");
    assert!(page.contains("127.0.0.1"), "{page}");
    assert!(page.contains("calendar:read"), "{page}");

    // Deleted, it is an invalid_target.
    let (status, _) = admin(&app, &token, Method::DELETE, &one, None).await;
    assert_eq!(status, 204);
    let (status, _) = admin(&app, &token, Method::GET, &one, None).await;
    assert_eq!(status, 404);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let req = code_request(&app, &c.id, RP, scope, &[("resource", &api)]);
    let res = crate::helpers::browser()
        .get(&req.url)
        .send()
        .await
        .unwrap();
    let to = location(&res).unwrap_or_default();
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_target"),
        "{to}"
    );
    mock.stop().await;
}

/// The admin pages register, list, fetch again and delete resources.
async fn managed_on_the_admin_pages(app: TestApp) {
    use crate::admin_pages::{admin_session, get, post};
    let mock = Mock::start().await;
    let api = mock.url("/files");
    let well_known = "/.well-known/oauth-protected-resource/files";
    mock.set(
        well_known,
        Answer::json(&metadata(&api, &app.issuer, &["files:read"])),
    );
    admin_session(&app, "ada").await;
    let (status, _, page) = get(&app.http, &app.url("/admin/resources")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No resources yet"));
    let token = crate::helpers::hidden_field(&page, "csrf_token").unwrap();
    let (status, to, body) = post(
        &app.http,
        &app.url("/admin/resources"),
        &[("csrf_token", &token), ("resource", &api)],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let (_, _, page) = get(&app.http, &to.unwrap()).await;
    assert!(page.contains("The resource was registered."), "{page}");
    assert!(
        page.contains("Calendar API") && page.contains("files:read"),
        "{page}"
    );
    // A resource that is not a URL is refused on the form, which keeps what was typed.
    let (status, _, page) = post(
        &app.http,
        &app.url("/admin/resources"),
        &[
            ("csrf_token", &token),
            ("resource", "not a url"),
            ("name", "Typed"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("aria-invalid=\"true\"") && page.contains("value=\"Typed\""),
        "{page}"
    );
    let (status, to, _) = post(
        &app.http,
        &app.url("/admin/resources/delete"),
        &[("csrf_token", &token), ("resource", &api)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, page) = get(&app.http, &to.unwrap()).await;
    assert!(page.contains("The resource was deleted.") && page.contains("No resources yet"));
    let log = crate::admin_api::audit_log(&app);
    let registered = crate::admin_api::event(&log, "resource.register", &api);
    assert_eq!(registered["actor"], "user:ada", "{registered}");
    crate::admin_api::event(&log, "resource.delete", &api);
    mock.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

crate::both_backends_on!(
    admin_pages,
    managed_on_the_admin_pages,
    crate::fetching::fetching_app
);

crate::both_backends_on!(
    admin_api,
    registered_from_metadata,
    crate::fetching::fetching_app
);

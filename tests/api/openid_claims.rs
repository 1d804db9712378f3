//! The claims a relying party gets (OIDC Core §5): the `address` and `phone` scopes,
//! scopes a client may not have left out of the grant, the `claims` request parameter,
//! and `acr`. The `openidconnect` crate is the relying party.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use crate::authorize::{error_of, web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{jwt_parts, user};
use crate::helpers::{browser, code_request, location, login_flow, query_param, TestApp};

const MFA: &str = "urn:gatehouse:acr:mfa";
const PASSWORD: &str = "urn:gatehouse:acr:password";

async fn claims_by_scope_and_by_name(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(meta["claims_parameter_supported"], true);
    assert_eq!(meta["acr_values_supported"], json!([PASSWORD, MFA]));
    for s in ["address", "phone"] {
        assert!(meta["scopes_supported"].to_string().contains(s), "{meta}");
    }
    for c in ["address", "phone_number", "phone_number_verified", "acr"] {
        assert!(meta["claims_supported"].to_string().contains(c), "{meta}");
    }
    let c = web_client(&app, &["--scope", "openid profile phone address"]);
    let uid = user(&app, "ada", PW);
    let out = app.cli(
        &[
            "users",
            "update",
            "ada",
            "--phone-number",
            "+49 30 1234567",
            "--phone-number-verified",
            "true",
            "--street-address",
            "Unter den Linden 1",
            "--locality",
            "Berlin",
            "--country",
            "DE",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bad = app.cli(
        &["users", "update", "ada", "--phone-number", "call me"],
        None,
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("phone_number"), "{}", bad.stderr);

    // email is not the client's, calendar is no one's: both are left out of the grant.
    let claims = json!({
        "id_token": {"address": null, "email": {"essential": true}},
        "userinfo": {"address": null, "phone_number": null}
    });
    let extra = [
        ("claims", claims.to_string()),
        ("acr_values", format!("{MFA} {PASSWORD}")),
    ];
    let scopes = ["phone", "email", "calendar"];
    let (tokens, verified) = crate::oidc::code_flow(&app, &c, "ada", &scopes, &extra).await;
    let granted: Vec<String> = tokens
        .scopes()
        .expect("the granted scope differs from the requested one")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(granted, ["openid", "phone"]);
    let id_token = tokens.id_token().unwrap();
    assert_eq!(verified.subject().as_str(), uid);
    let acr = verified.auth_context_ref().map(|a| a.to_string());
    assert_eq!(
        acr.as_deref(),
        Some(PASSWORD),
        "the login earned the password level"
    );
    let address = verified.address().expect("address asked for by name");
    assert_eq!(
        address.locality.as_ref().map(|l| l.to_string()).as_deref(),
        Some("Berlin")
    );
    let (_, raw) = jwt_parts(&id_token.to_string());
    assert_eq!(raw["amr"], json!(["pwd"]));
    assert!(
        raw.get("email").is_none(),
        "email is not the client's: {raw}"
    );
    assert!(
        raw.get("phone_number").is_none(),
        "phone is for UserInfo: {raw}"
    );

    let info: Value = browser()
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["phone_number"], "+49 30 1234567");
    assert_eq!(info["phone_number_verified"], true);
    assert_eq!(info["address"]["street_address"], "Unter den Linden 1");
    assert_eq!(info["address"]["country"], "DE");
    assert!(info.get("email").is_none(), "{info}");
}
both_backends!(claims, claims_by_scope_and_by_name);

async fn acr_and_malformed_claims(app: TestApp) {
    let c = web_client(&app, &[]);
    user(&app, "bo", PW);
    // An essential acr the password login cannot meet is a failed authentication.
    let essential = json!({"id_token": {"acr": {"essential": true, "values": [MFA]}}});
    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid",
        &[("claims", &essential.to_string())],
    );
    let callback = login_flow(&app.http, &req.url, "bo", PW).await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied"),
        "{callback}"
    );
    assert_eq!(query_param(&callback, "state"), Some(req.state.clone()));
    // A voluntary acr request is met as far as the login goes.
    let voluntary = json!({"id_token": {"acr": {"values": [MFA, PASSWORD]}}});
    let req = code_request(
        &app,
        &c.id,
        RP,
        "openid",
        &[("claims", &voluntary.to_string())],
    );
    let callback = login_flow(&app.http, &req.url, "bo", PW).await;
    let code = query_param(&callback, "code").expect(&callback);
    let (status, body) = crate::authorize::redeem(&app, &c, &code, &req.pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    let (_, id) = jwt_parts(body["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], PASSWORD);
    for malformed in ["[]", "{\"id_token\": 5}", "not json"] {
        let req = code_request(&app, &c.id, RP, "openid", &[("claims", malformed)]);
        let res = app.http.get(&req.url).send().await.unwrap();
        assert_eq!(res.status(), 303, "{malformed}");
        let loc = location(&res).unwrap();
        let (error, state, _) = error_of(&res);
        assert_eq!(error, "invalid_request", "{malformed}");
        assert_eq!(state, Some(req.state.clone()));
        let description = query_param(&loc, "error_description").unwrap_or_default();
        assert!(description.starts_with("claims:"), "{description}");
    }
}
both_backends!(acr, acr_and_malformed_claims);

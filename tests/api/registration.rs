//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592).

use reqwest::Method;
use serde_json::{json, Value};

use gatehouse::keys::{Alg, SigningKey};

use crate::admin_api::{admin_token, audit_log, call, event};
use crate::both_backends;
use crate::fixtures::{cc_token, machine, post_form, user};
use crate::helpers::{code_request, exchange, login_flow, query_param, TestApp};

/// `POST /register` with `token` as the initial access token.
async fn register(app: &TestApp, token: &str, metadata: Value) -> (u16, Value) {
    let (status, body, headers) =
        call(app, Method::POST, "/register", Some(token), Some(metadata)).await;
    if status == 201 {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status, body)
}

#[track_caller]
fn created(status: u16, body: &Value) -> String {
    assert_eq!(status, 201, "{body}");
    body["client_id"].as_str().unwrap().to_string()
}

pub fn assertion(key: &SigningKey, client_id: &str, aud: &str) -> String {
    let now = gatehouse::db::unix_now();
    key.sign_jwt(
        "JWT",
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
                "jti": gatehouse::crypto::random_token(8)}),
    )
}

async fn happy_paths(app: TestApp) {
    let (token, admin_id) = admin_token(&app).await;

    // Advertised in discovery.
    let meta: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["registration_endpoint"], app.url("/register"));

    // A confidential web client; unknown members are ignored.
    let (status, web) = register(
        &app,
        &token,
        json!({
            "client_name": "Photo Printer",
            "redirect_uris": ["https://printer.example/cb"],
            "post_logout_redirect_uris": ["https://printer.example/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid profile email",
            "client_uri": "https://printer.example",
            "logo_uri": "https://printer.example/logo.png",
            "contacts": ["ops@printer.example"],
            "id_token_signed_response_alg": "ES256",
            "software_statement_of_sorts": {"ignored": true},
        }),
    )
    .await;
    let web_id = created(status, &web);
    assert_eq!(web["client_name"], "Photo Printer");
    assert_eq!(web["redirect_uris"], json!(["https://printer.example/cb"]));
    assert_eq!(
        web["post_logout_redirect_uris"],
        json!(["https://printer.example/bye"])
    );
    assert_eq!(
        web["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(web["response_types"], json!(["code"]));
    assert_eq!(web["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(web["scope"], "email openid profile");
    assert_eq!(web["client_uri"], "https://printer.example");
    assert_eq!(web["logo_uri"], "https://printer.example/logo.png");
    assert_eq!(web["contacts"], json!(["ops@printer.example"]));
    assert_eq!(web["id_token_signed_response_alg"], "ES256");
    assert!(web["client_id_issued_at"].as_i64().unwrap() > 0);
    let secret = web["client_secret"].as_str().unwrap();
    assert!(
        gatehouse::crypto::b64url_decode(secret).unwrap().len() >= 32,
        "256 bits"
    );
    assert_eq!(web["client_secret_expires_at"], 0);
    let rat = web["registration_access_token"].as_str().unwrap();
    assert!(gatehouse::crypto::b64url_decode(rat).unwrap().len() >= 32);
    assert_eq!(
        web["registration_client_uri"],
        app.url(&format!("/register/{web_id}"))
    );
    assert!(web.get("software_statement_of_sorts").is_none());
    assert!(
        web.get("skip_consent").is_none(),
        "operator settings are not the client's"
    );

    // Stored hashed: neither the secret nor the registration token is in the database.
    let db = app.services.db.clone();
    let id = web_id.clone();
    let stored = tokio::task::spawn_blocking(move || {
        gatehouse::oauth::store::ClientRegistry::find_client(&mut *db.conn().unwrap(), &id)
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(
        stored.registration_token_hash.as_deref(),
        Some(gatehouse::crypto::secret_hash(rat).as_str())
    );
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(gatehouse::crypto::secret_hash(secret).as_str())
    );

    // A public native app: no secret.
    let (status, public) = register(
        &app,
        &token,
        json!({
            "client_name": "Phone App",
            "redirect_uris": ["http://127.0.0.1:7000/cb", "com.example.app:/cb"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    created(status, &public);
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert!(public.get("client_secret").is_none());
    assert!(public.get("client_secret_expires_at").is_none());
    assert!(public["registration_access_token"].is_string());

    // private_key_jwt with inline keys; it authenticates with an assertion at once.
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let (status, pkj) = register(
        &app,
        &token,
        json!({
            "client_name": "Batch Job",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk()]},
            "scope": "read",
        }),
    )
    .await;
    let pkj_id = created(status, &pkj);
    assert!(pkj.get("client_secret").is_none());
    assert_eq!(pkj["jwks"]["keys"][0]["kid"], key.public_jwk()["kid"]);
    assert_eq!(pkj["response_types"], json!([]));
    let jwt = assertion(&key, &pkj_id, &app.url("/token"));
    let (status, body, _) = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &pkj_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");

    // Audited as the admin client's doing.
    let log = audit_log(&app);
    let e = event(&log, "client.create", &web_id);
    assert_eq!(e["actor"], format!("client:{admin_id}"));
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(e["detail"]["via"], "registration");
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(secret) && !text.contains(rat));
}
both_backends!(registration_happy_paths, happy_paths);

async fn invalid_metadata(app: TestApp) {
    let (token, _) = admin_token(&app).await;
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let web = |extra: Value| {
        let mut v = json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let cases = [
        (
            "non-https redirect",
            web(json!({"redirect_uris": ["http://app.example/cb"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            "fragment",
            web(json!({"redirect_uris": ["https://app.example/cb#frag"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            "relative URI",
            web(json!({"redirect_uris": ["/cb"]})),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            "post-logout URI",
            web(json!({"post_logout_redirect_uris": ["http://app.example/bye"]})),
            "invalid_redirect_uri",
            "post_logout_redirect_uris",
        ),
        (
            "code response without the code grant",
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
            "response_types",
        ),
        (
            "code grant without the code response",
            web(json!({"grant_types": ["authorization_code"], "response_types": []})),
            "invalid_client_metadata",
            "response_types",
        ),
        (
            "implicit response type",
            web(json!({"response_types": ["token"]})),
            "invalid_client_metadata",
            "response_types",
        ),
        (
            "unknown grant type",
            web(json!({"grant_types": ["password"]})),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            "unknown auth method",
            web(json!({"token_endpoint_auth_method": "client_secret_jwt"})),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            "private_key_jwt without jwks",
            web(json!({"token_endpoint_auth_method": "private_key_jwt"})),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            "a jwks that is not one",
            web(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": "no"}})),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            "a jwks_uri that is not https",
            web(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://app.example/jwks"}),
            ),
            "invalid_client_metadata",
            "jwks_uri",
        ),
        (
            "the admin scope",
            json!({"grant_types": ["client_credentials"], "scope": "gatehouse:admin"}),
            "invalid_client_metadata",
            "scope",
        ),
        (
            "the admin scope among others",
            web(json!({"scope": "openid gatehouse:admin"})),
            "invalid_client_metadata",
            "scope",
        ),
        (
            "alg none",
            web(json!({"id_token_signed_response_alg": "none"})),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            "unknown alg",
            web(json!({"id_token_signed_response_alg": "HS256"})),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            "public client_credentials",
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            "a string for a list",
            web(json!({"redirect_uris": "https://app.example/cb"})),
            "invalid_client_metadata",
            "redirect_uris",
        ),
        (
            "a non-http client_uri",
            web(json!({"client_uri": "javascript:alert(1)"})),
            "invalid_client_metadata",
            "client_uri",
        ),
    ];
    for (case, body, error, field) in cases {
        let (status, res) = register(&app, &token, body).await;
        assert_eq!(status, 400, "{case}: {res}");
        assert_eq!(res["error"], error, "{case}: {res}");
        let description = res["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("{field}:")),
            "{case}: {description}"
        );
    }
    // The right keys make the same request acceptable.
    let (status, body) = register(
        &app,
        &token,
        web(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk()]}})),
    )
    .await;
    created(status, &body);

    // Not JSON at all.
    let res = app
        .http
        .post(app.url("/register"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("client_name=App")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // Nothing else was registered: the admin client and the one valid registration.
    let (_, page, _) = call(&app, Method::GET, "/admin/api/clients", Some(&token), None).await;
    assert_eq!(page["total"], 2, "{page}");
}
both_backends!(registration_invalid_metadata, invalid_metadata);

async fn needs_an_admin_token(app: TestApp) {
    let metadata = json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"]});
    let (status, _, headers) = call(
        &app,
        Method::POST,
        "/register",
        None,
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let (status, body) = register(&app, "not-a-token", metadata.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");

    let reader = machine(&app, "read", &[]);
    let weak = cc_token(&app, &reader.id, reader.secret.as_deref().unwrap()).await;
    let (status, body, headers) = call(
        &app,
        Method::POST,
        "/register",
        Some(&weak),
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"insufficient_scope\""));

    // A registration access token is not an initial access token.
    let (admin, _) = admin_token(&app).await;
    let (status, body) = register(&app, &admin, metadata.clone()).await;
    let rat = body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    created(status, &body);
    let (status, _) = register(&app, &rat, metadata).await;
    assert_eq!(status, 401);
}
both_backends!(registration_needs_admin, needs_an_admin_token);

async fn management(app: TestApp) {
    let (admin, _) = admin_token(&app).await;
    let (status, reg) = register(
        &app,
        &admin,
        json!({
            "client_name": "Ledger",
            "redirect_uris": ["https://ledger.example/cb"],
            "grant_types": ["authorization_code", "client_credentials"],
            "scope": "openid read",
            "contacts": ["a@ledger.example"],
        }),
    )
    .await;
    let id = created(status, &reg);
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/register/{id}");
    let (status, other) =
        register(&app, &admin, json!({"grant_types": ["client_credentials"]})).await;
    created(status, &other);
    let other_rat = other["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Read.
    let (status, read, headers) = call(&app, Method::GET, &path, Some(&rat), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(read["client_id"], id.as_str());
    assert_eq!(read["client_name"], "Ledger");
    assert_eq!(read["registration_client_uri"], app.url(&path));
    // RFC 7592 §3: the read response carries both, and the token still works.
    assert_eq!(read["registration_access_token"], rat.as_str());
    assert!(
        read.get("client_secret").is_none(),
        "shown only at registration"
    );

    // Refusals: all the same 401, whether or not the client exists.
    let nowhere = "/register/no-such-client";
    for (p, t) in [
        (path.as_str(), Some("wrong-token")),
        (path.as_str(), Some(other_rat.as_str())),
        (path.as_str(), Some(admin.as_str())),
        (nowhere, Some(rat.as_str())),
    ] {
        for m in [Method::GET, Method::PUT, Method::DELETE] {
            let body = (m == Method::PUT).then(|| json!({"client_id": id}));
            let (status, res, headers) = call(&app, m.clone(), p, t, body).await;
            assert_eq!(status, 401, "{m} {p}: {res}");
            assert_eq!(res["error"], "invalid_token");
            assert!(headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"));
        }
    }
    let (status, _, _) = call(&app, Method::GET, &path, None, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(&app, Method::GET, nowhere, None, None).await;
    assert_eq!(status, 401);

    // Update: a full replacement, naming the client, with its secret (optional).
    let replacement = json!({
        "client_id": id,
        "client_secret": secret,
        "client_name": "Ledger 2",
        "redirect_uris": ["https://ledger.example/cb2"],
        "grant_types": ["authorization_code", "client_credentials"],
        // Within what was approved at registration (see `hardening` for wider ones).
        "scope": "openid read",
    });
    let (status, updated, _) = call(
        &app,
        Method::PUT,
        &path,
        Some(&rat),
        Some(replacement.clone()),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Ledger 2");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://ledger.example/cb2"])
    );
    assert_eq!(updated["scope"], "openid read");
    assert_eq!(updated["contacts"], json!([]), "left out: cleared");
    assert!(
        updated.get("client_secret").is_none(),
        "the secret is unchanged"
    );
    let (_, read, _) = call(&app, Method::GET, &path, Some(&rat), None).await;
    assert_eq!(read["client_name"], "Ledger 2");
    let tok = cc_token(&app, &id, &secret).await;
    assert_eq!(crate::fixtures::jwt_parts(&tok).1["scope"], "openid read");

    let mut bad = replacement.clone();
    bad["client_secret"] = json!("not-the-secret");
    let mut no_id = replacement.clone();
    no_id.as_object_mut().unwrap().remove("client_id");
    let mut other_id = replacement.clone();
    other_id["client_id"] = other["client_id"].clone();
    let mut admin_scope = replacement.clone();
    admin_scope["scope"] = json!("read gatehouse:admin");
    let mut bad_uri = replacement.clone();
    bad_uri["redirect_uris"] = json!(["https://ledger.example/cb#x"]);
    for (case, body, error, field) in [
        (
            "wrong secret",
            bad,
            "invalid_client_metadata",
            "client_secret",
        ),
        (
            "no client_id",
            no_id,
            "invalid_client_metadata",
            "client_id",
        ),
        (
            "another client_id",
            other_id,
            "invalid_client_metadata",
            "client_id",
        ),
        (
            "admin scope",
            admin_scope,
            "invalid_client_metadata",
            "scope",
        ),
        (
            "bad redirect",
            bad_uri,
            "invalid_redirect_uri",
            "redirect_uris",
        ),
    ] {
        let (status, res, _) = call(&app, Method::PUT, &path, Some(&rat), Some(body)).await;
        assert_eq!(status, 400, "{case}: {res}");
        assert_eq!(res["error"], error, "{case}");
        assert!(
            res["error_description"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{case}: {res}"
        );
    }
    let (_, read, _) = call(&app, Method::GET, &path, Some(&rat), None).await;
    assert_eq!(
        read["client_name"], "Ledger 2",
        "refused updates change nothing"
    );

    // Delete: 204, then the token and the client are gone.
    let (status, body, _) = call(&app, Method::DELETE, &path, Some(&rat), None).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, _, _) = call(&app, Method::GET, &path, Some(&rat), None).await;
    assert_eq!(status, 401);
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401, "a deleted client is refused at once");

    let log = audit_log(&app);
    for action in ["client.update", "client.delete"] {
        let e = event(&log, action, &id);
        assert_eq!(e["actor"], format!("client:{id}"), "{action}");
        assert_eq!(e["ip"], "127.0.0.1");
    }
}
both_backends!(registration_management, management);

async fn registered_client_completes_both_flows(app: TestApp) {
    let (admin, _) = admin_token(&app).await;
    let redirect = "http://127.0.0.1:9/cb";
    let (status, reg) = register(
        &app,
        &admin,
        json!({
            "client_name": "Fresh",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "openid profile offline_access read",
        }),
    )
    .await;
    let id = created(status, &reg);
    let secret = reg["client_secret"].as_str().unwrap().to_string();

    // Client credentials, right away.
    let tok = cc_token(&app, &id, &secret).await;
    assert_eq!(crate::fixtures::jwt_parts(&tok).1["client_id"], id.as_str());

    // The authorization-code flow through the login and consent pages.
    let uid = user(&app, "reggie", "correct horse battery");
    let req = code_request(&app, &id, redirect, "openid profile offline_access", &[]);
    let callback = login_flow(&app.http, &req.url, "reggie", "correct horse battery").await;
    assert!(callback.starts_with(redirect), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(req.state.as_str())
    );
    let code = query_param(&callback, "code").expect("a code");
    let (status, tokens) = exchange(
        &app,
        &id,
        Some(&secret),
        &code,
        redirect,
        Some(&req.pkce.verifier),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let (_, id_claims) = crate::fixtures::jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_claims["sub"], uid.as_str());
    assert_eq!(id_claims["aud"], id.as_str());
    assert_eq!(id_claims["nonce"], req.nonce.as_str());
}
both_backends!(
    registration_then_flows,
    registered_client_completes_both_flows
);

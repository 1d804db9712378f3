//! Client credentials and client authentication, driven by the `oauth2` crate.

use gatehouse::keys::{Alg, SigningKey};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::{jwt_parts, machine, post_form, verify_with_jwks};
use crate::helpers::TestApp;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn basic_and_post_issue_rfc9068_tokens(app: TestApp) {
    let c = machine(&app, "read write", &["--audience", "https://api.example"]);
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_auth_type(AuthType::BasicAuth);
    let res = client
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&http())
        .await
        .expect("client_credentials with client_secret_basic");
    assert!(res.refresh_token().is_none());
    assert_eq!(res.scopes().unwrap()[0].as_str(), "read");
    let token = res.access_token().secret();
    let (header, _) = jwt_parts(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256", "ES256 by default");
    let claims = verify_with_jwks(&app, token).await;
    assert_eq!(claims["sub"], c.id.as_str());
    assert_eq!(claims["client_id"], c.id.as_str());
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["scope"], "read");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert!(
        claims.get("auth_time").is_none(),
        "a client token carries no user facts"
    );

    // No scope requested: the client's whole allowed set.
    let res = client
        .exchange_client_credentials()
        .request_async(&http())
        .await
        .unwrap();
    let claims = verify_with_jwks(&app, res.access_token().secret()).await;
    assert_eq!(claims["scope"], "read write");

    // client_secret_post, RS256 per client, and an RFC 8707 resource.
    let c = machine(
        &app,
        "read",
        &[
            "--auth-method",
            "client_secret_post",
            "--access-token-alg",
            "RS256",
            "--audience",
            "https://a.example https://b.example",
        ],
    );
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_auth_type(AuthType::RequestBody);
    let res = client
        .exchange_client_credentials()
        .add_extra_param("resource", "https://b.example")
        .request_async(&http())
        .await
        .expect("client_secret_post");
    let token = res.access_token().secret();
    assert_eq!(jwt_parts(token).0["alg"], "RS256");
    assert_eq!(
        verify_with_jwks(&app, token).await["aud"],
        "https://b.example"
    );
    let err = client
        .exchange_client_credentials()
        .add_extra_param("resource", "https://evil.example")
        .request_async(&http())
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_target"), "{err:?}");

    // The method registered is the only one accepted.
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, c.secret.as_deref().unwrap())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}
both_backends!(cc_secret_methods, basic_and_post_issue_rfc9068_tokens);

fn assertion(
    key: &SigningKey,
    client_id: &str,
    aud: &str,
    iat: i64,
    exp: i64,
    jti: &str,
) -> String {
    key.sign_jwt("JWT", &json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": iat, "exp": exp, "jti": jti}))
}

async fn private_key_jwt(app: TestApp) {
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks_path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        jwks_path.path(),
        json!({"keys": [key.public_jwk()]}).to_string(),
    )
    .unwrap();
    let c = machine(
        &app,
        "read",
        &[
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks_path.path().to_str().unwrap(),
        ],
    );
    assert!(c.secret.is_none());
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_auth_type(AuthType::RequestBody);
    let now = gatehouse::db::unix_now();
    let good = assertion(&key, &c.id, &app.url("/token"), now, now + 60, "jti-1");
    let res = client
        .exchange_client_credentials()
        .add_extra_param(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .add_extra_param("client_assertion", good.clone())
        .request_async(&http())
        .await
        .expect("private_key_jwt");
    assert_eq!(
        verify_with_jwks(&app, res.access_token().secret()).await["sub"],
        c.id.as_str()
    );

    let attempt = |jwt: String| {
        let id = c.id.clone();
        let app = &app;
        async move {
            post_form(
                app,
                "/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }
    };
    let (status, body, _) = attempt(good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a replayed assertion"
    );
    let (status, _, _) = attempt(assertion(
        &key,
        &c.id,
        &app.url("/token"),
        now - 600,
        now - 300,
        "jti-2",
    ))
    .await;
    assert_eq!(status, 401, "an expired assertion");
    let (status, _, _) = attempt(assertion(
        &key,
        &c.id,
        "https://elsewhere.example/token",
        now,
        now + 60,
        "jti-3",
    ))
    .await;
    assert_eq!(status, 401, "a wrong audience");
    let (status, _, _) = attempt(assertion(
        &key,
        &c.id,
        &app.url("/token"),
        now,
        now + 3600,
        "jti-4",
    ))
    .await;
    assert_eq!(status, 401, "a lifetime that is not short");
    let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
    let (status, _, _) = attempt(assertion(
        &other,
        &c.id,
        &app.url("/token"),
        now,
        now + 60,
        "jti-5",
    ))
    .await;
    assert_eq!(status, 401, "a key that is not the client's");
    // The issuer is an accepted audience too.
    let (status, body, _) =
        attempt(assertion(&key, &c.id, &app.issuer, now, now + 60, "jti-6")).await;
    assert_eq!(status, 200, "{body}");
}
both_backends!(cc_private_key_jwt, private_key_jwt);

async fn refusals(app: TestApp) {
    let c = machine(&app, "read", &[]);
    let secret = c.secret.clone().unwrap();

    let (status, body, headers) = post_form(
        &app,
        "/token",
        Some((&c.id, "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(headers["cache-control"], "no-store");

    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, body, _) =
        post_form(&app, "/token", Some((&c.id, &secret)), &[("scope", "read")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "repeated parameter"
    );

    let res = app
        .http
        .post(app.url("/token"))
        .header("Authorization", "Basic %%%not-base64")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let big = "x".repeat(64 * 1024);
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "client_credentials"), ("scope", &big)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "oversize body"
    );

    // A public client cannot use client_credentials.
    let public = crate::fixtures::client(
        &app,
        &["--public", "--redirect-uri", "http://127.0.0.1:9/cb"],
    );
    let (status, body, _) = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &public.id),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    // An auth-code-only confidential client cannot either.
    let web = crate::fixtures::client(&app, &["--redirect-uri", "https://app.example/cb"]);
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&web.id, web.secret.as_deref().unwrap())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    // Unknown client.
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some(("nobody", "x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}
both_backends!(cc_refusals, refusals);

async fn deleted_client_and_rotated_secret_stop_within_a_second(app: TestApp) {
    let c = machine(&app, "read", &[]);
    let secret = c.secret.clone().unwrap();
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.cli(&["clients", "rotate-secret", &c.id], None).code, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let (status, _, _) = post_form(
        &app,
        "/token",
        Some((&c.id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 401, "the old secret stopped working");
    assert_eq!(app.cli(&["clients", "delete", &c.id], None).code, 0);
}
both_backends!(
    cc_cache_expiry,
    deleted_client_and_rotated_secret_stop_within_a_second
);

//! Signed request objects (RFC 9101) at /authorize and pushed to /par.

use serde_json::{json, Value};

use gatehouse::keys::{Alg, SigningKey};

use crate::authorize::{web_client, PW, RP};
use crate::both_backends;
use crate::fixtures::{post_form, user};
use crate::helpers::{exchange, location, login_flow, pkce, query_param, TestApp};

fn object(app: &TestApp, client_id: &str, challenge: &str, extra: Value) -> Value {
    let now = gatehouse::db::unix_now();
    let mut o = json!({
        "iss": client_id, "aud": app.issuer, "iat": now, "exp": now + 300,
        "client_id": client_id, "response_type": "code", "redirect_uri": RP,
        "scope": "openid", "state": "from-the-object", "nonce": "n",
        "code_challenge": challenge, "code_challenge_method": "S256",
    });
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

fn authorize_url(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

async fn signed_requests(app: TestApp) {
    let meta = crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(meta["request_parameter_supported"], true);
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jwks.path(), json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
    let c = web_client(&app, &["--jwks-file", jwks.path().to_str().unwrap()]);
    let secret = c.secret.clone().unwrap();
    user(&app, "ria", PW);

    // Only the object's parameters count: the query's wider scope and state are ignored.
    let p = pkce();
    let jwt = key.sign_jwt(
        "oauth-authz-req+jwt",
        &object(&app, &c.id, &p.challenge, json!({})),
    );
    let url = authorize_url(
        &app,
        &[
            ("client_id", &c.id),
            ("request", &jwt),
            ("scope", "openid profile"),
            ("state", "from-the-query"),
        ],
    );
    let done = login_flow(&crate::helpers::browser(), &url, "ria", PW).await;
    assert_eq!(
        query_param(&done, "state").as_deref(),
        Some("from-the-object"),
        "{done}"
    );
    let code = query_param(&done, "code").unwrap();
    let (status, tokens) = exchange(&app, &c.id, Some(&secret), &code, RP, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid");

    // A object signed by another key, or for another audience: invalid_request_object.
    let (other, _) = SigningKey::generate(Alg::ES256).unwrap();
    for jwt in [
        other.sign_jwt("JWT", &object(&app, &c.id, &p.challenge, json!({}))),
        key.sign_jwt(
            "JWT",
            &object(
                &app,
                &c.id,
                &p.challenge,
                json!({"aud": "https://elsewhere.example"}),
            ),
        ),
    ] {
        let url = authorize_url(
            &app,
            &[
                ("client_id", &c.id),
                ("request", &jwt),
                ("redirect_uri", RP),
            ],
        );
        let res = crate::helpers::browser().get(&url).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let to = location(&res).unwrap();
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request_object"),
            "{to}"
        );
    }

    // Pushed: the object's parameters are what is stored.
    let p = pkce();
    let jwt = key.sign_jwt(
        "JWT",
        &object(
            &app,
            &c.id,
            &p.challenge,
            json!({"scope": "openid profile"}),
        ),
    );
    let (status, body, _) = post_form(
        &app,
        "/par",
        Some((&c.id, &secret)),
        &[("client_id", &c.id), ("request", &jwt)],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let url = authorize_url(
        &app,
        &[
            ("client_id", &c.id),
            ("request_uri", body["request_uri"].as_str().unwrap()),
        ],
    );
    let done = login_flow(&crate::helpers::browser(), &url, "ria", PW).await;
    let code = query_param(&done, "code").unwrap_or_else(|| panic!("{done}"));
    let (status, tokens) = exchange(&app, &c.id, Some(&secret), &code, RP, Some(&p.verifier)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");
    let (status, body, _) = post_form(
        &app,
        "/par",
        Some((&c.id, &secret)),
        &[
            ("client_id", &c.id),
            (
                "request",
                &other.sign_jwt("JWT", &object(&app, &c.id, &p.challenge, json!({}))),
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request_object")),
        "{body}"
    );
}
both_backends!(jar_flow, signed_requests);

/// Unsigned objects for a client that registered `none`, and objects by reference from
/// a registered `request_uri`.
async fn unsigned_and_by_reference(app: TestApp) {
    let mock = crate::mock::Mock::start().await;
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jwks.path(), json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
    let by_ref = mock.url("/requests/1.jwt");
    let c = web_client(
        &app,
        &[
            "--jwks-file",
            jwks.path().to_str().unwrap(),
            "--request-uri",
            &by_ref,
        ],
    );
    let none = web_client(&app, &["--request-object-signing-alg", "none"]);
    user(&app, "ria", PW);

    let p = pkce();
    let jwt = key.sign_jwt("JWT", &object(&app, &c.id, &p.challenge, json!({})));
    let mut answer = crate::mock::Answer::json(&json!(null));
    answer.body = jwt.into_bytes();
    answer.headers = vec![(
        "content-type".into(),
        "application/oauth-authz-req+jwt".into(),
    )];
    mock.set("/requests/1.jwt", answer);
    let url = authorize_url(&app, &[("client_id", &c.id), ("request_uri", &by_ref)]);
    let done = login_flow(&crate::helpers::browser(), &url, "ria", PW).await;
    assert_eq!(
        query_param(&done, "state").as_deref(),
        Some("from-the-object"),
        "{done}"
    );
    assert_eq!(mock.hits("/requests/1.jwt"), 1);

    let p = pkce();
    let claims = object(&app, &none.id, &p.challenge, json!({}));
    let unsigned = format!(
        "{}.{}.",
        gatehouse::crypto::b64url(br#"{"alg":"none"}"#),
        gatehouse::crypto::b64url(claims.to_string().as_bytes())
    );
    let url = authorize_url(&app, &[("client_id", &none.id), ("request", &unsigned)]);
    let done = login_flow(&crate::helpers::browser(), &url, "ria", PW).await;
    assert!(query_param(&done, "code").is_some(), "{done}");
    // The same unsigned object is refused for a client that did not register none.
    let claims = object(&app, &c.id, &p.challenge, json!({}));
    let unsigned = format!(
        "{}.{}.",
        gatehouse::crypto::b64url(br#"{"alg":"none"}"#),
        gatehouse::crypto::b64url(claims.to_string().as_bytes())
    );
    let url = authorize_url(
        &app,
        &[
            ("client_id", &c.id),
            ("request", &unsigned),
            ("redirect_uri", RP),
        ],
    );
    let res = crate::helpers::browser().get(&url).send().await.unwrap();
    let to = location(&res).unwrap();
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request_object"),
        "{to}"
    );
    mock.stop().await;
}
crate::both_backends_on!(
    jar_unsigned_and_by_reference,
    unsigned_and_by_reference,
    crate::fetching::fetching_app
);

//! The FAPI 2.0 Security Profile per client (`--profile fapi2`): what it requires.

use serde_json::{json, Value};

use gatehouse::keys::{Alg, SigningKey};

use crate::authorize::RP;
use crate::both_backends;
use crate::fixtures::post_form;
use crate::helpers::{code_request, page_of, TestApp};
use crate::registration::assertion;

async fn the_profile(app: TestApp) {
    let (key, _) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jwks.path(), json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
    let path = jwks.path().to_str().unwrap();
    let base = [
        "clients",
        "create",
        "--json",
        "--name",
        "Bank app",
        "--redirect-uri",
        RP,
    ];

    // Only with private_key_jwt; only known profiles.
    let mut args = base.to_vec();
    args.extend(["--profile", "fapi2"]);
    let out = app.cli(&args, None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("private_key_jwt"), "{}", out.stderr);
    let mut args = base.to_vec();
    args.extend([
        "--profile",
        "fapi9",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        path,
    ]);
    assert!(app.cli(&args, None).stderr.contains("only fapi2"));

    let mut args = base.to_vec();
    args.extend([
        "--profile",
        "fapi2",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        path,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "client_credentials",
    ]);
    let out = app.cli(&args, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let c: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(c["security_profile"], "fapi2");
    assert_eq!(c["require_pushed_authorization_requests"], true);
    assert_eq!(c["dpop_bound_access_tokens"], true);
    let id = c["client_id"].as_str().unwrap();

    // Authorization requests must be pushed; token requests need DPoP.
    let direct = code_request(&app, id, RP, "openid", &[]);
    assert!(page_of(&crate::helpers::browser(), &direct.url)
        .await
        .contains("must push"));
    let a = assertion(&key, id, &app.url("/token"));
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", a.as_str()),
    ];
    let (status, body, _) = post_form(&app, "/token", None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(body["error_description"].as_str().unwrap().contains("DPoP"));
}
both_backends!(fapi2_profile, the_profile);

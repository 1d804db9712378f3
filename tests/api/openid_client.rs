//! DPoP with a real relying-party library: panva's `openid-client` (tests/js/dpop.mjs)
//! gets DPoP-bound tokens by client credentials and by the code flow, calls userinfo with
//! proofs, refreshes with the bound key, and is refused with another key or none.

use std::path::PathBuf;

use crate::fixtures::{client, machine, user};
use crate::helpers::{login_flow, TestApp};
use crate::node::Script;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";
const PASSWORD: &str = "correct horse battery staple";

async fn dpop_with_openid_client(app: TestApp) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let cc = machine(&app, "read", &[]);
    let public = client(
        &app,
        &["--name", "CLI app", "--public", "--redirect-uri", REDIRECT],
    );
    let ada = user(&app, "ada", PASSWORD);
    let secret = cc.secret.clone().unwrap();
    let env = [
        ("ISSUER", app.issuer.as_str()),
        ("CC_CLIENT_ID", cc.id.as_str()),
        ("CC_CLIENT_SECRET", secret.as_str()),
        ("PUBLIC_CLIENT_ID", public.id.as_str()),
        ("REDIRECT_URI", REDIRECT),
    ];
    let mut s = Script::start(&dir, "dpop.mjs", &env);

    let cc_result = s.expect_json("CC").await;
    assert_eq!(cc_result["wire_token_type"], "DPoP", "{cc_result}");
    assert_eq!(cc_result["jkt_matches"], true, "{cc_result}");
    let introspected = s.expect_json("INTROSPECT").await;
    assert_eq!(introspected["active"], true);
    assert!(introspected["cnf"]["jkt"].is_string(), "{introspected}");

    let authorize = s.expect("AUTHORIZE").await;
    let callback = login_flow(&crate::helpers::browser(), &authorize, "ada", PASSWORD).await;
    s.send(&format!("CALLBACK {callback}")).await;
    let code = s.expect_json("CODE").await;
    assert_eq!(code["wire_token_type"], "DPoP", "{code}");
    assert_eq!(code["has_refresh"], true, "{code}");
    assert_eq!(code["jkt_matches"], true, "{code}");
    let info = s.expect_json("USERINFO").await;
    assert_eq!(info["sub"], ada.as_str());
    let bearer = s.expect_json("USERINFO_BEARER").await;
    assert_eq!(
        bearer["status"], 401,
        "a bound token is refused as a Bearer token: {bearer}"
    );
    let refresh = s.expect_json("REFRESH").await;
    assert_eq!(refresh["wire_token_type"], "DPoP", "{refresh}");
    assert_eq!(refresh["rotated"], true, "{refresh}");
    assert_eq!(refresh["jkt_matches"], true, "{refresh}");
    let other = s.expect_json("REFRESH_OTHER_KEY").await;
    assert_eq!(other["error"], "invalid_grant", "{other}");
    let none = s.expect_json("REFRESH_NO_PROOF").await;
    assert_eq!(none["error"], "invalid_grant", "{none}");
    s.expect("DONE").await;
}
crate::both_backends!(openid_client_dpop, dpop_with_openid_client);

/// Pushed and signed authorization requests and the device grant, with openid-client
/// (tests/js/flows.mjs).
async fn par_jar_and_device_with_openid_client(app: TestApp) {
    use gatehouse::keys::{Alg, SigningKey};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let (key, der) = SigningKey::generate(Alg::ES256).unwrap();
    let jwks = tempfile::NamedTempFile::new().unwrap();
    let set = serde_json::json!({"keys": [key.public_jwk()]});
    std::fs::write(jwks.path(), set.to_string()).unwrap();
    let web = client(
        &app,
        &[
            "--name",
            "Web app",
            "--redirect-uri",
            REDIRECT,
            "--jwks-file",
            jwks.path().to_str().unwrap(),
        ],
    );
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = client(
        &app,
        &[
            "--name",
            "Living-room TV",
            "--public",
            "--grant-type",
            device,
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid profile offline_access",
        ],
    );
    user(&app, "ada", PASSWORD);
    let secret = web.secret.clone().unwrap();
    let der = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&der)
    };
    let env = [
        ("ISSUER", app.issuer.as_str()),
        ("WEB_CLIENT_ID", web.id.as_str()),
        ("WEB_CLIENT_SECRET", secret.as_str()),
        ("REDIRECT_URI", REDIRECT),
        ("JAR_KEY_PKCS8", der.as_str()),
        ("JAR_KEY_ID", key.kid.as_str()),
        ("DEVICE_CLIENT_ID", tv.id.as_str()),
    ];
    let mut s = Script::start(&dir, "flows.mjs", &env);
    for step in ["PAR", "JAR"] {
        let authorize = s.expect("AUTHORIZE").await;
        let callback = login_flow(&crate::helpers::browser(), &authorize, "ada", PASSWORD).await;
        s.send(&format!("CALLBACK {callback}")).await;
        let result = s.expect_json(step).await;
        assert_eq!(result["scope"], "openid profile", "{step}: {result}");
        if step == "PAR" {
            assert!(result["request_uri"]
                .as_str()
                .unwrap()
                .starts_with("urn:ietf:params:oauth:request_uri:"));
        } else {
            assert_eq!(result["has_request"], true);
        }
    }
    let started = s.expect_json("DEVICE").await;
    let page = crate::device::answer(
        started["verification_uri_complete"].as_str().unwrap(),
        "allow",
    )
    .await;
    assert!(page.contains("Device connected"), "{page}");
    s.send("APPROVED").await;
    let tokens = s.expect_json("DEVICE_TOKENS").await;
    assert_eq!(tokens["has_refresh"], true, "{tokens}");
    s.expect("DONE").await;
}
crate::both_backends!(openid_client_flows, par_jar_and_device_with_openid_client);

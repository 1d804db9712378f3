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

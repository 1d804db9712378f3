//! Token exchange (RFC 8693): a service trades the token it received for one to call
//! another API on the subject's behalf.

use crate::both_backends;
use crate::fixtures::{cc_token, jwt_parts, machine, post_form};
use crate::helpers::TestApp;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn exchanges(app: TestApp) {
    // The caller's token, for the first API; the service that received it.
    let caller = machine(&app, "read write", &["--audience", "https://api-a.example"]);
    let subject = cc_token(&app, &caller.id, caller.secret.as_deref().unwrap()).await;
    let service = machine(
        &app,
        "read",
        &[
            "--grant-type",
            EXCHANGE,
            "--audience",
            "https://api-a.example https://api-b.example",
        ],
    );
    let secret = service.secret.clone().unwrap();
    let basic = Some((service.id.as_str(), secret.as_str()));
    let ask = |extra: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("grant_type", EXCHANGE.to_string()),
            ("subject_token", subject.clone()),
            ("subject_token_type", AT.to_string()),
        ];
        form.extend(extra);
        form
    };
    let send = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body, _) = post_form(app, "/token", basic, &f).await;
            (status, body)
        }
    };

    let (status, body) = send(ask(vec![
        ("audience", "https://api-b.example".into()),
        ("scope", "read".into()),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], AT);
    assert!(body.get("refresh_token").is_none());
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api-b.example");
    assert_eq!(claims["sub"], caller.id.as_str(), "the subject stays");
    assert_eq!(
        claims["act"]["sub"],
        service.id.as_str(),
        "the service acts"
    );
    assert_eq!(claims["scope"], "read");
    let exchanged = body["access_token"].as_str().unwrap().to_string();

    // Wider scope, a target the service may not use, gatehouse itself, a bad token.
    let (status, body) = send(ask(vec![
        ("resource", "https://api-b.example".into()),
        ("scope", "read admin".into()),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (status, body) = send(ask(vec![("audience", "https://api-c.example".into())])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let (status, body) = send(ask(vec![("audience", app.issuer.clone())])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let mut forged = ask(vec![("audience", "https://api-b.example".into())]);
    forged[1].1.push('x');
    let (status, body) = send(forged).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = send(ask(vec![])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // A client without the grant may not exchange.
    let other = machine(&app, "read", &["--audience", "https://api-b.example"]);
    let f = [
        ("grant_type", EXCHANGE),
        ("subject_token", subject.as_str()),
        ("subject_token_type", AT),
        ("audience", "https://api-b.example"),
    ];
    let (status, body, _) = post_form(
        &app,
        "/token",
        Some((&other.id, other.secret.as_deref().unwrap())),
        &f,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );

    // Revoking the subject token revokes what was exchanged from it.
    let introspect = |token: String| {
        let app = &app;
        async move {
            let (_, body, _) =
                post_form(app, "/introspect", basic, &[("token", token.as_str())]).await;
            body["active"].clone()
        }
    };
    assert_eq!(introspect(exchanged.clone()).await, true);
    let (status, _, _) = post_form(
        &app,
        "/revoke",
        Some((&caller.id, caller.secret.as_deref().unwrap())),
        &[("token", &subject)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(introspect(exchanged).await, false);

    // The audit log links the tokens.
    let log = crate::admin_api::audit_log(&app);
    let e = log
        .iter()
        .find(|e| e["action"] == "token.exchange")
        .expect("an audit event");
    assert_eq!(e["actor"], format!("client:{}", service.id));
}
both_backends!(token_exchange_grant, exchanges);

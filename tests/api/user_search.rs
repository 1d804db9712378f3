//! User search ignores case on both backends alike.

use reqwest::Method;

use crate::admin_api::{admin_token, call};
use crate::both_backends;
use crate::fixtures::user;
use crate::helpers::TestApp;

async fn search_ignores_case(app: TestApp) {
    user(&app, "Alice", "alice's password");
    user(&app, "bob", "bob's password");
    let (token, _) = admin_token(&app).await;
    for q in ["ali", "ALICE", "Alice@Example"] {
        let (status, body, _) = call(
            &app,
            Method::GET,
            &format!("/admin/api/users?q={q}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let names: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Alice"], "q={q}: {body}");
    }
    // LIKE wildcards in the query are taken literally.
    let (_, body, _) = call(
        &app,
        Method::GET,
        "/admin/api/users?q=%25",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0, "{body}");
}
both_backends!(user_search, search_ignores_case);

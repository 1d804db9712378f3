//! Prometheus metrics on their own listener (`GATEHOUSE_METRICS_BIND`), scraped and
//! parsed with the `prometheus-parse` crate.

use std::net::TcpListener;

use prometheus_parse::{Sample, Scrape, Value};

use crate::both_backends_on;
use crate::fixtures::{cc_token, machine, user};
use crate::helpers::{code_request, spawn_on, submit_login, Backend, TestApp, TestDb};

pub async fn metrics_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Some(
        spawn_on(backend, db, move |s| {
            s.metrics_bind = Some(format!("127.0.0.1:{port}"));
        })
        .await,
    )
}

fn value(s: &Sample) -> f64 {
    match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        Value::Summary(_) => 0.0,
    }
}

/// The value of the first sample of `metric` whose labels include `labels`.
fn find(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(value)
}

async fn scraped_and_parsed(app: TestApp) {
    let bind = app.services.settings.metrics_bind.clone().unwrap();
    // Some traffic: a token, a failed login, discovery.
    let c = machine(&app, "reports:read", &[]);
    cc_token(&app, &c.id, c.secret.as_deref().unwrap()).await;
    user(&app, "ola", "correct horse battery");
    let web = crate::authorize::web_client(&app, &[]);
    let req = code_request(&app, &web.id, crate::authorize::RP, "openid", &[]);
    let page = app.page(&req.url).await;
    submit_login(&app.http, &page, "ola", "wrong password!").await;
    crate::helpers::get_json(&app, "/.well-known/openid-configuration").await;

    let res = app
        .http
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let requests = "gatehouse_http_requests_total";
    let token = find(&scrape, requests, &[("route", "/token"), ("status", "200")]);
    assert!(token >= Some(1.0), "{text}");
    let templated = scrape.samples.iter().any(|s| {
        s.metric == requests && s.labels.get("route") == Some("/.well-known/openid-configuration")
    });
    assert!(templated, "routes are labelled by template: {text}");
    let issued = find(
        &scrape,
        "gatehouse_tokens_issued_total",
        &[("grant", "client_credentials"), ("alg", "ES256")],
    );
    assert_eq!(issued, Some(1.0), "{text}");
    let failed = find(
        &scrape,
        "gatehouse_logins_total",
        &[("outcome", "wrong_password")],
    );
    assert_eq!(failed, Some(1.0), "{text}");
    let latency = find(
        &scrape,
        "gatehouse_http_request_duration_seconds",
        &[("route", "/token")],
    );
    assert!(latency >= Some(1.0), "a latency histogram: {text}");
    for gauge in [
        "gatehouse_db_pool_connections_in_use",
        "gatehouse_db_pool_connections_idle",
        "gatehouse_db_pool_connections_max",
        "gatehouse_logout_deliveries_queued",
        "gatehouse_client_cache_hits_total",
        "gatehouse_client_cache_misses_total",
        "gatehouse_db_pool_waits_total",
    ] {
        assert!(find(&scrape, gauge, &[]).is_some(), "{gauge} in {text}");
    }
    assert!(find(&scrape, "gatehouse_db_pool_connections_max", &[]) >= Some(1.0));
    let age = find(
        &scrape,
        "gatehouse_signing_key_age_seconds",
        &[("alg", "ES256")],
    );
    assert!(age.is_some_and(|a| a >= 0.0), "{text}");
    assert!(find(&scrape, "gatehouse_db_operation_duration_seconds", &[]) >= Some(1.0));
    // Not on the public listener.
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}
both_backends_on!(metrics, scraped_and_parsed, crate::metrics::metrics_app);

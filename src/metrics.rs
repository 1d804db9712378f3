//! Prometheus metrics (text exposition format 0.0.4) with `prometheus-client`, served at
//! `/metrics` on a listener of its own (`GATEHOUSE_METRICS_BIND`), never on the public
//! one. Counters are counted where things happen; gauges (pool, keys, queue) are read
//! when scraped.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::startup::Services;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/register/{client_id}`), never the raw path.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub grant: String,
    pub alg: String,
}

macro_rules! one_label {
    ($name:ident, $label:ident) => {
        #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
        pub struct $name {
            pub $label: String,
        }
    };
}
one_label!(Outcome, outcome);
one_label!(Kind, kind);
one_label!(Table, table);
one_label!(AlgLabel, alg);

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 250 µs to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// Every metric gatehouse keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_latency: Latency,
    pub tokens_issued: Family<TokenLabels, Counter>,
    /// By outcome: `success`, `wrong_password`, `unknown_user`, `disabled`, `throttled`.
    pub logins: Family<Outcome, Counter>,
    /// `code_replay`, `refresh_reuse`.
    pub security_events: Family<Kind, Counter>,
    /// Rows the housekeeping task deleted, by table.
    pub housekeeping_rows: Family<Table, Counter>,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    key_age: Family<AlgLabel, Gauge>,
    logout_queue: Gauge,
}

impl Metrics {
    /// The registry, with the database's and the client cache's own instruments.
    pub fn new(db: &crate::db::Db, clients: &crate::cache::ClientCache) -> Metrics {
        let mut registry = Registry::with_prefix("gatehouse");
        let m = Metrics {
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            tokens_issued: Family::default(),
            logins: Family::default(),
            security_events: Family::default(),
            housekeeping_rows: Family::default(),
            pool_in_use: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_max: Gauge::default(),
            key_age: Family::default(),
            logout_queue: Gauge::default(),
            registry: Registry::default(),
        };
        m.register(&mut registry, db, clients);
        Metrics { registry, ..m }
    }

    /// The instruments counted where things happen.
    fn register(&self, r: &mut Registry, db: &crate::db::Db, clients: &crate::cache::ClientCache) {
        let m = self;
        r.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template",
            m.http_latency.clone(),
        );
        r.register(
            "tokens_issued",
            "Tokens issued at the token endpoint by grant and signing algorithm",
            m.tokens_issued.clone(),
        );
        r.register("logins", "Login attempts by outcome", m.logins.clone());
        r.register(
            "security_events",
            "Code replays and refresh-token reuse detected",
            m.security_events.clone(),
        );
        r.register(
            "housekeeping_rows_deleted",
            "Rows deleted by the housekeeping task, by table",
            m.housekeeping_rows.clone(),
        );
        Self::register_read(self, r, db, clients);
    }

    /// The instruments read when scraped, and those the pool and the cache own.
    fn register_read(
        m: &Self,
        r: &mut Registry,
        db: &crate::db::Db,
        clients: &crate::cache::ClientCache,
    ) {
        r.register(
            "db_pool_connections_in_use",
            "Database connections lent out",
            m.pool_in_use.clone(),
        );
        r.register(
            "db_pool_connections_idle",
            "Database connections idle in the pool",
            m.pool_idle.clone(),
        );
        r.register(
            "db_pool_connections_max",
            "The pool's size limit",
            m.pool_max.clone(),
        );
        r.register("db_operation_duration_seconds", "Time of each storage operation on the blocking pool, waiting for a connection included", db.latency.clone());
        r.register(
            "db_pool_waits",
            "Connection requests that waited or timed out",
            db.waits.clone(),
        );
        r.register(
            "client_cache_hits",
            "Client lookups answered by the cache",
            clients.hits.clone(),
        );
        r.register(
            "client_cache_misses",
            "Client lookups that went to the database",
            clients.misses.clone(),
        );
        r.register(
            "signing_key_age_seconds",
            "How long the active key of each algorithm has signed",
            m.key_age.clone(),
        );
        r.register(
            "logout_deliveries_queued",
            "Back-channel logout tokens waiting for delivery",
            m.logout_queue.clone(),
        );
    }

    pub fn login(&self, outcome: &str) {
        self.logins
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn security_event(&self, kind: &str) {
        self.security_events
            .get_or_create(&Kind {
                kind: kind.to_string(),
            })
            .inc();
    }

    pub fn token(&self, grant: &str, alg: &str) {
        self.tokens_issued
            .get_or_create(&TokenLabels {
                grant: grant.to_string(),
                alg: alg.to_string(),
            })
            .inc();
    }

    /// Adds a housekeeping report (its JSON form: table → rows).
    pub fn housekeeping(&self, report: &serde_json::Value) {
        for (table, n) in report.as_object().into_iter().flatten() {
            if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                self.housekeeping_rows
                    .get_or_create(&Table {
                        table: table.clone(),
                    })
                    .inc_by(n);
            }
        }
    }
}

/// Counts every request by route template and status, with its latency.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    // Nothing to count for when nobody can scrape it.
    let Some(m) = req
        .app_data::<web::Data<Services>>()
        .filter(|s| s.settings.metrics_bind.is_some())
        .map(|s| s.metrics.clone())
    else {
        return next.call(req).await;
    };
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    m.http_requests
        .get_or_create(&HttpLabels {
            route: route.clone(),
            method,
            status: res.status().as_u16(),
        })
        .inc();
    m.http_latency
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    Ok(res)
}

/// `GET /metrics`: reads the gauges, then encodes everything.
pub async fn scrape(services: web::Data<Services>) -> HttpResponse {
    let m = services.metrics.clone();
    let state = services.db.pool_state();
    m.pool_in_use
        .set(i64::from(state.connections - state.idle_connections));
    m.pool_idle.set(i64::from(state.idle_connections));
    m.pool_max.set(i64::from(services.db.max_size()));
    let now = crate::db::unix_now();
    // What needs the database is best effort: a scrape still answers when it is down.
    if let Ok((keys, queued)) = services
        .db
        .run(move |c| Ok((c.list_keys(now, 0)?, c.count_logouts()?)))
        .await
    {
        for k in keys.iter().filter(|k| k.state == "active") {
            m.key_age
                .get_or_create(&AlgLabel { alg: k.alg.clone() })
                .set(now - k.activates_at);
        }
        m.logout_queue.set(queued);
    }
    let mut body = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut body, &m.registry).is_err() {
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

use actix_web::{web, HttpResponse};

use super::Data;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is alive.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"status": "ok"}))
}

/// The database takes a write; 503 otherwise (down, read-only, full), so a load
/// balancer stops sending traffic.
async fn readyz(services: Data) -> HttpResponse {
    let db = services.db.clone();
    let ok = matches!(
        tokio::task::spawn_blocking(move || db.ping()).await,
        Ok(Ok(()))
    );
    let (mut res, status) = if ok {
        (HttpResponse::Ok(), "ok")
    } else {
        (
            HttpResponse::ServiceUnavailable(),
            "database unavailable or not writable",
        )
    };
    res.insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "status": status }))
}

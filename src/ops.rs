//! Operational routes: liveness, readiness and Prometheus metrics.

use crate::app::AppState;
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use migration::{Migrator, MigratorTrait};
use serde_json::json;
use std::sync::OnceLock;

/// The operational routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let reachable = state.db.ping().await.is_ok();
    let migrated = reachable
        && Migrator::get_pending_migrations(&state.db)
            .await
            .is_ok_and(|pending| pending.is_empty());
    let status = if migrated {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if migrated { "ready" } else { "unavailable" },
        "database": reachable, "migrations": migrated});
    (status, Json(body))
}

async fn metrics_text(State(state): State<AppState>) -> String {
    // Gauges read at scrape time (several apps in one process each report their own value).
    metrics::gauge!("pubgate_feed_subscribers").set(state.feed.subscribers() as f64);
    metrics::gauge!("pubgate_shared_subscriptions").set(state.hub.running() as f64);
    metrics::gauge!("pubgate_sequence_head").set(*state.head.borrow() as f64);
    let handle = recorder();
    handle.run_upkeep();
    handle.render()
}

/// The process's metrics recorder. The `metrics` macros report to one global recorder by
/// design, so every `App` in a process shares it.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if an embedding program installed its own recorder; ours then stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

//! Operational routes: liveness, readiness and the Prometheus text of `metrics`.

use crate::metrics::Pool;
use crate::state::AppState;
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use serde_json::json;

/// The operational routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
}

/// Ready when the database answers, is migrated, and the writer can commit within the time a
/// webhook waits for its commit (a writer that cannot means every webhook would get a 503).
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let reachable = crate::store::reachable(&state.db).await;
    let migrated = reachable
        && Migrator::get_pending_migrations(&state.db)
            .await
            .is_ok_and(|pending| pending.is_empty());
    let writer = reachable
        && tokio::time::timeout(state.config.ingest_timeout, state.ingest.probe())
            .await
            .is_ok_and(|committed| committed.is_ok());
    let ready = migrated && writer;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready { "ready" } else { "unavailable" },
        "database": reachable, "migrations": migrated, "writer": writer});
    (status, Json(body))
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    // Gauges that are cheapest read at scrape time.
    m.feed_subscribers.set(state.feed.subscribers() as f64);
    let delivered = state.feed.published();
    m.feed_delivered.set(delivered as f64);
    // Read before this scrape takes a connection of its own: a connection is given back to the
    // pool a moment after its statement, and would otherwise be counted as in use.
    for (pool, db) in Pool::ALL.into_iter().zip([
        &state.db,
        state.ingest.db(),
        state.feed.publisher(),
        &state.analytics_db,
    ]) {
        let (size, idle) = pool_usage(db);
        m.pool_size[pool as usize].set(size as f64);
        m.pool_in_use[pool as usize].set((size as usize).saturating_sub(idle) as f64);
    }
    // The newest committed sequence is read from the database, so the lag also covers events
    // other instances committed that this one has not relayed yet.
    if let Ok(committed) = crate::store::queries::sequence_head(state.feed.db()).await {
        m.sequence_head.set(committed as f64);
        m.feed_lag.set((committed - delivered).max(0) as f64);
    }
    ([("content-type", "text/plain; version=0.0.4")], m.render())
}

/// (open connections, idle connections) of the pool behind `db`.
fn pool_usage(db: &DatabaseConnection) -> (u32, usize) {
    use sea_orm::DatabaseConnectionType as Pool;
    match &db.inner {
        Pool::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        Pool::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    }
}

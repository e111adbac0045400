//! What every edge's handlers reach: the configuration, the pool, the writer, the feed, the
//! metrics and the shutdown signal. It sits below the edges, so none of them imports `app`.

use crate::{config::Config, feed::Feed, metrics::Metrics, store::ingest::Ingest};
use sea_orm::DatabaseConnection;
use std::sync::{Arc, atomic::AtomicU64};
use tokio::sync::{Semaphore, watch};

/// The handles shared by every edge; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    /// The analytics counters' connections (`store::stats::GENERIC_PLANS`; on SQLite, `db`).
    pub analytics_db: DatabaseConnection,
    pub ingest: Ingest,
    /// Becomes true when the server starts shutting down (long-lived streams end then).
    pub shutdown: watch::Receiver<bool>,
    /// The live feed every subscription reads.
    pub feed: Feed,
    /// SQL statements this instance has run for requests and ingest (the feed's are only in
    /// the `pubgate_sql_statements_total{source="feed"}` metric).
    pub sql_statements: Arc<AtomicU64>,
    /// This instance's metrics (what `/metrics` renders).
    pub metrics: Arc<Metrics>,
    /// One permit per running subscription, up to `--max-subscriptions`.
    pub subscriptions: Arc<Semaphore>,
}

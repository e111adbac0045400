//! The buildable application: `App::build(config)` → `local_addr()` → `serve(shutdown)`.
//! Tests build the same `App` on port 0 that production runs.

use crate::{config::Config, feed::Feed, graphql, ops, store, webhook};
use axum::Router;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use std::sync::atomic::{AtomicU64, Ordering};
use std::{future::Future, net::SocketAddr, sync::Arc};
use tokio::{net::TcpListener, sync::watch};
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub ingest: store::ingest::Ingest,
    pub schema: graphql::AppSchema,
    /// The newest committed webhook event id.
    pub head: watch::Receiver<i64>,
    /// Becomes true when the server starts shutting down (long-lived streams end then).
    pub shutdown: watch::Receiver<bool>,
    /// Live subscriptions shared by subscribers that ask the same thing.
    pub hub: graphql::hub::Hub,
    /// The live feed every subscription reads.
    pub feed: Feed,
    /// SQL statements this instance has run for requests and ingest (the feed's are only in
    /// the `pubgate_sql_statements_total{source="feed"}` metric).
    pub sql_statements: Arc<AtomicU64>,
}

/// A bound, migrated, ready-to-serve gateway.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    shutdown: watch::Sender<bool>,
}

impl App {
    /// Validates `config`, opens and migrates the database, starts the writer and binds.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        config.validate().map_err(anyhow::Error::msg)?;
        if config.unsigned_webhooks() {
            tracing::warn!(
                "NO WEBHOOK SECRET: unsigned webhooks are accepted (loopback only); set --webhook-secret"
            );
        }
        if config.api_tokens.is_empty() {
            tracing::warn!("no API token: the GraphQL API is open to anyone who can reach it");
        }
        let mut db = store::connect(&config.database_url, config.db_max_connections).await?;
        // The feed shares the pool but counts its statements apart, so that "statements per
        // event" and "statements per request" can each be read.
        let mut feed_db = db.clone();
        feed_db.set_metric_callback(|_| {
            metrics::counter!("pubgate_sql_statements_total", "source" => "feed").increment(1);
        });
        let sql_statements = Arc::new(AtomicU64::new(0));
        let counter = sql_statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("pubgate_sql_statements_total", "source" => "api").increment(1);
        });
        migrate(&db).await?;
        let newest = store::queries::sequence_head(&db).await?;
        let (head_tx, head) = watch::channel(newest);
        let ingest = store::ingest::Ingest::start(db.clone(), head_tx);
        let listen_url =
            (db.get_database_backend() == DbBackend::Postgres).then(|| config.database_url.clone());
        let feed = Feed::start(
            feed_db,
            newest,
            head.clone(),
            listen_url,
            config.subscriber_queue,
        );
        let schema = graphql::schema(db.clone(), feed.clone(), &config);
        let listener = TcpListener::bind(config.listen).await?;
        let (shutdown, shutting_down) = watch::channel(false);
        let state = AppState {
            config: Arc::new(config),
            db,
            ingest,
            schema,
            head,
            shutdown: shutting_down,
            hub: graphql::hub::Hub::default(),
            feed,
            sql_statements,
        };
        Ok(App {
            listener,
            router: router(state.clone()),
            state,
            shutdown,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.config.listen)
    }

    /// The shared state (for tests and embedding).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Long-lived streams (WebSocket, SSE) end when this flips, so shutdown can finish.
        let notify = self.shutdown;
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = notify.send(true);
        })
        .await
    }
}

/// Both edges and the operational routes, with the shared layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhook::router())
        .merge(graphql::router())
        .merge(ops::router())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Applies pending migrations. On PostgreSQL an advisory lock makes instances that start
/// together take turns instead of racing on the DDL.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SELECT pg_advisory_xact_lock(727282001)")
        .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

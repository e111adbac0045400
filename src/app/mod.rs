//! The buildable application: `App::build(config)` → `local_addr()` → `serve(shutdown)`.
//! Tests build the same `App` on port 0 that production runs.

mod router;

pub use router::router;

use crate::{config::Config, feed::Feed, metrics::Metrics, state::AppState, store};
use axum::{Router, serve::ListenerExt};
use sea_orm::DbBackend;
use std::sync::atomic::{AtomicU64, Ordering};
use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};

/// Connections the writer keeps for itself: one transaction at a time, and one spare.
const WRITER_CONNECTIONS: u32 = 2;
/// Connections the folder of the assignment counts keeps (`store::ingest`).
const FOLD_CONNECTIONS: u32 = 1;
/// Connections the feed's publisher keeps for itself (it reads one batch at a time).
const PUBLISHER_CONNECTIONS: u32 = 2;
/// Connections of the pool `assignmentStats` reads through (PostgreSQL only; on SQLite it
/// shares the read pool).
const ANALYTICS_CONNECTIONS: u32 = 4;

/// A bound, migrated, ready-to-serve gateway.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    shutdown: watch::Sender<bool>,
}

impl App {
    /// Validates `config`, opens and migrates the database, starts the writer and binds.
    pub async fn build(mut config: Config) -> anyhow::Result<App> {
        config.validate().map_err(anyhow::Error::msg)?;
        if config.only_trusted_documents {
            // The built-in dashboard keeps working: its own documents are trusted too.
            let mut trusted = (*config.trusted_documents).clone();
            for (_, document) in crate::dashboard::documents() {
                trusted.insert(
                    crate::graphql::persisted::sha256(&document),
                    document.into(),
                );
            }
            config.trusted_documents = Arc::new(trusted);
        }
        if config.unsigned_webhooks() {
            tracing::warn!(
                "NO WEBHOOK SECRET: unsigned webhooks are accepted (loopback only); set --webhook-secret"
            );
        }
        if config.api_tokens.is_empty() {
            tracing::warn!("no API token: the GraphQL API is open to anyone who can reach it");
        }
        let metrics = Arc::new(Metrics::new());
        let url = &config.database_url;
        // Reads share one pool; the writer and the feed's publisher have their own
        // connections, so no amount of read traffic delays ingest or the live feed.
        let mut db = store::connect(url, config.db_max_connections).await?;
        let mut writer_db = store::connect_reserved(url, &db, WRITER_CONNECTIONS).await?;
        let mut publisher_db = store::connect_reserved(url, &db, PUBLISHER_CONNECTIONS).await?;
        // The folder's statements are upkeep, not the API's: not in the statement counts.
        let mut fold_db = store::connect_reserved(url, &db, FOLD_CONNECTIONS).await?;
        fold_db.set_metric_callback(|info| {
            if info.failed {
                store::statement_failed();
            }
        });
        // The analytics counters read with generic plans (`store::stats::GENERIC_PLANS`).
        let mut analytics_db = store::connect_tuned(
            url,
            &db,
            ANALYTICS_CONNECTIONS,
            &store::stats::GENERIC_PLANS,
        )
        .await?;
        // The feed counts its statements apart, so that "statements per event" and
        // "statements per request" can each be read.
        let mut feed_db = db.clone();
        // A failed statement also makes every pool test its connections for a while
        // (`store::statement_failed`).
        for pool in [&mut feed_db, &mut publisher_db] {
            let feed_counter = metrics.sql_feed.clone();
            pool.set_metric_callback(move |info| {
                feed_counter.increment(1);
                if info.failed {
                    store::statement_failed();
                }
            });
        }
        let sql_statements = Arc::new(AtomicU64::new(0));
        for pool in [&mut db, &mut writer_db, &mut analytics_db] {
            let (counter, api_counter) = (sql_statements.clone(), metrics.sql_api.clone());
            pool.set_metric_callback(move |info| {
                counter.fetch_add(1, Ordering::Relaxed);
                api_counter.increment(1);
                if info.failed {
                    store::statement_failed();
                }
            });
        }
        store::migrate(&db).await?;
        let newest = store::queries::head(&db).await?;
        let (head_tx, head) = watch::channel(newest.seq);
        let ingest = store::ingest::Ingest::start(
            writer_db,
            fold_db,
            head_tx,
            config.ingest_one_by_one,
            metrics.ingest_batches.clone(),
        );
        let listen_url =
            (db.get_database_backend() == DbBackend::Postgres).then(|| config.database_url.clone());
        let feed = Feed::start(
            feed_db,
            publisher_db,
            newest,
            head.clone(),
            listen_url,
            config.subscriber_queue,
        );
        let (shutdown, shutting_down) = watch::channel(false);
        let subscriptions = Arc::new(Semaphore::new(config.max_subscriptions));
        let listener = TcpListener::bind(config.listen).await?;
        // Started once nothing can fail any more: it runs until shutdown.
        if let Some(reconcile) = config.reconcile.clone() {
            crate::backfill::reconcile(
                reconcile,
                ingest.clone(),
                db.clone(),
                metrics.clone(),
                shutting_down.clone(),
            );
        }
        if let Some(days) = config.retain_raw_days {
            let (every, stop) = (config.raw_retention_every, shutting_down.clone());
            store::retention::start(db.clone(), days, every, metrics.clone(), stop);
        }
        let state = AppState {
            config: Arc::new(config),
            db,
            analytics_db,
            ingest,
            shutdown: shutting_down,
            feed,
            sql_statements,
            metrics,
            subscriptions,
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
        let mut fired = notify.subscribe();
        // Small writes (a subscriber's frame, an answer) go out at once rather than waiting,
        // under Nagle's algorithm, for the peer to acknowledge the previous one.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = notify.send(true);
        });
        // Past the grace period, whatever is still open is dropped. A webhook never waits that
        // long for its commit (`--ingest-timeout-secs` is shorter by default), so every 200
        // that was sent is still a committed delivery.
        let grace = self.state.config.shutdown_timeout;
        let deadline = async move {
            let _ = fired.wait_for(|shutting_down| *shutting_down).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = server.into_future() => served,
            () = deadline => {
                tracing::warn!(?grace, "shutdown grace period over; closing what is still open");
                Ok(())
            }
        }
    }
}

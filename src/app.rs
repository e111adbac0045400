//! The buildable application: `App::build(config)` → `local_addr()` → `serve(shutdown)`.
//! Tests build the same `App` on port 0 that production runs.

use crate::{
    config::Config, dashboard, feed::Feed, graphql, metrics::Metrics, ops, state::AppState, store,
    webhook,
};
use axum::response::IntoResponse;
use axum::{
    Router,
    body::Body,
    http::{HeaderName, HeaderValue, Method, Request, StatusCode, header},
};
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
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

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
        let metrics = Arc::new(Metrics::new());
        let mut db = store::connect(&config.database_url, config.db_max_connections).await?;
        // The feed shares the pool but counts its statements apart, so that "statements per
        // event" and "statements per request" can each be read.
        let mut feed_db = db.clone();
        let feed_counter = metrics.sql_feed.clone();
        feed_db.set_metric_callback(move |_| feed_counter.increment(1));
        let sql_statements = Arc::new(AtomicU64::new(0));
        let (counter, api_counter) = (sql_statements.clone(), metrics.sql_api.clone());
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            api_counter.increment(1);
        });
        store::migrate(&db).await?;
        let newest = store::queries::sequence_head(&db).await?;
        let (head_tx, head) = watch::channel(newest);
        let ingest = store::ingest::Ingest::start(db.clone(), head_tx, config.ingest_one_by_one);
        let listen_url =
            (db.get_database_backend() == DbBackend::Postgres).then(|| config.database_url.clone());
        let feed = Feed::start(
            feed_db,
            newest,
            head.clone(),
            listen_url,
            config.subscriber_queue,
        );
        let subscriptions = Arc::new(Semaphore::new(config.max_subscriptions));
        let listener = TcpListener::bind(config.listen).await?;
        let (shutdown, shutting_down) = watch::channel(false);
        let state = AppState {
            config: Arc::new(config),
            db,
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
        let server = axum::serve(
            self.listener,
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

/// Both edges, the operational routes and the dashboard, with the shared layers. Layers run outermost
/// (last added) first: request id, CORS, tracing, panic guard, timeout.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let mut router = Router::new()
        .merge(webhook::router())
        .merge(ops::router())
        .merge(dashboard::router())
        .with_state(state.clone())
        .merge(graphql::router(graphql::GraphqlState::new(state)))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::HttpError::Internal.into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // One access line per request at `info` (`RUST_LOG=tower_http=warn` hides them).
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        );
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), NewRequestId))
        .layer(axum::middleware::map_request(drop_unsafe_request_id))
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every log line of a request carries its id, method and path (never the query string, headers
/// or body: they can hold tokens, signatures and customers' data).
fn request_span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
}

/// A caller's `X-Request-Id` is kept (so ids match across a load balancer) only when it is a
/// short plain token; anything else is replaced by a fresh one before it reaches the logs.
async fn drop_unsafe_request_id(mut request: Request<Body>) -> Request<Body> {
    let safe = request.headers().get(&REQUEST_ID).is_some_and(|v| {
        let v = v.as_bytes();
        (1..=64).contains(&v.len())
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !safe {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// Random 16-hex-digit request ids.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The CORS policy for `--cors-origin`, or none (same-origin only) when no origin is given.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([REQUEST_ID.clone()])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

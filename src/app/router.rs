//! The router: the edges' routes merged, and the layers every route shares (timeout, panic
//! guard, access log, CORS, request ids, error answers in each edge's own shape).

use crate::error::{ApiError, HttpError};
use crate::{dashboard, graphql, ops, state::AppState, webhook};
use axum::response::{IntoResponse, Response};
use axum::{
    Router,
    body::Body,
    http::{HeaderName, HeaderValue, Method, Request, StatusCode, header},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

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
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(axum::middleware::from_fn(error_bodies))
        .layer(axum::middleware::from_fn_with_state(
            config.clone(),
            host_guard,
        ))
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
/// Refuses (403) a request naming a host this gateway does not know, on a route left open on
/// loopback: a page whose own name an attacker points at 127.0.0.1 (DNS rebinding) would
/// otherwise be same-origin with the gateway and read or post freely.
async fn host_guard(
    axum::extract::State(config): axum::extract::State<std::sync::Arc<crate::Config>>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if !config.checks_host(path) {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|host| config.host_allowed(host)) {
        return next.run(request).await;
    }
    let message = "this gateway listens on loopback without credentials and answers only \
        requests to a loopback host name; add the name it is reached by with --allowed-host";
    if path.starts_with("/webhooks/") {
        HttpError::Status(StatusCode::FORBIDDEN, message.into()).into_response()
    } else if path == "/graphql" || path.starts_with("/graphql/") {
        ApiError::response_with(StatusCode::FORBIDDEN, ApiError::Forbidden(message.into()))
    } else {
        (StatusCode::FORBIDDEN, message).into_response()
    }
}

/// Every failure answered on the webhook carries the contract's `{"error", "message"}`, and
/// every one on `/graphql` GraphQL's `{"errors": [...]}` with a code, whoever answered: a
/// handler (which already does), the router (404, 405), the timeout (408) or the panic guard.
async fn error_bodies(request: Request<Body>, next: axum::middleware::Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let failed = status.is_client_error() || status.is_server_error();
    if !failed || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let message = status.canonical_reason().unwrap_or("error").to_owned();
    let shaped = if path.starts_with("/webhooks/") {
        HttpError::Status(status, message).into_response()
    } else if path == "/graphql" || path.starts_with("/graphql/") {
        let error = if status.is_server_error() {
            ApiError::Internal
        } else {
            ApiError::bad_input(message)
        };
        ApiError::response_with(status, error)
    } else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let (shaped_parts, body) = shaped.into_parts();
    parts.headers.extend(shaped_parts.headers);
    Response::from_parts(parts, body)
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

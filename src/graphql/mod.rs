//! GraphQL out: the schema and its HTTP routes (`/graphql`, GraphiQL for browsers).

pub mod cache;
pub mod connection;
pub mod guard;
pub mod hub;
pub mod instrument;
pub mod lists;
pub mod loaders;
pub mod query;
pub mod scalars;
pub mod sse;
pub mod subscription;
pub mod types;
pub mod ws;

use crate::{app::AppState, config::Config, error::ApiError};
use async_graphql::{EmptyMutation, Schema, http::GraphiQLSource};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Router,
    extract::{FromRequest, FromRequestParts, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use sea_orm::DatabaseConnection;
use subtle::ConstantTimeEq;

/// pubgate's executable schema.
pub type AppSchema = Schema<query::Query, EmptyMutation, subscription::Subscription>;

/// The schema with its data, limits and instrumentation.
pub fn schema(db: DatabaseConnection, feed: crate::feed::Feed, config: &Config) -> AppSchema {
    // No schema extensions: timing and the document checks run in the transports (see
    // `execute`), which keeps async-graphql on its fast path for every field.
    let mut builder = Schema::build(query::Query, EmptyMutation, subscription::Subscription)
        .data(db)
        .data(feed)
        .limit_depth(config.query_depth)
        .limit_complexity(config.query_complexity);
    if config.disable_introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL that `pubgate schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    Schema::build(query::Query, EmptyMutation, subscription::Subscription)
        .finish()
        .sdl()
}

/// The GraphQL edge's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(ws::upgrade))
}

async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let (mut parts, _) = request.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(State(state), parts.headers, upgrade).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    if request.method() == Method::GET && wants_graphiql(request.headers(), request.uri().query()) {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish(),
        )
        .into_response();
    }
    if !authorised(&state.config, request.headers()) {
        return error_response(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    }
    let streaming = accepts(request.headers(), "text/event-stream");
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let get_key = request.uri().query().map(|q| [b"G", q.as_bytes()].concat());
    let parsed = if request.method() == Method::POST {
        read_post(&state, request).await
    } else {
        <GraphQLRequest as FromRequest<AppState>>::from_request(request, &state)
            .await
            .map(|r| (r.into_inner(), get_key.unwrap_or_default()))
            .map_err(IntoResponse::into_response)
    };
    match parsed {
        Ok((req, _)) if streaming => sse::respond(state, req, last_event_id),
        Ok((req, key)) => answer(&state, req, key).await,
        Err(response) => response,
    }
}

/// Answers a query or mutation over plain HTTP, from the query cache when the committed head
/// has not moved since the same request (same bytes) was answered, or from an identical request
/// executing from the same head.
async fn answer(state: &AppState, request: async_graphql::Request, key: Vec<u8>) -> Response {
    use cache::Lookup;
    let metrics = &state.metrics;
    // Read before executing: the answer is then at least as new as this head.
    let lookup = match state.query_cache.enabled() {
        true => match crate::store::queries::sequence_head(&state.db).await {
            Ok(head) => state.query_cache.lookup(head, &key),
            Err(_) => Lookup::Bypass,
        },
        false => Lookup::Bypass,
    };
    let flight = match lookup {
        Lookup::Hit(body) => return cached(state, body),
        Lookup::Follow(rx) => match cache::follow(rx).await {
            Some(body) => return cached(state, body),
            None => None,
        },
        Lookup::Lead(flight) => Some(flight),
        Lookup::Bypass => None,
    };
    if state.query_cache.enabled() {
        metrics.query_cache_misses.increment(1);
    }
    let request = request.data(loaders::Loaders::new(&state.db));
    let (response, kind) = execute(state, request).await;
    let response = with_codes(response);
    let cacheable = kind == crate::ops::OperationKind::Query
        && response.is_ok()
        && response.http_headers.is_empty()
        && response.cache_control.value().is_none();
    match flight {
        Some(flight) if cacheable => {
            let body = axum::body::Bytes::from(serde_json::to_vec(&response).unwrap_or_default());
            flight.land(body.clone());
            json_response(body)
        }
        _ => GraphQLResponse::from(response).into_response(),
    }
}

/// An answer computed for an identical request at the same head.
fn cached(state: &AppState, body: axum::body::Bytes) -> Response {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    timing.kind = crate::ops::OperationKind::Query;
    state.metrics.query_cache_hits.increment(1);
    json_response(body)
}

/// A successful GraphQL response body, as async-graphql-axum would send it.
fn json_response(body: axum::body::Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/graphql-response+json"),
        )],
        body,
    )
        .into_response()
}

/// Executes a query or mutation: the document checks, one parse, execution, timed. Returns the
/// response and the operation's kind.
pub(crate) async fn execute(
    state: &AppState,
    mut request: async_graphql::Request,
) -> (async_graphql::Response, crate::ops::OperationKind) {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    match guard::prepare(&mut request, state.config.disable_introspection) {
        Ok(kind) => {
            timing.kind = kind;
            (state.schema.execute(request).await, kind)
        }
        Err(error) => (
            async_graphql::Response::from_errors(vec![error]),
            timing.kind,
        ),
    }
}

/// Executes any operation as a stream (subscriptions, and queries over WebSocket or SSE): the
/// document checks, one parse, execution; its lifetime is timed.
pub(crate) fn execute_stream(
    state: &AppState,
    mut request: async_graphql::Request,
) -> futures::stream::BoxStream<'static, async_graphql::Response> {
    use futures::StreamExt;
    let mut timing = instrument::Timing::start(state.metrics.clone());
    let responses = match guard::prepare(&mut request, state.config.disable_introspection) {
        Ok(kind) => {
            timing.kind = kind;
            state.schema.execute_stream(request)
        }
        Err(error) => {
            futures::stream::once(async move { async_graphql::Response::from_errors(vec![error]) })
                .boxed()
        }
    };
    responses
        .map(move |response| {
            let _timing = &timing;
            response
        })
        .boxed()
}

/// A POSTed GraphQL request and its cache key (its bytes). The body is read under
/// `--max-body-bytes` (413 past it, with or without `Content-Length`), as JSON.
async fn read_post(
    state: &AppState,
    request: Request,
) -> Result<(async_graphql::Request, Vec<u8>), Response> {
    let (parts, body) = request.into_parts();
    let limit = state.config.max_body_bytes;
    let bytes = crate::webhook::read_body(body, limit, content_length(&parts.headers))
        .await
        .map_err(|e| match e {
            crate::error::HttpError::PayloadTooLarge(limit) => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::bad_input(format!(
                    "the request body is larger than the {limit}-byte limit"
                )),
            ),
            other => other.into_response(),
        })?;
    let batch: async_graphql::BatchRequest = serde_json::from_slice(&bytes).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input(format!(
                "the body is not a GraphQL request (JSON with a `query`): {e}"
            )),
        )
    })?;
    let request = batch.into_single().map_err(|_| {
        error_response(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input("batched requests are not supported; send one operation"),
        )
    })?;
    if request.query.trim().is_empty() {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input("the request has no `query`"),
        ));
    }
    Ok((request, [b"P", &bytes[..]].concat()))
}

/// The declared body length, if any.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A GraphQL-shaped error body (`{"errors": [...]}` with `extensions.code`) with `status`.
pub(crate) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let error: async_graphql::Error = error.into();
    let body = async_graphql::Response::from_errors(vec![
        error.into_server_error(async_graphql::Pos::default()),
    ]);
    let mut response = (status, GraphQLResponse::from(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
    response
}

/// Gives every error an `extensions.code`: errors from parsing and validation (syntax, unknown
/// fields, depth and complexity limits) are the client's and become `BAD_USER_INPUT`.
pub(crate) fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    response
}

fn accepts(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(media))
}

/// A browser asking for the page, not a client sending a query.
fn wants_graphiql(headers: &HeaderMap, query: Option<&str>) -> bool {
    let html = accepts(headers, "text/html");
    let has_query = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("query=")));
    html && !has_query
}

/// True when no token is configured or the request carries one of them.
pub fn authorised(config: &Config, headers: &HeaderMap) -> bool {
    if config.api_tokens.is_empty() {
        return true;
    }
    token_matches(&config.api_tokens, bearer(headers).unwrap_or_default())
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// The token of an `Authorization` value `Bearer <token>` (the scheme in any case, RFC 9110
/// 11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Constant-time comparison against every configured token. Both sides are hashed first, so
/// neither the time taken nor an early length mismatch tells an attacker anything about a
/// token's length or content.
pub fn token_matches(tokens: &[String], given: &str) -> bool {
    use sha2::{Digest, Sha256};
    let given = Sha256::digest(given.as_bytes());
    let mut ok = subtle::Choice::from(0u8);
    for token in tokens {
        ok |= Sha256::digest(token.as_bytes()).ct_eq(&given);
    }
    ok.into()
}

//! `/graphql` over plain HTTP: GET and POST, GraphiQL for browsers, the query cache, and the
//! hand-over to SSE (`Accept: text/event-stream`) or WebSocket (an upgrade).

use super::execute::{execute, with_codes};
use super::{
    GraphqlState,
    auth::{authorised, foreign_origin, origin_allowed},
    cache, graphiql, instrument, loaders, sse, ws,
};
use crate::error::ApiError;
use crate::metrics::OperationKind;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    extract::{FromRequest, FromRequestParts, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

pub(super) async fn graphql(State(state): State<GraphqlState>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let (mut parts, _) = request.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(State(state), parts.headers, upgrade).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    if request.method() == Method::GET && wants_graphiql(request.headers(), request.uri().query()) {
        return graphiql::page(request.headers());
    }
    if !authorised(&state.config, request.headers()) {
        return ApiError::response_with(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    }
    let streaming = accepts(request.headers(), "text/event-stream");
    if streaming && !origin_allowed(&state.config, request.headers()) {
        return foreign_origin();
    }
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let get_key = request.uri().query().map(|q| [b"G", q.as_bytes()].concat());
    let parsed = if request.method() == Method::POST {
        read_post(&state, request).await
    } else {
        <GraphQLRequest as FromRequest<GraphqlState>>::from_request(request, &state)
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
async fn answer(state: &GraphqlState, request: async_graphql::Request, key: Vec<u8>) -> Response {
    use cache::Decision;
    let metrics = &state.metrics;
    // Read before executing: the answer is then at least as new as this head.
    let head = match state.query_cache.enabled() {
        true => crate::store::queries::head(&state.db)
            .await
            .ok()
            .map(|stored| cache::Version {
                database: stored.database,
                generation: state.feed.generation(),
                seq: stored.seq,
            }),
        false => None,
    };
    let lookup = |head: &Option<cache::Version>| match head {
        Some(h) => state.query_cache.lookup(h, &key),
        None => Decision::Bypass,
    };
    let mut decision = lookup(&head);
    let flight = loop {
        match decision {
            Decision::Hit(body) => return cached(state, body),
            Decision::Follow(rx) => match cache::follow(rx).await {
                Some(body) => return cached(state, body),
                // The request executing for us went away without an answer (its client
                // disconnected): look again, so that one of the waiting takes over.
                None => decision = lookup(&head),
            },
            Decision::Lead(flight) => break Some(flight),
            Decision::Bypass => break None,
        }
    };
    if state.query_cache.enabled() {
        metrics.query_cache_misses.increment(1);
    }
    let request = request.data(loaders::Loaders::new(&state.db));
    let (response, kind) = execute(state, request).await;
    let response = with_codes(response);
    let plain = response.http_headers.is_empty() && response.cache_control.value().is_none();
    let Some(flight) = flight.filter(|_| plain) else {
        return GraphQLResponse::from(response).into_response();
    };
    let body = axum::body::Bytes::from(serde_json::to_vec(&response).unwrap_or_default());
    if kind == OperationKind::Query && response.is_ok() {
        flight.land(body.clone());
    } else {
        // Errors are not kept, but those already waiting get the same answer.
        flight.share(body.clone());
    }
    json_response(body)
}

/// An answer computed for an identical request at the same head.
fn cached(state: &GraphqlState, body: axum::body::Bytes) -> Response {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    timing.kind = OperationKind::Query;
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

/// A POSTed GraphQL request and its cache key (its bytes). The body is read under
/// `--max-body-bytes` (413 past it, with or without `Content-Length`), as JSON.
async fn read_post(
    state: &GraphqlState,
    request: Request,
) -> Result<(async_graphql::Request, Vec<u8>), Response> {
    let (parts, body) = request.into_parts();
    let bytes = crate::body::read(body, &parts.headers, state.config.max_body_bytes)
        .await
        .map_err(|e| match e {
            crate::error::HttpError::PayloadTooLarge(limit) => ApiError::response_with(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::bad_input(format!(
                    "the request body is larger than the {limit}-byte limit"
                )),
            ),
            other => other.into_response(),
        })?;
    let batch: async_graphql::BatchRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::response_with(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input(format!(
                "the body is not a GraphQL request (JSON with a `query`): {e}"
            )),
        )
    })?;
    let request = batch.into_single().map_err(|_| {
        ApiError::response_with(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input("batched requests are not supported; send one operation"),
        )
    })?;
    if request.query.trim().is_empty() {
        return Err(ApiError::response_with(
            StatusCode::BAD_REQUEST,
            ApiError::bad_input("the request has no `query`"),
        ));
    }
    Ok((request, [b"P", &bytes[..]].concat()))
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

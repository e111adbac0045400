//! GraphQL out: the schema and its HTTP routes (`/graphql`, GraphiQL for browsers).

pub mod connection;
pub mod hub;
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

/// The schema with its data and limits.
pub fn schema(db: DatabaseConnection, feed: crate::feed::Feed, config: &Config) -> AppSchema {
    Schema::build(query::Query, EmptyMutation, subscription::Subscription)
        .data(db)
        .data(feed)
        .limit_depth(config.query_depth)
        .limit_complexity(config.query_complexity)
        .finish()
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
        let error: async_graphql::Error = ApiError::Unauthenticated.into();
        let body = async_graphql::Response::from_errors(vec![
            error.into_server_error(async_graphql::Pos::default()),
        ]);
        return (StatusCode::UNAUTHORIZED, GraphQLResponse::from(body)).into_response();
    }
    let streaming = accepts(request.headers(), "text/event-stream");
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match <GraphQLRequest as FromRequest<AppState>>::from_request(request, &state).await {
        Ok(req) if streaming => sse::respond(state, req.into_inner(), last_event_id),
        Ok(req) => {
            let request = req.into_inner().data(loaders::Loaders::new(&state.db));
            GraphQLResponse::from(with_codes(state.schema.execute(request).await)).into_response()
        }
        Err(rejection) => rejection.into_response(),
    }
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
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Constant-time comparison against every configured token.
pub fn token_matches(tokens: &[String], given: &str) -> bool {
    let mut ok = subtle::Choice::from(0u8);
    for token in tokens {
        ok |= token.as_bytes().ct_eq(given.as_bytes());
    }
    ok.into()
}

//! GraphQL over WebSocket: `graphql-transport-ws` (the graphql-ws library's protocol) and the
//! legacy `graphql-ws` (subscriptions-transport-ws), chosen by `Sec-WebSocket-Protocol`.
//!
//! Written here rather than taken from async-graphql-axum 7.x, whose handler breaks the
//! graphql-transport-ws protocol: it has no connection-init timeout (4408), closes 1011 instead
//! of 4401 on a subscribe before `connection_ack`, silently replaces a duplicate operation id
//! instead of closing 4409, sends close reasons over the 123-byte limit, answers validation
//! errors with `next`+`complete` instead of one `error`, closes 1002 instead of 4403 when
//! `connection_init` is refused, and never pings. async-graphql still executes every operation.
//!
//! `protocol` holds everything the two sub-protocols do differently; `connection` is the state
//! machine of one socket; `operation` runs (or relays) one operation's results.

mod connection;
mod operation;
mod protocol;

use super::GraphqlState;
use axum::extract::ws::WebSocketUpgrade;
use axum::{extract::State, http::HeaderMap, response::Response};
use connection::Connection;
use protocol::Protocol;
use tracing::Instrument;

/// `GET /graphql` (or `/graphql/ws`) with an upgrade.
pub async fn upgrade(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !super::auth::origin_allowed(&state.config, &headers) {
        return super::auth::foreign_origin();
    }
    let limit = state.config.max_body_bytes;
    let ws = ws
        .protocols(Protocol::NAMES)
        // Small buffers: thousands of mostly idle subscribers must stay cheap.
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_message_size(limit)
        .max_frame_size(limit);
    let protocol = Protocol::chosen(ws.selected_protocol().and_then(|p| p.to_str().ok()));
    let header_ok = super::auth::bearer(&headers)
        .is_some_and(|t| super::auth::token_matches(&state.config.api_tokens, t));
    // The connection outlives the request; it keeps the request's span (and id) in its logs.
    let span = tracing::Span::current();
    ws.on_upgrade(move |socket| {
        Connection::run(socket, protocol, state, header_ok).instrument(span)
    })
}

//! One operation's results on a WebSocket: executed for this subscriber alone, or relayed from
//! a shared execution (`hub`).

use super::protocol::Protocol;
use crate::error::ApiError;
use crate::graphql::GraphqlState;
use crate::graphql::hub::{Frame, Joined};
use crate::metrics::Transport;
use async_graphql::Request;
use axum::extract::ws::Message;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// Runs one operation, sending its results; a result with errors and no data ends it with one
/// `error` message.
pub(super) async fn operate(
    state: GraphqlState,
    protocol: Protocol,
    id: String,
    request: Request,
    out: mpsc::Sender<Message>,
) {
    let frames = state.metrics.frames(Transport::WebSocket).clone();
    let mut responses = crate::graphql::execute::execute_stream(&state, request);
    let mut failed = false;
    while let Some(response) = responses.next().await {
        let response = crate::graphql::execute::with_codes(response);
        let message = if crate::graphql::execute::is_failure(&response) {
            failed = true;
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            json!({"type": "error", "id": id, "payload": errors})
        } else {
            json!({"type": protocol.next(), "id": id, "payload": response})
        };
        if out
            .send(Message::Text(message.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
        if !failed {
            frames.increment(1);
        }
        if failed {
            break;
        }
    }
    if !failed || protocol.completes_after_error() {
        let _ = out
            .send(Message::Text(
                json!({"type": "complete", "id": id}).to_string().into(),
            ))
            .await;
    }
}

/// Relays a shared subscription's frames to one subscriber.
pub(super) async fn forward(
    protocol: Protocol,
    id: String,
    mut joined: Joined,
    out: mpsc::Sender<Message>,
    frames: metrics::Counter,
) {
    let quoted = serde_json::to_string(&id).unwrap_or_default();
    let next = protocol.next();
    let complete = format!(r#"{{"type":"complete","id":{quoted}}}"#);
    let mut last = joined.resume;
    loop {
        // (frame, ends, is an error)
        let (text, ends, failed) = match joined.frames.recv().await {
            Ok(frame) => match &*frame {
                Frame::Next { payload, cursor } => {
                    if let Some(cursor) = cursor {
                        last.clone_from(cursor);
                    }
                    (
                        format!(r#"{{"type":"{next}","id":{quoted},"payload":{payload}}}"#),
                        false,
                        false,
                    )
                }
                Frame::Error(errors) => (
                    format!(r#"{{"type":"error","id":{quoted},"payload":{errors}}}"#),
                    true,
                    true,
                ),
                Frame::Complete => (complete.clone(), true, false),
            },
            Err(RecvError::Lagged(_)) => {
                let errors = vec![ApiError::SlowConsumer(last.clone()).into_server_error()];
                let errors = serde_json::to_string(&errors).unwrap_or_default();
                (
                    format!(r#"{{"type":"error","id":{quoted},"payload":{errors}}}"#),
                    true,
                    true,
                )
            }
            Err(RecvError::Closed) => (complete.clone(), true, false),
        };
        if out.send(Message::Text(text.into())).await.is_err() {
            break;
        }
        if !ends {
            frames.increment(1);
        }
        if ends {
            // subscriptions-transport-ws ends an operation with `complete` even after `error`.
            if failed && protocol.completes_after_error() {
                let _ = out.send(Message::Text(complete.clone().into())).await;
            }
            break;
        }
    }
}

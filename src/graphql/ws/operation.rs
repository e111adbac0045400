//! One operation's messages on a WebSocket, as a stream the connection writes out: executed for
//! this subscriber alone, or relayed from a shared execution (`hub`). Each stream ends with the
//! operation's last message (`complete`, or `error`, then `complete` where the protocol wants
//! it); the connection drops a stream to stop its operation.

use super::protocol::Protocol;
use crate::error::ApiError;
use crate::graphql::GraphqlState;
use crate::graphql::hub::{Frame, Joined};
use crate::metrics::Transport;
use async_graphql::Request;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

/// The messages of one operation, serialised.
pub(super) type Messages = BoxStream<'static, String>;

/// Runs one operation; a result with errors and no data ends it with one `error` message.
/// `held` (its permit and gauge) is released when the stream is dropped.
pub(super) fn execute(
    state: &GraphqlState,
    protocol: Protocol,
    id: String,
    request: Request,
    held: impl Send + 'static,
) -> Messages {
    use crate::graphql::execute::{execute_stream, is_failure, with_codes};
    let frames = state.metrics.frames(Transport::WebSocket).clone();
    let complete = completion(&id);
    // `None` marks the end of the results, which is answered with `complete`.
    let results = execute_stream(state, request)
        .map(Some)
        .chain(stream::once(std::future::ready(None)));
    results
        .scan(false, move |ended, result| {
            if *ended {
                return std::future::ready(None);
            }
            let messages = match result.map(with_codes) {
                Some(response) if !is_failure(&response) => {
                    frames.increment(1);
                    let next = protocol.next();
                    vec![json!({"type": next, "id": id, "payload": response}).to_string()]
                }
                Some(failure) => {
                    *ended = true;
                    let errors = serde_json::to_value(&failure.errors).unwrap_or(Value::Null);
                    let error = json!({"type": "error", "id": id, "payload": errors});
                    let mut messages = vec![error.to_string()];
                    // subscriptions-transport-ws ends an operation with `complete` even after
                    // `error`.
                    if protocol.completes_after_error() {
                        messages.push(complete.clone());
                    }
                    messages
                }
                None => {
                    *ended = true;
                    vec![complete.clone()]
                }
            };
            std::future::ready(Some(stream::iter(messages)))
        })
        .flatten()
        .chain(released(held))
        .boxed()
}

/// Relays a shared subscription's frames to one subscriber. A subscriber that falls behind the
/// shared queue (its socket takes frames more slowly than they come) ends with a resumable
/// `SLOW_CONSUMER` error carrying the last cursor it was sent.
pub(super) fn relay(
    protocol: Protocol,
    id: &str,
    joined: Joined,
    frames: metrics::Counter,
    held: impl Send + 'static,
) -> Messages {
    let quoted = serde_json::to_string(id).unwrap_or_default();
    let relay = Relay {
        next: protocol.next(),
        complete: completion(id),
        completes_after_error: protocol.completes_after_error(),
        last: joined.resume.clone(),
        quoted,
        joined,
        frames,
        pending: None,
        ended: false,
    };
    stream::unfold(relay, |mut relay| async move {
        let message = relay.message().await?;
        Some((message, relay))
    })
    .chain(released(held))
    .boxed()
}

/// A shared subscription's state for one subscriber.
struct Relay {
    next: &'static str,
    complete: String,
    completes_after_error: bool,
    quoted: String,
    /// The cursor of the last frame sent: where a slow subscriber resumes.
    last: String,
    joined: Joined,
    frames: metrics::Counter,
    /// A message owed after the one just sent (`complete` after `error`, legacy protocol).
    pending: Option<String>,
    ended: bool,
}

impl Relay {
    async fn message(&mut self) -> Option<String> {
        if let Some(message) = self.pending.take() {
            return Some(message);
        }
        if self.ended {
            return None;
        }
        let quoted = &self.quoted;
        let (text, failed) = match self.joined.frames.recv().await {
            Ok(frame) => match &*frame {
                Frame::Next { payload, cursor } => {
                    if let Some(cursor) = cursor {
                        self.last.clone_from(cursor);
                    }
                    self.frames.increment(1);
                    let next = self.next;
                    return Some(format!(
                        r#"{{"type":"{next}","id":{quoted},"payload":{payload}}}"#
                    ));
                }
                Frame::Error(errors) => (error_message(quoted, errors), true),
                Frame::Complete => (self.complete.clone(), false),
            },
            Err(RecvError::Lagged(_)) => {
                let errors = vec![ApiError::SlowConsumer(self.last.clone()).into_server_error()];
                let errors = serde_json::to_string(&errors).unwrap_or_default();
                (error_message(quoted, &errors), true)
            }
            Err(RecvError::Closed) => (self.complete.clone(), false),
        };
        self.ended = true;
        // subscriptions-transport-ws ends an operation with `complete` even after `error`.
        if failed && self.completes_after_error {
            self.pending = Some(self.complete.clone());
        }
        Some(text)
    }
}

fn error_message(quoted_id: &str, errors: &str) -> String {
    format!(r#"{{"type":"error","id":{quoted_id},"payload":{errors}}}"#)
}

fn completion(id: &str) -> String {
    json!({"type": "complete", "id": id}).to_string()
}

/// An empty stream that owns `held` until it is polled to its end or dropped.
fn released<T: Send + 'static>(held: impl Send + 'static) -> impl futures::Stream<Item = T> {
    stream::once(async move {
        drop(held);
    })
    .filter_map(|()| std::future::ready(None))
}

//! One WebSocket connection: the handshake (`connection_init`, tokens, its timeout), pings,
//! the operations it runs and how it closes.

use super::operation::{forward, operate};
use super::protocol::{Command, Protocol};
use crate::error::ApiError;
use crate::graphql::GraphqlState;
use crate::graphql::hub::Hub;
use crate::graphql::loaders::Loaders;
use crate::graphql::persisted::Sent;
use crate::metrics::{GaugeGuard, Transport};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::{collections::HashMap, time::Duration};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

/// Frames queued for one connection before its operations wait (and a subscription that waits
/// too long falls behind the feed and ends with a resumable error).
const OUT_QUEUE: usize = 32;

pub(super) struct Connection {
    protocol: Protocol,
    state: GraphqlState,
    out: mpsc::Sender<Message>,
    acked: bool,
    header_ok: bool,
    /// The operations running, by id; a task's id tells which one ended (an id may be reused
    /// once completed, so the handle, not the id, is what a finished task is matched by).
    operations: HashMap<String, AbortHandle>,
    /// Their tasks: aborted when the connection ends.
    running: JoinSet<()>,
}

/// Why the server ends a connection.
struct Close(u16, String);

impl Connection {
    pub(super) async fn run(
        socket: WebSocket,
        protocol: Protocol,
        state: GraphqlState,
        header_ok: bool,
    ) {
        let (mut sink, mut incoming) = socket.split();
        let (out, mut outgoing) = mpsc::channel::<Message>(OUT_QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
            // Flushes the Close reply the library queues when the client closes first
            // (RFC 6455 5.5.1); without it clients see 1006 instead of their own code.
            let _ = sink.close().await;
        });
        let _open = GaugeGuard::hold(&state.metrics.ws_connections);
        let mut shutdown = state.shutdown.clone();
        let init_deadline = tokio::time::sleep(state.config.ws_init_timeout);
        tokio::pin!(init_deadline);
        let mut ping = tokio::time::interval(state.config.ws_ping_interval);
        ping.tick().await;
        let mut conn = Connection {
            protocol,
            state,
            out,
            acked: false,
            header_ok,
            operations: HashMap::new(),
            running: JoinSet::new(),
        };
        let close = loop {
            tokio::select! {
                frame = incoming.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        // Boxed: an idle connection's task then holds no room for handling a
                        // message (thousands of idle subscribers; BENCHMARKS.md).
                        if let Err(close) = Box::pin(conn.on_text(text.as_str())).await {
                            break Some(close);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => break Some(Close(4400, "binary frames are not part of the protocol".into())),
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(error)) => break read_failure(&error),
                    Some(Ok(_)) => {} // ping/pong frames are answered by the library
                },
                () = &mut init_deadline, if !conn.acked => break Some(Close(4408, "Connection initialisation timeout".into())),
                _ = ping.tick(), if conn.acked => conn.send(conn.protocol.keep_alive()).await,
                Some(ended) = conn.running.join_next_with_id() => {
                    let task = match ended { Ok((task, ())) => task, Err(error) => error.id() };
                    conn.operations.retain(|_, operation| operation.id() != task);
                }
                _ = shutdown.changed() => break Some(Close(1001, "server shutting down; reconnect and resume".into())),
            }
        };
        conn.running.abort_all();
        if let Some(Close(code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(truncate(&reason, 123)),
            };
            let _ = conn.out.send(Message::Close(Some(frame))).await;
        }
        drop(conn);
        let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    }

    async fn send(&self, message: Value) {
        let _ = self
            .out
            .send(Message::Text(message.to_string().into()))
            .await;
    }

    /// Ends operation `id` at once with one GraphQL error (a limit refused it); the connection
    /// and its other operations go on.
    async fn refuse(&self, id: &str, message: String) {
        self.fail(
            id,
            ApiError::TooManySubscriptions(message).into_server_error(),
        )
        .await;
    }

    /// Ends operation `id` at once with `error`, before it ran.
    async fn fail(&self, id: &str, error: async_graphql::ServerError) {
        self.send(json!({"type": "error", "id": id, "payload": [error]}))
            .await;
        if self.protocol.completes_after_error() {
            self.send(json!({"type": "complete", "id": id})).await;
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Close> {
        let message: Value = serde_json::from_str(text)
            .map_err(|e| Close(4400, format!("Invalid message received: {e}")))?;
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = message.get("id").and_then(Value::as_str).map(str::to_owned);
        match self.protocol.command(kind) {
            Some(Command::Init) => self.on_init(message.get("payload")).await,
            Some(Command::Ping) => {
                self.send(json!({"type": "pong"})).await;
                Ok(())
            }
            Some(Command::Pong) => Ok(()),
            Some(Command::Subscribe) => {
                let id = id.ok_or_else(|| {
                    Close(
                        4400,
                        "Invalid message received: the operation has no `id`".into(),
                    )
                })?;
                self.on_subscribe(id, message.get("payload").cloned().unwrap_or(Value::Null))
                    .await
            }
            Some(Command::Complete) => {
                if let Some(operation) = id.and_then(|id| self.operations.remove(&id)) {
                    operation.abort();
                }
                Ok(())
            }
            Some(Command::Terminate) => Err(Close(1000, "terminated".into())),
            None => Err(Close(
                4400,
                format!("Invalid message received: unexpected type `{kind}`"),
            )),
        }
    }

    async fn on_init(&mut self, payload: Option<&Value>) -> Result<(), Close> {
        if self.acked {
            return Err(Close(4429, "Too many initialisation requests".into()));
        }
        let tokens = &self.state.config.api_tokens;
        let given = payload.and_then(|p| {
            let header = ["Authorization", "authorization"]
                .iter()
                .find_map(|k| p.get(*k)?.as_str());
            header
                .and_then(crate::graphql::auth::bearer_token)
                .or_else(|| p.get("authToken")?.as_str())
        });
        let allowed = tokens.is_empty()
            || self.header_ok
            || given.is_some_and(|t| crate::graphql::auth::token_matches(tokens, t));
        if !allowed {
            if let Some(message) = self.protocol.init_refused() {
                self.send(message).await;
            }
            return Err(Close(4403, "Forbidden".into()));
        }
        self.acked = true;
        self.send(json!({"type": "connection_ack"})).await;
        if let Some(message) = self.protocol.after_ack() {
            self.send(message).await;
        }
        Ok(())
    }

    async fn on_subscribe(&mut self, id: String, payload: Value) -> Result<(), Close> {
        if !self.acked {
            return Err(Close(4401, "Unauthorized".into()));
        }
        if self.operations.contains_key(&id) {
            return Err(Close(4409, format!("Subscriber for {id} already exists")));
        }
        let sent: Sent = serde_json::from_value(payload)
            .map_err(|e| Close(4400, format!("Invalid message received: {e}")))?;
        let request = match self.state.persisted.resolve(sent) {
            Ok(request) => request,
            Err(error) => {
                self.fail(&id, error).await;
                return Ok(());
            }
        };
        let limit = self.state.config.max_subscriptions_per_connection;
        let permit =
            if self.operations.len() >= limit {
                Err(format!(
                    "this connection already runs {limit} operations, its limit; complete one first"
                ))
            } else {
                self.state.subscriptions.clone().try_acquire_owned().map_err(|_| {
                "this server runs as many subscriptions as it allows; retry later or elsewhere"
                    .to_owned()
            })
            };
        let permit = match permit {
            Ok(permit) => permit,
            Err(message) => {
                self.state.metrics.subscriptions_refused.increment(1);
                self.refuse(&id, message).await;
                return Ok(());
            }
        };
        let active = GaugeGuard::hold(self.state.metrics.active(Transport::WebSocket));
        let held = (permit, active);
        let (state, out) = (self.state.clone(), self.out.clone());
        let (protocol, op_id) = (self.protocol, id.clone());
        let operation = match Hub::key(&request) {
            Some(key) => {
                let joined = state
                    .hub
                    .join(&state, key, request, state.config.subscriber_queue);
                let frames = state.metrics.frames(Transport::WebSocket).clone();
                self.running.spawn(async move {
                    forward(protocol, op_id, joined, out, frames).await;
                    drop(held);
                })
            }
            None => {
                let request = request.data(Loaders::new(&state.db));
                self.running.spawn(async move {
                    operate(state, protocol, op_id, request, out).await;
                    drop(held);
                })
            }
        };
        self.operations.insert(id, operation);
        Ok(())
    }
}

/// How a failed read ends the connection: a message over `--max-body-bytes` is closed with 1009
/// (RFC 6455 "message too big"), any other broken frame with 1002.
fn read_failure(error: &axum::Error) -> Option<Close> {
    let text = error.to_string();
    tracing::debug!(error = %text, "websocket read failed");
    // axum does not re-export tungstenite's error type, so the capacity error is told by its
    // text ("Space limit exceeded: Message too long: … > …").
    if text.contains("too long") || text.contains("Space limit") {
        Some(Close(1009, "message too big".into()))
    } else if text.contains("Connection reset") || text.contains("closed") {
        None
    } else {
        Some(Close(1002, "protocol error".into()))
    }
}

/// At most `max` bytes of `text`, cut on a character boundary (close reasons must fit 123).
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn close_reasons_fit_and_stay_utf8() {
        let long = "é".repeat(100);
        let cut = truncate(&long, 123);
        assert!(cut.len() <= 123 && cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short", 123), "short");
    }
}

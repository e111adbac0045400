//! One WebSocket connection: the handshake (`connection_init`, tokens, its timeout), pings,
//! the operations it runs and how it closes.

use super::operation::{self, Messages};
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
use std::time::Duration;
use tokio_stream::StreamMap;

/// How long one frame may wait for the client to take it before the connection is dropped (a
/// client that reads nothing for this long is gone or stuck; its subscriptions have lagged
/// long before).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One socket and everything it runs. It is one task: the socket is read and written here, and
/// each operation is a stream of messages polled here, so an idle subscriber costs this task's
/// future, the socket's buffers and its operations' queue slots (BENCHMARKS.md, memory per idle
/// subscriber). A client that reads slowly holds up this task's writes; the operations it
/// receives from a shared execution then fall behind that execution's queue and end with a
/// resumable `SLOW_CONSUMER` error.
pub(super) struct Connection {
    protocol: Protocol,
    state: GraphqlState,
    socket: WebSocket,
    acked: bool,
    header_ok: bool,
    /// The operations running, by id; a stream that ends is removed, so its id can be used
    /// again.
    operations: StreamMap<String, Messages>,
}

/// Why a connection ends.
enum End {
    /// The server closes it with this code and reason.
    Close(u16, String),
    /// The client closed it, or the socket failed or stalled: nothing more is written.
    Gone,
}

impl Connection {
    pub(super) async fn run(
        socket: WebSocket,
        protocol: Protocol,
        state: GraphqlState,
        header_ok: bool,
    ) {
        let _open = GaugeGuard::hold(&state.metrics.ws_connections);
        let mut shutdown = state.shutdown.clone();
        let init_deadline = tokio::time::sleep(state.config.ws_init_timeout);
        tokio::pin!(init_deadline);
        let mut ping = tokio::time::interval(state.config.ws_ping_interval);
        ping.tick().await;
        let mut conn = Connection {
            protocol,
            state,
            socket,
            acked: false,
            header_ok,
            operations: StreamMap::new(),
        };
        let end = loop {
            tokio::select! {
                frame = conn.socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        // Boxed: an idle connection's task then holds no room for handling a
                        // message (thousands of idle subscribers; BENCHMARKS.md).
                        if let Err(end) = Box::pin(conn.on_text(text.as_str())).await {
                            break end;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => break End::Close(4400, "binary frames are not part of the protocol".into()),
                    Some(Ok(Message::Close(_))) | None => break End::Gone,
                    Some(Err(error)) => break read_failure(&error),
                    Some(Ok(_)) => {} // ping/pong frames are answered by the library
                },
                Some((_, message)) = conn.operations.next() => {
                    if let Err(end) = conn.send_text(message).await {
                        break end;
                    }
                }
                () = &mut init_deadline, if !conn.acked => break End::Close(4408, "Connection initialisation timeout".into()),
                _ = ping.tick(), if conn.acked => {
                    if let Err(end) = conn.send(conn.protocol.keep_alive()).await {
                        break end;
                    }
                }
                _ = shutdown.changed() => break End::Close(1001, "server shutting down; reconnect and resume".into()),
            }
        };
        // Stops the operations (and releases their permits) before the goodbye is written.
        conn.operations = StreamMap::new();
        let mut socket = conn.socket;
        let goodbye = async move {
            if let End::Close(code, reason) = end {
                let reason = Utf8Bytes::from(truncate(&reason, 123));
                let _ = socket
                    .send(Message::Close(Some(CloseFrame { code, reason })))
                    .await;
            }
            // Flushes the Close reply the library queues when the client closes first (RFC 6455
            // 5.5.1); without it clients see 1006 instead of their own code.
            let _ = socket.close().await;
        };
        // A client that takes nothing does not hold the connection (or a shutdown) for long.
        let _ = tokio::time::timeout(Duration::from_secs(5), goodbye).await;
    }

    /// Writes one message, or gives up on a client that has not taken it in `WRITE_TIMEOUT`.
    async fn write(&mut self, message: Message) -> Result<(), End> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(End::Gone),
        }
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.write(Message::Text(text.into())).await
    }

    async fn send(&mut self, message: Value) -> Result<(), End> {
        self.send_text(message.to_string()).await
    }

    /// Ends operation `id` at once with one GraphQL error (a limit refused it); the connection
    /// and its other operations go on.
    async fn refuse(&mut self, id: &str, message: String) -> Result<(), End> {
        let error = ApiError::TooManySubscriptions(message).into_server_error();
        self.fail(id, error).await
    }

    /// Ends operation `id` at once with `error`, before it ran.
    async fn fail(&mut self, id: &str, error: async_graphql::ServerError) -> Result<(), End> {
        self.send(json!({"type": "error", "id": id, "payload": [error]}))
            .await?;
        if self.protocol.completes_after_error() {
            self.send(json!({"type": "complete", "id": id})).await?;
        }
        Ok(())
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        let message: Value = serde_json::from_str(text)
            .map_err(|e| End::Close(4400, format!("Invalid message received: {e}")))?;
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = message.get("id").and_then(Value::as_str).map(str::to_owned);
        match self.protocol.command(kind) {
            Some(Command::Init) => self.on_init(message.get("payload")).await,
            Some(Command::Ping) => self.send(json!({"type": "pong"})).await,
            Some(Command::Pong) => Ok(()),
            Some(Command::Subscribe) => {
                let id = id.ok_or_else(|| {
                    End::Close(
                        4400,
                        "Invalid message received: the operation has no `id`".into(),
                    )
                })?;
                self.on_subscribe(id, message.get("payload").cloned().unwrap_or(Value::Null))
                    .await
            }
            Some(Command::Complete) => {
                // Dropping its stream stops the operation.
                if let Some(id) = id {
                    self.operations.remove(&id);
                }
                Ok(())
            }
            Some(Command::Terminate) => Err(End::Close(1000, "terminated".into())),
            None => Err(End::Close(
                4400,
                format!("Invalid message received: unexpected type `{kind}`"),
            )),
        }
    }

    async fn on_init(&mut self, payload: Option<&Value>) -> Result<(), End> {
        if self.acked {
            return Err(End::Close(4429, "Too many initialisation requests".into()));
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
                self.send(message).await?;
            }
            return Err(End::Close(4403, "Forbidden".into()));
        }
        self.acked = true;
        self.send(json!({"type": "connection_ack"})).await?;
        if let Some(message) = self.protocol.after_ack() {
            self.send(message).await?;
        }
        Ok(())
    }

    async fn on_subscribe(&mut self, id: String, payload: Value) -> Result<(), End> {
        if !self.acked {
            return Err(End::Close(4401, "Unauthorized".into()));
        }
        if self.operations.contains_key(&id) {
            return Err(End::Close(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        let sent: Sent = serde_json::from_value(payload)
            .map_err(|e| End::Close(4400, format!("Invalid message received: {e}")))?;
        let request = match self.state.persisted.resolve(sent) {
            Ok(request) => request,
            Err(error) => return self.fail(&id, error).await,
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
                return self.refuse(&id, message).await;
            }
        };
        let active = GaugeGuard::hold(self.state.metrics.active(Transport::WebSocket));
        let held = (permit, active);
        let state = &self.state;
        let operation = match Hub::key(&request) {
            Some(key) => {
                let queue = state.config.subscriber_queue;
                let joined = state.hub.join(state, key, request, queue);
                let frames = state.metrics.frames(Transport::WebSocket).clone();
                operation::relay(self.protocol, &id, joined, frames, held)
            }
            None => {
                let request = request.data(Loaders::new(&state.db));
                operation::execute(state, self.protocol, id.clone(), request, held)
            }
        };
        self.operations.insert(id, operation);
        Ok(())
    }
}

/// How a failed read ends the connection: a message over `--max-body-bytes` is closed with 1009
/// (RFC 6455 "message too big"), any other broken frame with 1002.
fn read_failure(error: &axum::Error) -> End {
    let text = error.to_string();
    tracing::debug!(error = %text, "websocket read failed");
    // axum does not re-export tungstenite's error type, so the capacity error is told by its
    // text ("Space limit exceeded: Message too long: … > …").
    if text.contains("too long") || text.contains("Space limit") {
        End::Close(1009, "message too big".into())
    } else if text.contains("Connection reset") || text.contains("closed") {
        End::Gone
    } else {
        End::Close(1002, "protocol error".into())
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

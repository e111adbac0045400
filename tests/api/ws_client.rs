//! A minimal WebSocket and SSE client for the subscription tests; every wait is bounded.

use crate::helpers::{TestApp, WAIT};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, protocol::frame::coding::CloseCode,
};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket connection speaking a GraphQL subprotocol.
pub struct WsClient {
    socket: Socket,
}

/// How the server ended a connection.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl WsClient {
    /// Connects to `path` offering `protocol`.
    pub async fn connect(app: &TestApp, path: &str, protocol: &str) -> WsClient {
        let mut request = format!("ws://{}{path}", app.addr)
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
        let (socket, response) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
                .await
                .expect("connects in time")
                .expect("connects");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol),
            "the server speaks the offered protocol"
        );
        WsClient { socket }
    }

    /// graphql-transport-ws, initialised and acknowledged.
    pub async fn ready(app: &TestApp) -> WsClient {
        let mut client = Self::connect(app, "/graphql", "graphql-transport-ws").await;
        client.send(json!({"type": "connection_init"})).await;
        assert_eq!(client.recv().await["type"], "connection_ack");
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next protocol message (pings are answered and skipped).
    pub async fn recv(&mut self) -> Value {
        self.recv_within(WAIT).await.expect("a message in time")
    }

    /// The next protocol message within `wait`, or `None`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Value> {
        // One deadline for the whole wait: server pings must not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match frame.expect("a frame") {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    match value["type"].as_str() {
                        Some("ping") => self.send(json!({"type": "pong"})).await,
                        Some("ka") => {}
                        _ => return Some(value),
                    }
                }
                Message::Close(frame) => panic!("closed while waiting for a message: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next text message as it is, pings included.
    pub async fn recv_any(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message in time");
            if let Message::Text(text) = frame.expect("open").expect("a frame") {
                return serde_json::from_str(&text).expect("JSON message");
            }
        }
    }

    /// Waits for the server to close the connection.
    pub async fn closed(&mut self) -> Closed {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("closes in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Closed {
                        code: u16::from(frame.code),
                        reason: frame.reason.to_string(),
                    };
                }
                Some(Ok(Message::Close(None))) | None => {
                    return Closed {
                        code: u16::from(CloseCode::Status),
                        reason: String::new(),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket error before close: {e}"),
            }
        }
    }

    /// Subscribes (graphql-transport-ws) with operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}})).await;
    }

    /// The payloads of the next `n` `next` messages for `id`.
    pub async fn next_n(&mut self, id: &str, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let message = self.recv().await;
            assert_eq!(message["id"], id, "{message}");
            assert_eq!(message["type"], "next", "{message}");
            out.push(message["payload"].clone());
        }
        out
    }
}

/// One server-sent event.
#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Opens an SSE subscription; `last_event_id` resumes.
pub async fn sse(app: &TestApp, query: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": query}));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.expect("answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    response
}

/// Reads events from an SSE response until `n` `next` events arrived.
pub async fn sse_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    n: usize,
) -> Vec<SseEvent> {
    let mut events = vec![];
    while events.len() < n {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = SseEvent::default();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event.event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    event.id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    event.data.push_str(v.trim_start());
                }
            }
            if event.event == "next" {
                events.push(event);
            }
        }
        if events.len() >= n {
            break;
        }
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("an event in time")
            .expect("reads");
        buffer.push_str(&String::from_utf8_lossy(
            &chunk.expect("the stream stays open"),
        ));
    }
    events
}

//! The fan-out bound: the least a server can do to deliver one small text frame to N WebSocket
//! connections, for `benches/subscribers.rs` to measure as it measures the gateway.
//!
//! One tokio task per connection and nothing else: a hand-read HTTP/1.1 request head, the
//! WebSocket handshake answered by hand (tungstenite's accept key) and the socket handed to
//! tokio-tungstenite with small buffers; just enough graphql-transport-ws for the load tool
//! (`connection_init` → `connection_ack`, one `subscribe`, `ping` → `pong`). A POST to any path
//! is a publication: the `data.publication.id` of its body (a Voucherify delivery, as the load
//! tool posts it) goes into one `next` frame of the shape the gateway sends for
//! `voucherAssigned { cursor node { id } }`, serialised once, handed to ONE
//! `tokio::sync::broadcast` as shared bytes, and then answered 200 (the analogue of a commit).
//! Each connection's task writes the shared frame to its socket (TCP_NODELAY; tungstenite copies
//! it into its write buffer, header first, for the one `write`). No signature, no storage, no
//! GraphQL, no per-connection queue, task or serialisation beyond that.
//!
//! Memory per idle connection is the task, tokio-tungstenite's state and tungstenite's read
//! buffer, which it zero-fills on the first read, so all of it is resident: 512 B by default,
//! as the gateway's (`--read-buffer-size` measures another size).
//!
//! Every subscriber gets the same frame, with operation id "1", the id every load-tool
//! subscriber subscribes with (the gateway writes each connection's own id into its frames);
//! a `subscribe` with another id is refused (close 4400) rather than answered with wrong frames.
//!
//! `cargo bench --bench fanout_bound -- --listen 127.0.0.1:18483 [--read-buffer-size 512]`
//! (benches/fanout_bound.sh runs it and the gateway under the same load tool).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{
    Message, Utf8Bytes,
    handshake::derive_accept_key,
    protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
};

struct Args {
    listen: String,
    /// tungstenite's read buffer per connection (allocated up front, kept while idle).
    read_buffer_size: usize,
    /// Frames the broadcast holds for a slow receiver.
    queue: usize,
}

fn args() -> Args {
    let mut args = Args {
        listen: "127.0.0.1:18483".into(),
        read_buffer_size: 512,
        queue: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--listen" => args.listen = value(),
            "--read-buffer-size" => {
                args.read_buffer_size = value().parse().unwrap_or(args.read_buffer_size).max(16);
            }
            "--queue" => args.queue = value().parse().unwrap_or(args.queue).max(1),
            _ => {} // `cargo bench` adds `--bench`
        }
    }
    args
}

/// What every connection shares.
struct Shared {
    frames: broadcast::Sender<Utf8Bytes>,
    config: WebSocketConfig,
    published: AtomicU64,
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let args = args();
    let listener = TcpListener::bind(&args.listen).await?;
    let config = WebSocketConfig::default()
        .read_buffer_size(args.read_buffer_size)
        // Each frame is written (one `write`) as soon as it is sent.
        .write_buffer_size(0);
    let shared = Arc::new(Shared {
        frames: broadcast::channel(args.queue).0,
        config,
        published: AtomicU64::new(0),
    });
    println!(
        "fanout bound listening on {} (read buffer {} B, write buffer 0 B, broadcast queue {})",
        listener.local_addr()?,
        args.read_buffer_size,
        args.queue
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, shared.clone()));
            }
            Err(error) => {
                // Out of file descriptors, most likely: say so and keep serving the others.
                eprintln!("accept: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The parts of a request head the bound looks at.
struct Head {
    method: String,
    upgrade: bool,
    key: Option<String>,
    protocol: bool,
    length: usize,
}

impl Head {
    fn parse(raw: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut lines = text.split("\r\n");
        let method = lines.next()?.split(' ').next()?.to_owned();
        let mut head = Head {
            method,
            upgrade: false,
            key: None,
            protocol: false,
            length: 0,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "upgrade" => head.upgrade = value.eq_ignore_ascii_case("websocket"),
                "sec-websocket-key" => head.key = Some(value.to_owned()),
                "sec-websocket-protocol" => {
                    head.protocol = value.split(',').any(|p| p.trim() == "graphql-transport-ws");
                }
                "content-length" => head.length = value.parse().ok()?,
                _ => {}
            }
        }
        Some(head)
    }
}

/// One accepted connection: HTTP requests (kept alive) until it upgrades to a WebSocket.
async fn connection(mut stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // On the heap, so the task does not carry a request buffer once it is a WebSocket.
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 16 * 1024 {
                return Ok(());
            }
            buf.reserve(1024);
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let Some(head) = Head::parse(&buf[..end]) else {
            stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        };
        if head.upgrade && head.method == "GET" {
            let Some(key) = head.key else { return Ok(()) };
            let accept = derive_accept_key(key.as_bytes());
            let protocol = if head.protocol {
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
            } else {
                ""
            };
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
                    )
                    .as_bytes(),
                )
                .await?;
            let early = buf.split_off(end);
            drop(buf);
            let socket = WebSocketStream::from_partially_read(
                stream,
                early,
                Role::Server,
                Some(shared.config),
            )
            .await;
            subscriber(socket, &shared.frames).await;
            return Ok(());
        }
        while buf.len() < end + head.length {
            buf.reserve(end + head.length - buf.len());
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
        let answer: &[u8] = match head.method.as_str() {
            "POST" => match publish(&buf[end..end + head.length], &shared) {
                Some(()) => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                None => b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            },
            // Readiness (and anything else, /metrics included) has nothing to say.
            _ => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        };
        stream.write_all(answer).await?;
        buf.drain(..end + head.length);
    }
}

/// Serialises the publication's frame once and hands it to the broadcast.
fn publish(body: &[u8], shared: &Shared) -> Option<()> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let id = value["data"]["publication"]["id"].as_str()?;
    let n = shared.published.fetch_add(1, Ordering::Relaxed) + 1;
    // The gateway's publication cursor: `@tag|p:seq:created_at:received_at:id`, base64url.
    let cursor = URL_SAFE_NO_PAD.encode(format!(
        "@bound000|p:{n}:1714557600000000:1714557600000000:{id}"
    ));
    let id = serde_json::to_string(id).ok()?;
    let frame = format!(
        r#"{{"type":"next","id":"1","payload":{{"data":{{"voucherAssigned":{{"cursor":"{cursor}","node":{{"id":{id}}}}}}}}}}}"#
    );
    // No receiver yet is not an error: nobody was subscribed.
    let _ = shared.frames.send(Utf8Bytes::from(frame));
    Some(())
}

/// One WebSocket: answers the handshake messages and writes every broadcast frame once it has
/// subscribed.
async fn subscriber(mut socket: WebSocketStream<TcpStream>, frames: &broadcast::Sender<Utf8Bytes>) {
    let mut receiver: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let out = tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or_default();
                    match value["type"].as_str() {
                        Some("connection_init") => Message::text(r#"{"type":"connection_ack"}"#),
                        Some("ping") => Message::text(r#"{"type":"pong"}"#),
                        Some("subscribe") if value["id"] == "1" && receiver.is_none() => {
                            receiver = Some(frames.subscribe());
                            continue;
                        }
                        Some("subscribe") => Message::Close(Some(CloseFrame {
                            code: CloseCode::Library(4400),
                            reason: "the bound serves one subscription, id 1".into(),
                        })),
                        _ => continue,
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            },
            frame = next(&mut receiver) => match frame {
                Ok(frame) => Message::Text(frame),
                // Counted by the load tool as frames missing.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
        };
        let closing = out.is_close();
        if socket.send(out).await.is_err() || closing {
            break;
        }
    }
}

/// The next frame once subscribed; never before.
async fn next(
    receiver: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, RecvError> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

//! Subscriber load: N graphql-transport-ws subscribers on a running gateway, deliveries posted
//! through the webhook, and the latency from each delivery to each subscriber's frame, the
//! gateway's memory per subscriber and the feed's SQL statements per event.
//!
//! `cargo bench --bench subscribers -- --target http://127.0.0.1:8080 --pid PID --subscribers 1000`
//! (benches/subscribers.sh starts the gateway and runs 1k, 5k and 10k).
//!
//! With `--hold`, it posts nothing: it connects the subscribers, prints how many connected, keeps
//! them reading until its standard input closes, then prints the frames and errors they received
//! (benches/ingest_fanout.sh runs `pubgate simulate` meanwhile). `--seed S --customers K` gives
//! subscriber i a filter on customer i mod K of `simulate --seed S --customers K`, as a client
//! following one customer's assignments would.

use futures::{SinkExt, StreamExt};
use pubgate::simulate::post;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

struct Args {
    target: String,
    secret: String,
    pid: u32,
    subscribers: usize,
    events: usize,
    interval_ms: u64,
    hold: bool,
    seed: u64,
    customers: Option<u64>,
}

fn args() -> Args {
    let mut args = Args {
        target: "http://127.0.0.1:8080".into(),
        secret: "bench-secret".into(),
        pid: 0,
        subscribers: 1000,
        events: 20,
        interval_ms: 250,
        hold: false,
        seed: 1,
        customers: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--target" => args.target = value(),
            "--secret" => args.secret = value(),
            "--pid" => args.pid = value().parse().unwrap_or(0),
            "--subscribers" => args.subscribers = value().parse().unwrap_or(1000),
            "--events" => args.events = value().parse().unwrap_or(20),
            "--interval-ms" => args.interval_ms = value().parse().unwrap_or(250),
            "--hold" => args.hold = true,
            "--seed" => args.seed = value().parse().unwrap_or(1),
            "--customers" => args.customers = value().parse().ok(),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

async fn feed_statements(client: &reqwest::Client, target: &str) -> f64 {
    let text = client.get(format!("{target}/metrics")).send().await.ok();
    let Some(text) = text else { return 0.0 };
    let text = text.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("pubgate_sql_statements_total{source=\"feed\"}"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

type Sent = Arc<Mutex<HashMap<String, (Instant, Instant)>>>;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection to `url` (None, said on stderr, when it fails).
async fn connect(url: String) -> Option<Socket> {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Some(socket),
        Err(error) => {
            eprintln!("connect failed: {error}");
            None
        }
    }
}

/// Starts `n` subscribers made by `start(i, ready)`, in waves so the listen backlog never
/// overflows; waits (at most 60 s between two) for their `connection_ack`s, then 2 s for
/// their subscriptions to start and memory to settle. Returns their tasks and how many were
/// acknowledged.
async fn start_all<T: Send + 'static>(
    n: usize,
    start: impl Fn(usize, tokio::sync::mpsc::Sender<()>) -> tokio::task::JoinHandle<T>,
) -> (Vec<tokio::task::JoinHandle<T>>, usize) {
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(1024);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tasks.push(start(i, ready_tx.clone()));
        if tasks.len() % 200 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(ready_tx);
    let mut acked = 0;
    while acked < n {
        match tokio::time::timeout(Duration::from_secs(60), ready.recv()).await {
            Ok(Some(())) => acked += 1,
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    (tasks, acked)
}

/// Connects, subscribes and records when each assignment arrived (matched to the send times
/// after the run, so subscribers share no lock while frames flow).
async fn subscriber(
    url: String,
    ready: tokio::sync::mpsc::Sender<()>,
    expect: usize,
) -> Vec<(String, Instant)> {
    let mut arrivals = Vec::with_capacity(expect);
    let Some(mut socket) = connect(url).await else {
        return arrivals;
    };
    let _ = socket
        .send(Message::Text(
            json!({"type": "connection_init"}).to_string().into(),
        ))
        .await;
    let query = "subscription { voucherAssigned { cursor node { id } } }";
    let _ = socket
        .send(Message::Text(
            json!({"type": "subscribe", "id": "1", "payload": {"query": query}})
                .to_string()
                .into(),
        ))
        .await;
    let mut acked = false;
    let mut got = 0;
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        if !acked && text.contains("connection_ack") {
            acked = true;
            let _ = ready.send(()).await;
            continue;
        }
        if text.contains("\"ping\"") {
            let _ = socket
                .send(Message::Text(json!({"type": "pong"}).to_string().into()))
                .await;
            continue;
        }
        let Some(start) = text.find("\"id\":\"pub_") else {
            continue;
        };
        let id: String = text[start + 6..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        arrivals.push((id, Instant::now()));
        got += 1;
        if got == expect {
            break;
        }
    }
    arrivals
}

fn delivery(n: usize, run: u64) -> Vec<u8> {
    let data = json!({
        "customer": {"id": "cust_bench", "name": "Bench"},
        "publication": {"id": format!("pub_{run}_{n}"), "customer_id": "cust_bench", "created_at": "2024-05-01T10:00:00Z"},
        "voucher": {"id": format!("v_{run}_{n}"), "code": format!("B-{run}-{n}"), "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}},
    });
    serde_json::to_vec(&json!({"id": format!("whs_{run}_{n}"), "type": "bench", "data": data,
        "source": {"id": "distr_bench"}, "event": {"id": format!("ev_{run}_{n}"), "type": "customer.publication.succeeded"}}))
    .expect("json")
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// What the holding subscribers received, all together.
#[derive(Default)]
struct Received {
    frames: AtomicU64,
    errors: AtomicU64,
    slow: AtomicU64,
    ended: AtomicU64,
}

/// A subscriber that only counts: `filter` (a `PublicationFilter`, or null) chooses what it
/// follows. It stops at an `error` or `complete`, as a client that does not resubscribe would.
async fn holder(
    url: String,
    ready: tokio::sync::mpsc::Sender<()>,
    filter: serde_json::Value,
    received: Arc<Received>,
) {
    let Some(mut socket) = connect(url).await else {
        return;
    };
    let query = "subscription($filter: PublicationFilter) { voucherAssigned(filter: $filter) { cursor node { id voucher { code } } } }";
    for message in [
        json!({"type": "connection_init"}),
        json!({"type": "subscribe", "id": "1", "payload": {"query": query, "variables": {"filter": filter}}}),
    ] {
        let _ = socket.send(Message::Text(message.to_string().into())).await;
    }
    let mut acked = false;
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let message: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match message["type"].as_str().unwrap_or_default() {
            "connection_ack" if !acked => {
                acked = true;
                let _ = ready.send(()).await;
            }
            "ping" => {
                let pong = json!({"type": "pong"}).to_string();
                let _ = socket.send(Message::Text(pong.into())).await;
            }
            "next" => {
                received.frames.fetch_add(1, Ordering::Relaxed);
            }
            "error" => {
                received.errors.fetch_add(1, Ordering::Relaxed);
                if text.contains("SLOW_CONSUMER") {
                    received.slow.fetch_add(1, Ordering::Relaxed);
                }
                break;
            }
            "complete" => break,
            _ => {}
        }
    }
    received.ended.fetch_add(1, Ordering::Relaxed);
}

/// `--hold`: connects the subscribers, then holds them until standard input closes.
async fn hold(args: &Args, ws: &str) {
    let received = Arc::new(Received::default());
    let customers = args.customers.map(|k| {
        let generator = pubgate::simulate::Generator::new(args.seed, k, 1, 0.0);
        (0..k).map(|n| generator.customer_id(n)).collect::<Vec<_>>()
    });
    let started = Instant::now();
    let (_tasks, acked) = start_all(args.subscribers, |i, ready| {
        let filter = match &customers {
            Some(ids) => json!({"customerId": ids[i % ids.len()]}),
            None => serde_json::Value::Null,
        };
        tokio::spawn(holder(ws.to_owned(), ready, filter, received.clone()))
    })
    .await;
    println!(
        "subscribers {acked}/{} connected in {:.1}s",
        args.subscribers,
        started.elapsed().as_secs_f64()
    );
    // Waits for standard input to close (a blocking read, off the runtime's workers).
    let _ = tokio::task::spawn_blocking(|| std::io::read_to_string(std::io::stdin())).await;
    let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
    println!(
        "held: frames {}, errors {} (slow consumer {}), subscriptions ended {}",
        count(&received.frames),
        count(&received.errors),
        count(&received.slow),
        count(&received.ended)
    );
}

#[tokio::main]
async fn main() {
    let args = args();
    let ws = format!("{}/graphql", args.target.replace("http://", "ws://"));
    if args.hold {
        hold(&args, &ws).await;
        return;
    }
    let client = reqwest::Client::new();
    let rss_before = rss_kib(args.pid);
    let sent: Sent = Arc::default();
    let latencies: Arc<Mutex<Vec<(Duration, Duration)>>> = Arc::default();
    let started = Instant::now();
    let (tasks, acked) = start_all(args.subscribers, |_, ready| {
        tokio::spawn(subscriber(ws.clone(), ready, args.events))
    })
    .await;
    let rss_idle = rss_kib(args.pid);
    println!(
        "subscribers {acked}/{} connected in {:.1}s",
        args.subscribers,
        started.elapsed().as_secs_f64()
    );
    let per = (rss_idle.saturating_sub(rss_before)) as f64 / acked.max(1) as f64;
    println!(
        "rss before {rss_before} KiB, idle with subscribers {rss_idle} KiB, {per:.1} KiB per subscriber"
    );
    let statements_before = feed_statements(&client, &args.target).await;
    let run = std::process::id() as u64 * 1000 + (started.elapsed().as_micros() % 1000) as u64;
    let url = format!("{}/webhooks/voucherify", args.target);
    for n in 0..args.events {
        let body = delivery(n, run);
        let posted = Instant::now();
        sent.lock().expect("lock").insert(
            format!("pub_{run}_{n}"),
            (posted, posted + Duration::from_secs(3600)),
        );
        let response = post(&client, &url, Some(&args.secret), body)
            .await
            .expect("post");
        assert_eq!(response.status(), 200);
        let acked_at = Instant::now();
        sent.lock()
            .expect("lock")
            .insert(format!("pub_{run}_{n}"), (posted, acked_at));
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent = sent.lock().expect("lock").clone();
    for task in tasks {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Ok(Ok(arrivals)) = tokio::time::timeout(wait, task).await else {
            continue;
        };
        let mut latencies = latencies.lock().expect("lock");
        for (id, at) in arrivals {
            if let Some((posted, acked_at)) = sent.get(&id) {
                latencies.push((at - *posted, at.saturating_duration_since(*acked_at)));
            }
        }
    }
    let statements = feed_statements(&client, &args.target).await - statements_before;
    let all = latencies.lock().expect("lock").clone();
    let mut from_post: Vec<Duration> = all.iter().map(|l| l.0).collect();
    let mut from_ack: Vec<Duration> = all.iter().map(|l| l.1).collect();
    from_post.sort();
    from_ack.sort();
    println!("frames {} of {} expected", all.len(), acked * args.events);
    println!(
        "post->frame  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        percentile(&from_post, 0.5),
        percentile(&from_post, 0.99),
        percentile(&from_post, 1.0)
    );
    println!(
        "200->frame   p50 {:.1} ms  p99 {:.1} ms  (0 when the frame beat the HTTP answer)",
        percentile(&from_ack, 0.5),
        percentile(&from_ack, 0.99)
    );
    println!(
        "feed SQL statements per event {:.2}",
        statements / args.events as f64
    );
}

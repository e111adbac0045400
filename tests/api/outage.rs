//! The database goes away: 503 + Retry-After, nothing acknowledged is lost, recovery by itself.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// Delivery `n`: one customer updated.
fn delivery(n: u32) -> Vec<u8> {
    bytes(&wrap(
        "customer.updated",
        &format!("ev_{n}"),
        json!({"customer": {"id": format!("cust_{n}")}}),
    ))
}

/// The answer of `/readyz`.
async fn readyz(app: &TestApp) -> reqwest::Response {
    app.client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answers")
}

/// A TCP proxy to PostgreSQL that can cut every connection, like a network partition.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: watch::Sender<bool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (up, is_up) = watch::channel(true);
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = pipes.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*is_up.borrow() {
                    continue; // dropped: connection refused in effect
                }
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().expect("lock").push(pipe);
            }
        });
        Proxy {
            addr,
            up,
            pipes,
            accept,
        }
    }

    /// A proxy in front of the PostgreSQL server of `database_url`, and the URL through it.
    pub async fn in_front_of(database_url: &str) -> (Proxy, String) {
        let url = reqwest::Url::parse(database_url).expect("url");
        let upstream = format!(
            "{}:{}",
            url.host_str().expect("host"),
            url.port().unwrap_or(5432)
        )
        .parse()
        .expect("socket address");
        let proxy = Proxy::start(upstream).await;
        let mut proxied = url.clone();
        proxied.set_port(Some(proxy.addr.port())).expect("port");
        (proxy, proxied.to_string())
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
        for pipe in self.pipes.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_then_recovers() {
    let Some(test_db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let (proxy, proxied) = Proxy::in_front_of(&test_db.url).await;
    let app = TestApp::spawn_on(Backend::Postgres, test_db, &proxied, |c| {
        c.ingest_timeout = std::time::Duration::from_secs(8);
    })
    .await;
    assert_eq!(app.post_webhook(delivery(0)).await.0, StatusCode::OK);

    proxy.cut();
    let response = app
        .client
        .post(app.url("/webhooks/voucherify"))
        .header(
            "x-voucherify-signature",
            pubgate::webhook::signature::sign(SECRET.as_bytes(), &delivery(1)),
        )
        .body(delivery(1))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers().get("retry-after").is_some(),
        "503 carries Retry-After"
    );
    let answer: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(answer["error"], "unavailable");
    let ready = readyz(&app).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    // Voucherify retries; the gateway recovers by itself.
    let mut recovered = false;
    for _ in 0..40 {
        let (status, _) = app.post_webhook(delivery(1)).await;
        if status == StatusCode::OK {
            recovered = true;
            break;
        }
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "only 503 while recovering"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "the gateway recovered once the database was back"
    );
    assert_eq!(readyz(&app).await.status(), StatusCode::OK);
    assert_eq!(app.count("webhook_events").await, 2);
    assert_eq!(app.count("customers").await, 2);
}

/// Dashboards flooding the read pool with slow queries do not delay ingest: the writer and
/// the feed keep connections of their own. And a writer that cannot commit makes `/readyz`
/// say so. (PostgreSQL: the slow reads are queries waiting on a table lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_starve_the_writer_and_readiness_sees_the_writer() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| {
        c.ingest_timeout = std::time::Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    // Twice the pool's size of reads, each held on a lock no delivery needs.
    let lock = app.db.begin().await.expect("transaction");
    lock.execute_unprepared("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("locked");
    let flood = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/graphql"));
        async move {
            // Distinct documents, so the query cache runs each.
            let ask = |i: usize| {
                let query = format!("{{ c{i}: campaigns(first: 1) {{ totalCount }} }}");
                client.post(&url).json(&json!({ "query": query })).send()
            };
            futures::future::join_all((0..10).map(ask)).await
        }
    });
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND application_name = 'pubgate' AND wait_event_type = 'Lock'";
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.scalar(waiting).await < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reads never filled the pool"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for n in 10..15 {
        let started = std::time::Instant::now();
        let (status, answer) = app.post_webhook(delivery(n)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "delivery {n} under a read flood: {answer}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
    lock.rollback().await.expect("released");
    for answer in tokio::time::timeout(WAIT, flood)
        .await
        .expect("in time")
        .expect("joined")
    {
        assert_eq!(answer.expect("answers").status(), StatusCode::OK);
    }
    // Now the writer cannot commit: another transaction holds the sequence row.
    let blocker = app.db.begin().await.expect("transaction");
    blocker
        .execute_unprepared("UPDATE pubgate_sequence SET value = value")
        .await
        .expect("row locked");
    let ready = readyz(&app).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["writer"], false, "{body}");
    assert_eq!(body["database"], true, "{body}");
    blocker.rollback().await.expect("released");
    let ready = readyz(&app).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(app.count("webhook_events").await, 5);
}

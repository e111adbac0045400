//! API tokens on every transport, the limits, request ids and the metrics catalogue.

use crate::helpers::*;
use crate::subscriptions::assignment;
use crate::ws_client::{WsClient, sse};
use pubgate::simulate::Generator;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIVE: &str = "subscription { voucherAssigned { cursor node { id } } }";

/// A gateway on SQLite with `adjust` applied (these tests do not depend on the backend).
async fn app_with(adjust: impl FnOnce(&mut pubgate::Config)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, adjust)
        .await
        .expect("SQLite is always available")
}

/// Sends `request` as it is on a fresh connection; returns the status and the rest of the
/// answer. Write errors are ignored: the server may answer and close before reading it all.
pub async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, String) {
    let mut stream = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(app.addr))
        .await
        .expect("connects in time")
        .expect("connects");
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes in time");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// The body of a raw HTTP/1.1 answer (`Content-Length` framed, as the server sends errors).
pub fn http_body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// One sample of the Prometheus text at `/metrics`, e.g. `pubgate_webhooks_total{outcome="stored"}`.
pub async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("{series} is not in /metrics:\n{text}"))
}

/// Waits (bounded) until `series` reaches `want`.
pub async fn metric_reaches(app: &TestApp, series: &str, want: f64) {
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            if metric(app, series).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "{series} is {} after {WAIT:?}, not {want} (pool size {})",
        metric(app, series).await,
        metric(app, r#"pubgate_db_pool_connections{pool="read"}"#).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_guard_http_websocket_and_sse_but_not_the_webhook() {
    let app = app_with(|c| c.api_tokens = vec!["tok-one".into(), "tok-two".into()]).await;
    let query = json!({"query": "{ customers(first: 1) { totalCount } }"});
    for auth in [
        None,
        Some("Bearer nope"),
        Some("tok-one"),
        Some("Basic dG9rLW9uZQ=="),
        Some("Bearer tok-on"),
        Some("Bearer tok-one-and-more"),
    ] {
        let mut request = app.client.post(app.url("/graphql")).json(&query);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    }
    for auth in ["Bearer tok-one", "Bearer tok-two", "bearer tok-one"] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", auth)
            .json(&query)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["data"]["customers"]["totalCount"], 0, "{body}");
    }
    let get = app
        .client
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .expect("answers");
    assert_eq!(get.status(), StatusCode::UNAUTHORIZED, "GET needs it too");

    // graphql-ws (legacy): a wrong token gets `connection_error`, then 4403.
    let mut legacy = WsClient::connect(&app, "/graphql", "graphql-ws").await;
    legacy
        .send(json!({"type": "connection_init", "payload": {"authToken": "nope"}}))
        .await;
    assert_eq!(legacy.recv_any().await["type"], "connection_error");
    assert_eq!(legacy.closed().await.code, 4403);
    let mut legacy = WsClient::connect(&app, "/graphql", "graphql-ws").await;
    legacy
        .send(json!({"type": "connection_init", "payload": {"Authorization": "Bearer tok-two"}}))
        .await;
    assert_eq!(legacy.recv_any().await["type"], "connection_ack");
    // graphql-transport-ws: no payload → 4403 (wrong and right payloads are covered in
    // subscriptions::protocol_close_codes).
    let mut modern = WsClient::connect(&app, "/graphql/ws", "graphql-transport-ws").await;
    modern.send(json!({"type": "connection_init"})).await;
    assert_eq!(modern.closed().await.code, 4403);

    // SSE reads the header.
    let denied = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": LIVE}))
        .send()
        .await
        .expect("answers");
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let allowed = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .bearer_auth("tok-one")
        .json(&json!({"query": LIVE}))
        .send()
        .await
        .expect("answers");
    assert_eq!(allowed.status(), StatusCode::OK);
    drop(allowed);

    // The webhook is guarded by its signature alone.
    let (status, answer) = app
        .post_webhook(Generator::new(1, 5, 2, 0.0).next_body())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_get_408() {
    let app = app_with(|c| c.request_timeout = Duration::from_millis(500)).await;
    for path in ["/graphql", "/webhooks/voucherify"] {
        // Headers promise 100 bytes; ten arrive, then nothing.
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
             content-length: 100\r\n\r\n{{\"query\":"
        );
        let (status, answer) = raw_http(&app, request.as_bytes()).await;
        assert_eq!(status, 408, "{path}");
        let body: Value = serde_json::from_str(http_body(&answer)).expect("a JSON body");
        if path == "/graphql" {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{body}"
            );
        } else {
            assert_eq!(body["error"], "request_timeout", "{body}");
            assert!(body["message"].is_string(), "{body}");
        }
    }
    assert_eq!(app.count("webhook_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_bodies_over_the_limit_get_413_with_or_without_length() {
    let app = app_with(|c| c.max_body_bytes = 2048).await;
    let padding = " ".repeat(4096);
    let big = format!(r#"{{"query": "{{ __typename }}"{padding}}}"#);
    let declared = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = declared.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(512)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let streamed = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("answers");
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Under the limit is fine.
    let small = app.graphql("{ __typename }", json!({})).await;
    assert_eq!(small["data"]["__typename"], "Query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_over_the_limit_close_1009() {
    let app = app_with(|c| c.max_body_bytes = 2048).await;
    let mut client = WsClient::ready(&app).await;
    let query = format!(
        "subscription {{ voucherAssigned {{ cursor }} }} #{}",
        "x".repeat(4096)
    );
    client.subscribe("1", &query, json!({})).await;
    assert_eq!(client.closed().await.code, 1009);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_limits_per_connection_and_per_instance() {
    let app = app_with(|c| {
        c.max_subscriptions_per_connection = 2;
        c.max_subscriptions = 3;
    })
    .await;
    let refused = |message: &Value, id: &str| {
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert_eq!(
            message["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
            "{message}"
        );
    };
    let mut first = WsClient::ready(&app).await;
    first.subscribe("a", LIVE, json!({})).await;
    first.subscribe("b", LIVE, json!({})).await;
    first.subscribe("c", LIVE, json!({})).await;
    refused(&first.recv().await, "c");
    assert!(
        metric(&app, "pubgate_subscriptions_refused_total").await >= 1.0,
        "counted"
    );
    let mut second = WsClient::ready(&app).await;
    second.subscribe("x", LIVE, json!({})).await;
    metric_reaches(
        &app,
        "pubgate_active_subscriptions{transport=\"websocket\"}",
        3.0,
    )
    .await;
    second.subscribe("y", LIVE, json!({})).await;
    refused(&second.recv().await, "y");
    let sse_refused = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": LIVE}))
        .send()
        .await
        .expect("answers");
    assert_eq!(sse_refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(sse_refused.headers().contains_key("retry-after"));
    let body: Value = sse_refused.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    assert_eq!(
        metric(&app, "pubgate_subscriptions_refused_total").await,
        3.0
    );

    // The refusals ended nothing else: all three running subscriptions still deliver.
    app.post_all(vec![assignment(1)]).await;
    let mut ids = vec![];
    for _ in 0..2 {
        let message = first.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        ids.push(message["id"].as_str().unwrap_or_default().to_owned());
    }
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(second.next_n("x", 1).await.len(), 1);
    // Completing one frees its place.
    first.send(json!({"type": "complete", "id": "a"})).await;
    metric_reaches(
        &app,
        "pubgate_active_subscriptions{transport=\"websocket\"}",
        2.0,
    )
    .await;
    second.subscribe("y", LIVE, json!({})).await;
    metric_reaches(
        &app,
        "pubgate_active_subscriptions{transport=\"websocket\"}",
        3.0,
    )
    .await;
    assert!(
        second
            .recv_within(Duration::from_millis(300))
            .await
            .is_none(),
        "y now runs without an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_can_be_turned_off() {
    let open = app_with(|_| {}).await;
    let answer = open
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");
    let closed = app_with(|c| c.disable_introspection = true).await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Customer\") { name } }",
    ] {
        let answer = closed.graphql(query, json!({})).await;
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("introspection")),
            "{answer}"
        );
    }
    // Ordinary queries are unaffected.
    let answer = closed
        .graphql("{ customers(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(answer["data"]["customers"]["totalCount"], 0, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_only() {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allow = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let app = app_with(|c| c.cors_origins = vec!["https://shop.example".into()]).await;
    let ok = preflight(&app, "https://shop.example")
        .await
        .expect("answers");
    assert_eq!(allow(&ok).as_deref(), Some("https://shop.example"));
    let allowed_headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    let evil = preflight(&app, "https://evil.example")
        .await
        .expect("answers");
    assert_eq!(allow(&evil), None);
    let plain = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://shop.example")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(allow(&plain).as_deref(), Some("https://shop.example"));
    // Without --cors-origin browsers get no CORS grant at all.
    let same_origin = app_with(|_| {}).await;
    let none = preflight(&same_origin, "https://shop.example")
        .await
        .expect("answers");
    assert_eq!(allow(&none), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_given_kept_when_plain_and_replaced_otherwise() {
    let app = app_with(|_| {}).await;
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    let fresh = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("ok");
    let generated = id_of(&fresh);
    assert!(
        generated.len() == 16 && generated.chars().all(|c| c.is_ascii_hexdigit()),
        "{generated}"
    );
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-7f3a.2_x")
        .send()
        .await
        .expect("ok");
    assert_eq!(id_of(&kept), "lb-7f3a.2_x");
    for hostile in ["a b", "x".repeat(65).as_str(), "<script>", "id\"quote"] {
        let replaced = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", hostile)
            .send()
            .await
            .expect("ok");
        let id = id_of(&replaced);
        assert!(id != hostile && id.len() == 16, "{hostile} → {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_moves_when_its_event_happens() {
    let app = app_with(|c| c.max_body_bytes = 64 * 1024).await;
    let webhooks = |outcome: &str| format!("pubgate_webhooks_total{{outcome=\"{outcome}\"}}");
    let rejected = |reason: &str| format!("pubgate_webhooks_rejected_total{{reason=\"{reason}\"}}");
    // Every series is there from the start, at zero.
    for series in [
        webhooks("received"),
        webhooks("stored"),
        webhooks("duplicate"),
        rejected("signature"),
        rejected("malformed"),
        rejected("too_large"),
        rejected("content_type"),
        rejected("unavailable"),
        "pubgate_ingest_duration_seconds_count".into(),
        "pubgate_ingest_batch_deliveries_count".into(),
        "pubgate_ingest_batch_duration_seconds_count{phase=\"all\"}".into(),
        "pubgate_ingest_batch_duration_seconds_count{phase=\"commit\"}".into(),
        "pubgate_frames_delivered_total{transport=\"websocket\"}".into(),
        "pubgate_frames_delivered_total{transport=\"sse\"}".into(),
        "pubgate_active_subscriptions{transport=\"websocket\"}".into(),
        "pubgate_active_subscriptions{transport=\"sse\"}".into(),
        "pubgate_websocket_connections".into(),
        "pubgate_subscriptions_refused_total".into(),
    ] {
        assert_eq!(metric(&app, &series).await, 0.0, "{series}");
    }
    let mut generator = Generator::new(3, 5, 2, 0.0);
    let body = generator.next_body();
    assert_eq!(app.post_webhook(body.clone()).await.0, StatusCode::OK);
    assert_eq!(app.post_webhook(body.clone()).await.0, StatusCode::OK);
    let sign = pubgate::webhook::signature::sign(SECRET.as_bytes(), b"{");
    let bad = [
        (body.clone(), vec![("x-voucherify-signature", "00")]),
        (
            b"{".to_vec(),
            vec![("x-voucherify-signature", sign.as_str())],
        ),
        (vec![b' '; 70 * 1024], vec![]),
    ];
    for (bad_body, headers) in bad {
        let (status, _) = app.post_raw(bad_body, &headers).await;
        assert!(status.is_client_error(), "{status}");
    }
    let signature = pubgate::webhook::signature::sign(SECRET.as_bytes(), &body);
    let (status, _) = app
        .client
        .post(app.url("/webhooks/voucherify"))
        .header("content-type", "text/plain")
        .header("x-voucherify-signature", signature)
        .body(body)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .expect("answers");
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(metric(&app, &webhooks("received")).await, 6.0);
    assert_eq!(metric(&app, &webhooks("stored")).await, 1.0);
    assert_eq!(metric(&app, &webhooks("duplicate")).await, 1.0);
    for reason in ["signature", "malformed", "too_large", "content_type"] {
        assert_eq!(metric(&app, &rejected(reason)).await, 1.0, "{reason}");
    }
    assert_eq!(
        metric(&app, "pubgate_ingest_duration_seconds_count").await,
        2.0
    );
    // One after the other: a transaction each, the duplicate's too (it is looked up in one).
    for series in [
        "pubgate_ingest_batch_deliveries_count",
        "pubgate_ingest_batch_deliveries_sum",
        "pubgate_ingest_batch_duration_seconds_count{phase=\"all\"}",
        "pubgate_ingest_batch_duration_seconds_count{phase=\"commit\"}",
    ] {
        assert_eq!(metric(&app, series).await, 2.0, "{series}");
    }
    assert_eq!(metric(&app, "pubgate_sequence_head").await, 1.0);

    // GraphQL durations by operation kind.
    let queries = "pubgate_graphql_request_duration_seconds_count{operation=\"query\"}";
    let invalid = "pubgate_graphql_request_duration_seconds_count{operation=\"invalid\"}";
    let before = (metric(&app, queries).await, metric(&app, invalid).await);
    app.graphql("{ customers(first: 1) { totalCount } }", json!({}))
        .await;
    app.graphql("{ not graphql", json!({})).await;
    assert_eq!(metric(&app, queries).await, before.0 + 1.0);
    assert_eq!(metric(&app, invalid).await, before.1 + 1.0);
    assert!(metric(&app, "pubgate_sql_statements_total{source=\"api\"}").await > 0.0);

    // Live subscriptions: connections, active operations, frames, feed position and lag.
    let mut client = WsClient::ready(&app).await;
    metric_reaches(&app, "pubgate_websocket_connections", 1.0).await;
    client.subscribe("1", LIVE, json!({})).await;
    let mut stream = sse(&app, LIVE, None).await;
    metric_reaches(
        &app,
        "pubgate_active_subscriptions{transport=\"websocket\"}",
        1.0,
    )
    .await;
    metric_reaches(&app, "pubgate_active_subscriptions{transport=\"sse\"}", 1.0).await;
    assert_eq!(metric(&app, "pubgate_feed_subscribers").await, 2.0);
    assert_eq!(app.post_webhook(assignment(1)).await.0, StatusCode::OK);
    assert_eq!(client.next_n("1", 1).await.len(), 1);
    let mut buffer = String::new();
    let events = crate::ws_client::sse_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(events.len(), 1);
    metric_reaches(
        &app,
        "pubgate_frames_delivered_total{transport=\"websocket\"}",
        1.0,
    )
    .await;
    metric_reaches(
        &app,
        "pubgate_frames_delivered_total{transport=\"sse\"}",
        1.0,
    )
    .await;
    metric_reaches(&app, "pubgate_feed_delivered_sequence", 2.0).await;
    assert_eq!(metric(&app, "pubgate_feed_lag_events").await, 0.0);
    assert!(metric(&app, "pubgate_sql_statements_total{source=\"feed\"}").await > 0.0);
    let subscriptions =
        "pubgate_graphql_request_duration_seconds_count{operation=\"subscription\"}";
    let ended_before = metric(&app, subscriptions).await;
    drop(stream);
    drop(client);
    // A shared live execution with no subscriber left ends at its next event.
    assert_eq!(app.post_webhook(assignment(2)).await.0, StatusCode::OK);
    metric_reaches(
        &app,
        "pubgate_active_subscriptions{transport=\"websocket\"}",
        0.0,
    )
    .await;
    metric_reaches(&app, "pubgate_active_subscriptions{transport=\"sse\"}", 0.0).await;
    metric_reaches(&app, "pubgate_websocket_connections", 0.0).await;
    metric_reaches(&app, subscriptions, ended_before + 2.0).await;
    // The pool is reported (SQLite opens at least one connection).
    for pool in ["read", "writer", "feed", "analytics"] {
        let series = format!("pubgate_db_pool_connections{{pool=\"{pool}\"}}");
        assert!(metric(&app, &series).await >= 1.0, "{series}");
    }
}

/// A writer blocked on a row lock holds a connection of the writer's pool, and the gauge shows
/// it (the read pool is untouched).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_in_use_counts_a_blocked_writer() {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    // Idle, nothing is checked out (the feed's LISTEN connection is not from the pool); a
    // connection is given back a moment after its statement, so wait for that first.
    let idle_in_use = 0.0;
    let writer = r#"pubgate_db_pool_in_use{pool="writer"}"#;
    metric_reaches(&app, writer, idle_in_use).await;
    let blocker = Database::connect(&app.database_url).await.expect("connect");
    let txn = blocker.begin().await.expect("begin");
    txn.execute_unprepared("SELECT value FROM pubgate_sequence FOR UPDATE")
        .await
        .expect("lock the sequence row");
    let body = Generator::new(4, 5, 2, 0.0).next_body();
    let posting = {
        let url = app.url("/webhooks/voucherify");
        let signature = pubgate::webhook::signature::sign(SECRET.as_bytes(), &body);
        let client = app.client.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .header("x-voucherify-signature", signature)
                .body(body)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    metric_reaches(&app, writer, idle_in_use + 1.0).await;
    let read = r#"pubgate_db_pool_in_use{pool="read"}"#;
    metric_reaches(&app, read, 0.0).await;
    txn.rollback().await.expect("release");
    let status = tokio::time::timeout(WAIT, posting)
        .await
        .expect("answers in time")
        .expect("task")
        .expect("answers");
    assert_eq!(status, StatusCode::OK);
    metric_reaches(&app, writer, idle_in_use).await;
}

/// async-graphql's parser recurses per nesting level without a limit (a stack overflow aborts
/// the process in release builds); such documents are refused before parsing, on every
/// transport, and the server stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_documents_are_refused_before_parsing() {
    let app = app_with(|_| {}).await;
    let deep_list = format!(
        "{{ publications(first: {}1{}) {{ totalCount }} }}",
        "[".repeat(300),
        "]".repeat(300)
    );
    let answer = app.graphql(&deep_list, json!({})).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deeper than 128")),
        "{answer}"
    );
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let deep_subscription = format!(
        "subscription {{ voucherAssigned(filter: {}{}) {{ cursor }} }}",
        "{a:".repeat(300),
        "}".repeat(300)
    );
    let mut client = WsClient::ready(&app).await;
    client
        .subscribe("deep", &deep_subscription, json!({}))
        .await;
    let message = client.recv().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // The connection and the server carry on.
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await["type"], "pong");
    let fine = app.graphql("{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "Query");
}

/// `n` fragments, each spreading the next `times` times (about `times^n` selections once
/// expanded), the last selecting `field`; the operation is `kind { ...F0 }`.
pub fn fragment_chain(kind: &str, n: usize, times: usize, field: &str) -> String {
    let on = if kind == "subscription" {
        "Subscription"
    } else {
        "Query"
    };
    let mut doc = format!("{kind} {{ ...F0 }}\n");
    for i in 0..n {
        let body = if i + 1 == n {
            field.to_owned()
        } else {
            format!("...F{} ", i + 1).repeat(times)
        };
        doc.push_str(&format!("fragment F{i} on {on} {{ {body} }}\n"));
    }
    doc
}

/// Fragments spread several times at several levels, or chained deep, are refused before
/// validation on every transport, at once: a 2 KB document must not keep a core busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_explosions_and_chains_are_refused_at_once() {
    let app = app_with(|_| {}).await;
    let explosion = fragment_chain("query", 30, 4, "__typename");
    let chain = fragment_chain("query", 300, 1, "__typename");
    for document in [&explosion, &chain] {
        let answer = tokio::time::timeout(Duration::from_secs(5), app.graphql(document, json!({})))
            .await
            .expect("answered at once, not after expanding");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer}"
        );
    }
    let subscription = fragment_chain("subscription", 30, 4, "voucherAssigned { cursor }");
    let mut client = WsClient::ready(&app).await;
    client.subscribe("boom", &subscription, json!({})).await;
    let message = client.recv().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let mut events = tokio::time::timeout(Duration::from_secs(5), sse(&app, &subscription, None))
        .await
        .expect("answered at once");
    let text = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .expect("a first event at once")
        .expect("reads")
        .unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&text).contains("BAD_USER_INPUT"),
        "{text:?}"
    );
    // The server is still free for everyone else.
    let fine = app.graphql("{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "Query");
}

/// The status line of a WebSocket upgrade to `path` with these extra headers; the connection
/// is then dropped (a 101 would stay open).
async fn upgrade_status(app: &TestApp, path: &str, host: &str, extra: &[(&str, &str)]) -> u16 {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-protocol: graphql-transport-ws\r\n"
    );
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connects");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut head = vec![0u8; 12];
    tokio::time::timeout(WAIT, stream.read_exact(&mut head))
        .await
        .expect("answers in time")
        .expect("reads");
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .expect("a status")
}

/// A page on another site may not open a stream: browsers send WebSocket upgrades (and
/// EventSource requests) cross-site, with the visitor's network position, and no token stands
/// in the way on a loopback quickstart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_from_foreign_pages_are_refused() {
    let app = app_with(|c| c.cors_origins = vec!["https://shop.example".into()]).await;
    let own = format!("http://{}", app.addr);
    let host = app.addr.to_string();
    let cases = [
        (Some("https://evil.example"), 403, "another site"),
        (Some("null"), 403, "an opaque origin"),
        (Some("http://127.0.0.1:1"), 403, "another port"),
        (None, 101, "no Origin (a server)"),
        (Some(own.as_str()), 101, "same origin"),
        (Some("https://shop.example"), 101, "--cors-origin"),
    ];
    for path in ["/graphql", "/graphql/ws"] {
        for (origin, want, why) in cases {
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            let status = upgrade_status(&app, path, &host, &headers).await;
            assert_eq!(status, want, "{path}: {why}");
        }
    }
    let sse = |origin: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", "text/event-stream")
            .header("origin", origin)
            .json(&json!({"query": "subscription { voucherAssigned { cursor } }"}))
            .send()
    };
    let refused = sse("https://evil.example").await.expect("answers");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let allowed = sse("https://shop.example").await.expect("answers");
    assert_eq!(allowed.status(), StatusCode::OK);
}

/// On loopback with no token (the quickstart), only loopback host names are answered: a page
/// whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with the
/// gateway as far as the browser knows, but names its own host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_loopback_hosts_are_answered_on_an_open_loopback_gateway() {
    let app = app_with(|c| {
        c.webhook_secrets.clear();
        c.allowed_hosts = vec!["gateway.internal".into()];
    })
    .await;
    let query = br#"{"query":"{ publications(first: 1) { totalCount } }"}"#;
    let post = |path: &str, host: &str| {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            query.len()
        )
        .into_bytes();
        request.extend_from_slice(query);
        request
    };
    for path in ["/graphql", "/webhooks/voucherify"] {
        for host in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
        ] {
            let (status, answer) = raw_http(&app, &post(path, host)).await;
            assert_eq!(status, 403, "{path} {host}: {answer}");
            assert!(http_body(&answer).contains("--allowed-host"), "{answer}");
        }
    }
    let healthz = b"GET /healthz HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n";
    assert_eq!(raw_http(&app, healthz).await.0, 403, "every open route");
    assert_eq!(
        app.count("webhook_events").await,
        0,
        "nothing posted through a foreign name"
    );
    for path in ["/graphql", "/webhooks/voucherify"] {
        for host in [
            "127.0.0.1",
            "localhost:8080",
            "[::1]:1",
            "gateway.internal:80",
        ] {
            let (status, answer) = raw_http(&app, &post(path, host)).await;
            assert_eq!(status, 200, "{path} {host}: {answer}");
        }
    }
    // With a token and a secret nothing is open, and names are not checked.
    let guarded = app_with(|c| c.api_tokens = vec!["tok".into()]).await;
    let (status, answer) = raw_http(&guarded, &post("/graphql", "evil.example")).await;
    assert_eq!(status, 401, "{answer}");
}

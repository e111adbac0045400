//! Subscriptions: graphql-transport-ws conformance, the resume seam, ordering, backpressure,
//! SSE resume, several instances and a killed LISTEN connection.

use crate::helpers::*;
use crate::on_both;
use crate::ws_client::*;
use serde_json::{Value, json};
use std::time::Duration;

on_both!(
    live_assignments_in_commit_order,
    protocol_close_codes,
    validation_errors_are_one_error_message,
    resume_seam_has_no_gap_and_no_duplicate,
    slow_subscriber_ends_with_resumable_error,
    sse_resumes_with_last_event_id,
    legacy_protocol_works,
    identical_subscriptions_share_one_execution,
    server_pings_idle_clients,
    shutdown_closes_subscribers_with_1001,
    resume_position_ahead_of_the_feed_is_kept,
    null_after_is_shared_too,
    departed_subscribers_leave_nothing_running,
    a_replay_longer_than_a_page_is_whole,
    a_feed_nobody_follows_reads_nothing,
);

const ASSIGNED: &str = "subscription($after: String, $filter: PublicationFilter) {
  voucherAssigned(after: $after, filter: $filter) { cursor node { id customer { id } voucher { code type } campaign { id } } }
}";

/// A publication delivery numbered `n`.
pub fn assignment(n: usize) -> Vec<u8> {
    let data = json!({
        "customer": {"id": format!("cust_{}", n % 3), "name": "Sub Scriber"},
        "campaign": {"id": "camp_live", "name": "Live"},
        "publication": {"id": format!("pub_{n:05}"), "customer_id": format!("cust_{}", n % 3), "created_at": "2024-05-01T10:00:00Z"},
        "voucher": {"id": format!("v_{n:05}"), "code": format!("LIVE-{n:05}"), "type": "DISCOUNT_VOUCHER", "campaign_id": "camp_live",
                    "discount": {"type": "AMOUNT", "amount_off": 500}},
    });
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("ev_{n}"),
        data,
    ))
}

fn ids(payloads: &[Value]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| {
            p["data"]["voucherAssigned"]["node"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{p}"))
                .to_owned()
        })
        .collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("pub_{n:05}")).collect()
}

/// The cursor of stored publication `id`, from the first page of publications.
async fn cursor_of(app: &TestApp, id: &str) -> Value {
    let page = app
        .graphql(
            "{ publications(first: 100) { edges { cursor node { id } } } }",
            Value::Null,
        )
        .await;
    page["data"]["publications"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["id"] == id)
        .unwrap_or_else(|| panic!("{id} is stored: {page}"))["cursor"]
        .clone()
}

async fn live_assignments_in_commit_order(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut client = WsClient::ready(&app).await;
    client.subscribe("1", ASSIGNED, json!({})).await;
    client
        .subscribe("2", ASSIGNED, json!({"filter": {"customerId": "cust_1"}}))
        .await;
    // The subscription is live once a probe delivery arrives.
    app.post_webhook(assignment(0)).await;
    let first = client.recv().await;
    assert_eq!(
        first["payload"]["data"]["voucherAssigned"]["node"]["id"], "pub_00000",
        "{first}"
    );
    for n in 1..6 {
        app.post_webhook(assignment(n)).await;
    }
    let (mut all, mut filtered) = (vec![], vec![]);
    while all.len() < 5 || filtered.len() < 2 {
        let message = client.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        match message["id"].as_str() {
            Some("1") => all.push(message["payload"].clone()),
            Some("2") => filtered.push(message["payload"].clone()),
            other => panic!("unexpected operation {other:?}"),
        }
    }
    assert_eq!(ids(&all), expected(1..6));
    assert_eq!(ids(&filtered), vec!["pub_00001", "pub_00004"]);
    let node = &all[0]["data"]["voucherAssigned"]["node"];
    assert_eq!(
        node["voucher"],
        json!({"code": "LIVE-00001", "type": "DISCOUNT_VOUCHER"})
    );
    assert_eq!(node["campaign"]["id"], "camp_live");
    // A cursor from the subscription resumes a query page and vice versa.
    let cursor = all[2]["data"]["voucherAssigned"]["cursor"].clone();
    let page = app.graphql("query($c: String) { publications(after: $c, orderBy: {field: RECEIVED_AT, direction: ASC}) { nodes { id } } }", json!({"c": cursor})).await;
    assert_eq!(
        page["data"]["publications"]["nodes"],
        json!([{"id": "pub_00004"}, {"id": "pub_00005"}]),
        "{page}"
    );
    client.send(json!({"type": "complete", "id": "1"})).await;
    app.post_webhook(assignment(7)).await;
    let next = client.recv().await;
    assert_eq!(
        next["id"], "2",
        "a completed operation sends nothing more: {next}"
    );
    // A completed operation's id may be used again (resuming after the last frame seen, so
    // nothing depends on when it joins), and is then running: the same id once more is 4409.
    let after = next["payload"]["data"]["voucherAssigned"]["cursor"].clone();
    client
        .subscribe("1", ASSIGNED, json!({"after": after}))
        .await;
    app.post_webhook(assignment(8)).await;
    let again = client.recv().await;
    assert_eq!(again["id"], "1", "{again}");
    assert_eq!(
        again["payload"]["data"]["voucherAssigned"]["node"]["id"], "pub_00008",
        "{again}"
    );
    client.subscribe("1", ASSIGNED, json!({})).await;
    assert_eq!(client.closed().await.code, 4409);
}

async fn protocol_close_codes(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |c| c.ws_init_timeout = Duration::from_millis(300)).await
    else {
        return;
    };
    for path in ["/graphql", "/graphql/ws"] {
        let mut silent = WsClient::connect(&app, path, "graphql-transport-ws").await;
        assert_eq!(
            silent.closed().await,
            Closed {
                code: 4408,
                reason: "Connection initialisation timeout".into()
            }
        );
    }
    let mut early = WsClient::connect(&app, "/graphql", "graphql-transport-ws").await;
    early.subscribe("1", ASSIGNED, json!({})).await;
    assert_eq!(early.closed().await.code, 4401);
    let mut twice = WsClient::ready(&app).await;
    twice.send(json!({"type": "connection_init"})).await;
    assert_eq!(twice.closed().await.code, 4429);
    let mut duplicate = WsClient::ready(&app).await;
    duplicate.subscribe("same", ASSIGNED, json!({})).await;
    duplicate.subscribe("same", ASSIGNED, json!({})).await;
    assert_eq!(
        duplicate.closed().await,
        Closed {
            code: 4409,
            reason: "Subscriber for same already exists".into()
        }
    );
    let mut invalid = WsClient::ready(&app).await;
    invalid
        .send_text(format!("{{\"type\": \"{}", "x".repeat(1000)))
        .await;
    let closed = invalid.closed().await;
    assert_eq!(closed.code, 4400);
    assert!(
        closed.reason.len() <= 123,
        "close reasons fit a control frame: {}",
        closed.reason.len()
    );
    let mut unknown = WsClient::ready(&app).await;
    unknown.send(json!({"type": "nonsense"})).await;
    assert_eq!(unknown.closed().await.code, 4400);
    // Pings are answered.
    let mut pinger = WsClient::ready(&app).await;
    pinger.send(json!({"type": "ping"})).await;
    assert_eq!(pinger.recv().await["type"], "pong");
    // With tokens configured, a wrong token closes 4403; a right one is acknowledged.
    let Some(guarded) =
        TestApp::spawn_with(backend, |c| c.api_tokens = vec!["s3cret".into()]).await
    else {
        return;
    };
    for payload in [
        json!({}),
        json!({"Authorization": "Bearer wrong"}),
        json!({"authToken": "wrong"}),
    ] {
        let mut client = WsClient::connect(&guarded, "/graphql", "graphql-transport-ws").await;
        client
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        assert_eq!(
            client.closed().await,
            Closed {
                code: 4403,
                reason: "Forbidden".into()
            }
        );
    }
    for payload in [
        json!({"Authorization": "Bearer s3cret"}),
        json!({"authToken": "s3cret"}),
    ] {
        let mut client = WsClient::connect(&guarded, "/graphql", "graphql-transport-ws").await;
        client
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        assert_eq!(client.recv().await["type"], "connection_ack");
    }
}

async fn validation_errors_are_one_error_message(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut client = WsClient::ready(&app).await;
    client
        .subscribe(
            "bad",
            "subscription { voucherAssigned { nope } }",
            json!({}),
        )
        .await;
    let message = client.recv().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], "bad");
    assert!(message["payload"].is_array(), "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    client
        .subscribe("cursor", ASSIGNED, json!({"after": "not-a-cursor"}))
        .await;
    let message = client.recv().await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("error"), Some("cursor")),
        "{message}"
    );
    // Nothing else follows an error for that id, and the connection still works.
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await["type"], "pong");
    // A query over the socket is answered with one `next` and `complete`.
    client
        .subscribe("q", "{ webhookEvents { totalCount } }", json!({}))
        .await;
    assert_eq!(client.recv().await["type"], "next");
    assert_eq!(client.recv().await["type"], "complete");
}

async fn resume_seam_has_no_gap_and_no_duplicate(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.post_all((0..40).map(assignment).collect()).await;
    // Commit order, which concurrent posts make differ from arrival order.
    let stored: Vec<String> = app
        .texts("SELECT id FROM publications ORDER BY seq")
        .await
        .into_iter()
        .flatten()
        .collect();
    let after = cursor_of(&app, &stored[9]).await;
    let mut client = WsClient::ready(&app).await;
    // Writers keep committing while the subscriber replays.
    let writer = {
        let bodies: Vec<Vec<u8>> = (40..100).map(assignment).collect();
        let url = app.url("/webhooks/voucherify");
        let client = app.client.clone();
        tokio::spawn(async move {
            for body in bodies {
                let response = pubgate::simulate::post(&client, &url, Some(SECRET), body)
                    .await
                    .expect("posts");
                assert_eq!(response.status(), 200);
            }
        })
    };
    client
        .subscribe("r", ASSIGNED, json!({"after": after}))
        .await;
    let received = ids(&client.next_n("r", 90).await);
    writer.await.expect("writer");
    let mut want: Vec<String> = stored[10..].to_vec();
    want.extend(expected(40..100));
    assert_eq!(
        received, want,
        "replay then live, each once, in commit order"
    );
    assert!(
        client
            .recv_within(Duration::from_millis(300))
            .await
            .is_none(),
        "nothing more"
    );
}

async fn slow_subscriber_ends_with_resumable_error(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.subscriber_queue = 2).await else {
        return;
    };
    let mut client = WsClient::ready(&app).await;
    // Large frames fill the socket buffers quickly while the client does not read.
    let query = "subscription($after: String) { webhookEventReceived(after: $after) { cursor node { id payload } } }";
    client.subscribe("slow", query, json!({})).await;
    app.post_webhook(assignment(0)).await;
    let pad = "x".repeat(60_000);
    // ~24 MB of frames: more than the socket buffers, the connection's queue and the feed
    // queue can hold while the client reads nothing.
    for n in 1..400 {
        let mut body: Value = serde_json::from_slice(&assignment(n)).expect("json");
        body["pad"] = json!(pad);
        assert_eq!(
            app.post_webhook(bytes(&body)).await.0,
            200,
            "ingest never waits for subscribers"
        );
    }
    let error = loop {
        let message = client
            .recv_within(Duration::from_secs(5))
            .await
            .expect("the stream ends with an error");
        if message["type"] == "error" {
            break message;
        }
        assert_eq!(message["type"], "next", "{message}");
    };
    assert_eq!(error["id"], "slow");
    let extensions = &error["payload"][0]["extensions"];
    assert_eq!(extensions["code"], "SLOW_CONSUMER", "{error}");
    let cursor = extensions["lastCursor"].clone();
    assert!(cursor.is_string(), "{error}");
    // Resuming from the cursor delivers the rest with no gap.
    let total = app.count("webhook_events").await;
    let mut again = WsClient::ready(&app).await;
    again
        .subscribe(
            "resume",
            "subscription($after: String) { webhookEventReceived(after: $after) { node { id } } }",
            json!({"after": cursor}),
        )
        .await;
    let resumed_from = pubgate::domain::cursor::decode_event(cursor.as_str().expect("cursor"))
        .expect("an event cursor");
    let rest = again
        .next_n("resume", (total - resumed_from) as usize)
        .await;
    let ids: Vec<i64> = rest
        .iter()
        .map(|p| {
            p["data"]["webhookEventReceived"]["node"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("number")
        })
        .collect();
    assert_eq!(ids, ((resumed_from + 1)..=total).collect::<Vec<_>>());
}

async fn sse_resumes_with_last_event_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let query = "subscription { voucherAssigned { node { id } } }";
    let mut response = sse(&app, query, None).await;
    let mut buffer = String::new();
    // Live once a probe arrives.
    app.post_webhook(assignment(0)).await;
    let probe = sse_events(&mut response, &mut buffer, 1).await;
    for n in 1..4 {
        app.post_webhook(assignment(n)).await;
    }
    let first = sse_events(&mut response, &mut buffer, 3).await;
    let last_id = first[2].id.clone().expect("every event has an id");
    assert!(probe[0].id.is_some());
    drop(response);
    for n in 4..8 {
        app.post_webhook(assignment(n)).await;
    }
    let mut resumed = sse(&app, query, Some(&last_id)).await;
    let mut buffer = String::new();
    let rest = sse_events(&mut resumed, &mut buffer, 4).await;
    let id_of = |e: &SseEvent| {
        serde_json::from_str::<Value>(&e.data).expect("json")["data"]["voucherAssigned"]["node"]["id"].as_str().expect("id").to_owned()
    };
    let seen: Vec<String> = first.iter().chain(&rest).map(id_of).collect();
    assert_eq!(seen, expected(1..8));
}

async fn legacy_protocol_works(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut client = WsClient::connect(&app, "/graphql", "graphql-ws").await;
    client
        .send(json!({"type": "connection_init", "payload": {}}))
        .await;
    assert_eq!(client.recv().await["type"], "connection_ack");
    client
        .send(json!({"type": "start", "id": "1", "payload": {"query": ASSIGNED}}))
        .await;
    app.post_webhook(assignment(0)).await;
    let message = client.recv().await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("data"), Some("1")),
        "{message}"
    );
    assert_eq!(
        message["payload"]["data"]["voucherAssigned"]["node"]["id"],
        "pub_00000"
    );
    client.send(json!({"type": "stop", "id": "1"})).await;
    client.send(json!({"type": "connection_terminate"})).await;
    assert_eq!(client.closed().await.code, 1000);
}

async fn identical_subscriptions_share_one_execution(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let query = "subscription { voucherAssigned { cursor node { id } } }";
    let (mut a, mut b) = (WsClient::ready(&app).await, WsClient::ready(&app).await);
    a.subscribe("a", query, json!({})).await;
    b.subscribe("b", query, json!({})).await;
    app.post_webhook(assignment(0)).await;
    let (first_a, first_b) = (a.next_n("a", 1).await, b.next_n("b", 1).await);
    assert_eq!(first_a, first_b, "the same frame for both");
    for n in 1..4 {
        app.post_webhook(assignment(n)).await;
    }
    assert_eq!(ids(&a.next_n("a", 3).await), expected(1..4));
    assert_eq!(ids(&b.next_n("b", 3).await), expected(1..4));
    // One leaves; the other keeps receiving; a newcomer starts live from where it joins.
    a.send(json!({"type": "complete", "id": "a"})).await;
    app.post_webhook(assignment(4)).await;
    assert_eq!(ids(&b.next_n("b", 1).await), expected(4..5));
    let mut c = WsClient::ready(&app).await;
    c.subscribe("c", query, json!({})).await;
    // The newcomer is live once it sees a probe; everything after it arrives once, in order.
    let mut n = 5;
    loop {
        app.post_webhook(assignment(n)).await;
        n += 1;
        if let Some(message) = c.recv_within(Duration::from_secs(2)).await {
            assert_eq!(
                ids(&[message["payload"].clone()]),
                expected(n - 1..n),
                "{message}"
            );
            break;
        }
        assert!(n < 20, "the newcomer never went live");
    }
    for m in n..n + 3 {
        app.post_webhook(assignment(m)).await;
    }
    assert_eq!(ids(&c.next_n("c", 3).await), expected(n..n + 3));
    assert_eq!(ids(&b.next_n("b", n + 3 - 5).await), expected(5..n + 3));
    assert!(
        a.recv_within(Duration::from_millis(200)).await.is_none(),
        "nothing after complete"
    );
}

/// `after: null` (a literal, or a variable that is null or absent) resumes nothing, so such
/// subscribers share one execution like those without `after` (every dashboard tab sends it).
async fn null_after_is_shared_too(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let literal = "subscription { voucherAssigned(after: null) { cursor node { id } } }";
    let mut clients = vec![];
    for (i, (query, variables)) in [
        (literal, json!({})),
        (literal, json!({})),
        (ASSIGNED, json!({"after": null})),
        (ASSIGNED, json!({"after": null})),
        (ASSIGNED, json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let mut client = WsClient::ready(&app).await;
        client.subscribe(&format!("s{i}"), query, variables).await;
        clients.push(client);
    }
    let shared = "pubgate_shared_subscriptions";
    eventually(&app, shared, 3.0).await;
    app.post_webhook(assignment(0)).await;
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            ids(&client.next_n(&format!("s{i}"), 1).await),
            expected(0..1)
        );
    }
}

/// Waits (bounded) until the gauge `series` reads `want`.
async fn eventually(app: &TestApp, series: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let have = crate::security::metric(app, series).await;
        if have == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} stays at {have}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `n` subscribers with distinct filters that match nothing, on one connection, 50 at a time,
/// each completed again; `gone` connections that vanish with 20 subscriptions open each. Steady
/// ingest meanwhile (one delivery per 50 subscribers).
async fn come_and_go(app: &TestApp, from: usize, n: usize, gone: usize) {
    let query =
        "subscription($filter: PublicationFilter) { voucherAssigned(filter: $filter) { cursor } }";
    let filter = |name: String| json!({"filter": {"customerId": name}});
    let mut client = WsClient::ready(app).await;
    for round in (from..from + n).step_by(50) {
        for i in round..round + 50 {
            let id = format!("s{i}");
            client
                .subscribe(&id, query, filter(format!("cust_nobody_{i}")))
                .await;
        }
        app.post_webhook(assignment(round)).await;
        for i in round..round + 50 {
            client
                .send(json!({"type": "complete", "id": format!("s{i}")}))
                .await;
        }
    }
    for c in 0..gone {
        let mut vanishing = WsClient::ready(app).await;
        for i in 0..20 {
            let name = format!("cust_gone_{from}_{c}_{i}");
            vanishing
                .subscribe(&format!("g{i}"), query, filter(name))
                .await;
        }
        drop(vanishing);
    }
    drop(client);
    eventually(app, "pubgate_shared_subscriptions", 0.0).await;
    eventually(app, "pubgate_feed_subscribers", 0.0).await;
    eventually(app, "pubgate_websocket_connections", 0.0).await;
}

/// Subscribers with filters that rarely match come and go: once they have gone, no shared
/// execution, feed subscriber or task is left behind, although no event ever matched them.
async fn departed_subscribers_leave_nothing_running(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    // A first round warms up what the runtime keeps whatever the load (the test client's
    // keep-alive connection, pooled database connections); then the baseline.
    come_and_go(&app, 0, 100, 2).await;
    let before = tasks();
    come_and_go(&app, 100, 1000, 10).await;
    // A leak would be one task per departed subscriber (1,200 here); a couple of the runtime's
    // own (a keep-alive connection, a pooled connection being returned) may come and go.
    let slack = 2;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tasks() > before + slack {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} tasks alive after 1,200 departed subscribers, {before} before",
            tasks()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn server_pings_idle_clients(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |c| c.ws_ping_interval = Duration::from_millis(200)).await
    else {
        return;
    };
    let mut modern = WsClient::ready(&app).await;
    assert_eq!(modern.recv_any().await, json!({"type": "ping"}));
    modern.send(json!({"type": "pong"})).await;
    assert_eq!(
        modern.recv_any().await,
        json!({"type": "ping"}),
        "and again"
    );
    let mut legacy = WsClient::connect(&app, "/graphql", "graphql-ws").await;
    legacy.send(json!({"type": "connection_init"})).await;
    assert_eq!(legacy.recv_any().await["type"], "connection_ack");
    assert_eq!(legacy.recv_any().await["type"], "ka");
    assert_eq!(legacy.recv_any().await["type"], "ka", "keep-alive repeats");
}

async fn shutdown_closes_subscribers_with_1001(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut client = WsClient::ready(&app).await;
    client.subscribe("s", ASSIGNED, json!({})).await;
    let mut events = sse(
        &app,
        "subscription { voucherAssigned { node { id } } }",
        None,
    )
    .await;
    app.post_webhook(assignment(0)).await;
    assert_eq!(ids(&client.next_n("s", 1).await), expected(0..1));
    let mut buffer = String::new();
    sse_events(&mut events, &mut buffer, 1).await;
    // Shutdown must not wait for long-lived streams: they are ended so clients reconnect.
    let stopping = tokio::spawn(async move {
        app.shut_down().await;
        app
    });
    assert_eq!(client.closed().await.code, 1001);
    let rest = tokio::time::timeout(WAIT, async {
        while let Ok(Some(chunk)) = events.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(rest.is_ok(), "the SSE stream ends on shutdown");
    let _app = tokio::time::timeout(WAIT, stopping)
        .await
        .expect("stops in time")
        .expect("stops");
}

/// A resume position this instance's feed has not reached yet (another instance committed it
/// a moment ago, and this one relays more slowly) is honoured: nothing at or before it is sent.
/// (A position beyond everything committed is refused: tests/api/restore.rs.)
async fn resume_position_ahead_of_the_feed_is_kept(backend: Backend) {
    let Some(a) = TestApp::spawn(backend).await else {
        return;
    };
    let b = a.sibling().await;
    for n in 0..3 {
        a.post_webhook(assignment(n)).await;
    }
    let database = a
        .text("SELECT database_id FROM pubgate_sequence")
        .await
        .expect("an identity");
    let ahead = pubgate::domain::cursor::position(3, &database);
    let mut client = WsClient::ready(&b).await;
    client
        .subscribe("r", ASSIGNED, json!({"after": ahead}))
        .await;
    for n in 3..5 {
        a.post_webhook(assignment(n)).await;
    }
    // Sequence numbers 1..=5: only 4 and 5 are after the position.
    assert_eq!(ids(&client.next_n("r", 2).await), expected(3..5));
    assert!(
        client
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

/// A resume that replays more than one replay page (200 rows) gets every stored assignment
/// after its position, in order, then the live ones.
async fn a_replay_longer_than_a_page_is_whole(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for chunk in (0..450).collect::<Vec<_>>().chunks(50) {
        app.post_all(chunk.iter().map(|n| assignment(*n)).collect())
            .await;
    }
    let database = app
        .text("SELECT database_id FROM pubgate_sequence")
        .await
        .expect("an identity");
    let mut client = WsClient::ready(&app).await;
    let from = pubgate::domain::cursor::position(20, &database);
    client
        .subscribe("r", ASSIGNED, json!({"after": from}))
        .await;
    app.post_webhook(assignment(450)).await;
    let got = ids(&client.next_n("r", 431).await);
    let want: Vec<String> = app
        .texts("SELECT id FROM publications WHERE seq > 20 ORDER BY seq")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(got.len(), 431);
    assert_eq!(got, want);
}

/// With nobody subscribed, the feed reads nothing (its head just moves on); whoever subscribes
/// afterwards misses nothing: a resume replays from the store, then follows live.
async fn a_feed_nobody_follows_reads_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let statements = "pubgate_sql_statements_total{source=\"feed\"}";
    let started = std::time::Instant::now();
    let before = crate::security::metric(&app, statements).await;
    for n in 0..10 {
        assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
    }
    crate::security::metric_reaches(&app, "pubgate_feed_delivered_sequence", 10.0).await;
    let read = crate::security::metric(&app, statements).await - before;
    // At most the publisher's checks of the store's head: one per two seconds in which it has
    // heard nothing (on a loaded machine the posts can take seconds), one more whose quiet
    // period began before the posts, and on PostgreSQL the listener's catch-up read (its
    // connection may come up after the first reading above): never one per delivery.
    let checks = 3.0 + (started.elapsed().as_secs_f64() / 2.0).floor();
    assert!(
        read <= checks.min(9.0),
        "the feed ran {read} statements for 10 deliveries nobody follows (at most {checks})"
    );
    let first = cursor_of(&app, "pub_00000").await;
    let mut client = WsClient::ready(&app).await;
    client
        .subscribe("late", ASSIGNED, json!({"after": first}))
        .await;
    assert_eq!(ids(&client.next_n("late", 9).await), expected(1..10));
    assert_eq!(app.post_webhook(assignment(10)).await.0, 200);
    assert_eq!(ids(&client.next_n("late", 1).await), expected(10..11));
}

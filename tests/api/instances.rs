//! Several instances on one PostgreSQL database: every subscriber on every instance sees every
//! assignment once, in one commit order, also when its LISTEN connection is killed.

use crate::helpers::*;
use crate::subscriptions::assignment;
use crate::ws_client::*;
use futures::StreamExt;
use serde_json::{Value, json};

const ASSIGNED: &str = "subscription { voucherAssigned { cursor node { id } } }";

fn id_of(payload: &Value) -> String {
    payload["data"]["voucherAssigned"]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{payload}"))
        .to_owned()
}

/// Subscribes on `app` and waits until a probe posted to `via` arrives, so the stream is live.
/// "Live from now" may begin a little before the probe: with events this instance had not yet
/// relayed when the subscriber joined; those are skipped here.
async fn live_subscriber(app: &TestApp, via: &TestApp, probe: usize) -> WsClient {
    let mut client = WsClient::ready(app).await;
    client.subscribe("s", ASSIGNED, json!({})).await;
    via.post_webhook(assignment(probe)).await;
    let want = format!("pub_{probe:05}");
    while id_of(&client.next_n("s", 1).await[0]) != want {}
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_on_four_instances_one_order_everywhere() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (b, c, d) = (a.sibling().await, a.sibling().await, a.sibling().await);
    let mut on_a = live_subscriber(&a, &b, 0).await;
    let mut on_d = live_subscriber(&d, &c, 1).await;
    let _ = on_a.next_n("s", 1).await; // probe 1 reaches a too
    let apps = [&a, &b, &c, &d];
    // 8 concurrent writers, two per instance, 25 deliveries each.
    let writers = (0..8).map(|w| {
        let app = apps[w % 4];
        async move {
            futures::stream::iter((0..25).map(|i| 10 + w * 25 + i))
                .for_each(|n| async move {
                    assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
                })
                .await
        }
    });
    futures::future::join_all(writers).await;
    let seen_a: Vec<String> = on_a.next_n("s", 200).await.iter().map(id_of).collect();
    let seen_d: Vec<String> = on_d.next_n("s", 200).await.iter().map(id_of).collect();
    assert_eq!(
        seen_a, seen_d,
        "both instances deliver one and the same order"
    );
    let mut unique = seen_a.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 200, "every assignment exactly once");
    let commit_order: Vec<String> = a
        .texts("SELECT id FROM publications WHERE seq > 2 ORDER BY seq")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(seen_a, commit_order, "the order is commit order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_listen_connection_catches_up() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let b = a.sibling().await;
    let mut on_b = live_subscriber(&b, &a, 0).await;
    let database = a.text("SELECT current_database()").await.expect("name");
    let killed = a
        .scalar(&format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}' AND query LIKE 'LISTEN%'"
        ))
        .await;
    assert!(
        killed >= 2,
        "both instances' LISTEN connections were terminated ({killed})"
    );
    for n in 1..21 {
        assert_eq!(a.post_webhook(assignment(n)).await.0, 200);
    }
    let seen: Vec<String> = on_b.next_n("s", 20).await.iter().map(id_of).collect();
    let want: Vec<String> = (1..21).map(|n| format!("pub_{n:05}")).collect();
    assert_eq!(seen, want, "nothing lost while LISTEN reconnected");
    // And it listens again: a new event arrives promptly.
    a.post_webhook(assignment(21)).await;
    assert_eq!(id_of(&on_b.next_n("s", 1).await[0]), "pub_00021");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_unreachable_then_back_loses_no_event() {
    // An instance whose every database connection (pool and LISTEN) is cut, as by a PostgreSQL
    // restart, while another instance keeps committing.
    let Some(test_db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let (proxy, proxied) = crate::outage::Proxy::in_front_of(&test_db.url).await;
    let direct = test_db.url.clone();
    let cut_off = TestApp::spawn_on(Backend::Postgres, test_db, &proxied, |_| {}).await;
    let writer = TestApp::start_on(&direct).await;
    let mut subscriber = live_subscriber(&cut_off, &writer, 0).await;
    proxy.cut();
    for n in 1..11 {
        assert_eq!(writer.post_webhook(assignment(n)).await.0, 200);
    }
    proxy.restore();
    for n in 11..16 {
        assert_eq!(writer.post_webhook(assignment(n)).await.0, 200);
    }
    let seen: Vec<String> = subscriber.next_n("s", 15).await.iter().map(id_of).collect();
    let want: Vec<String> = (1..16).map(|n| format!("pub_{n:05}")).collect();
    assert_eq!(
        seen, want,
        "caught up in commit order, nothing lost, nothing twice"
    );
}

/// The seam between a resume and the live feed, at its equality edge: a client that saw event
/// `n` on one instance resumes with that cursor on another whose feed has not published `n`
/// yet, and whose next live batch holds `n` and `n + 1` together. It gets `n + 1` only: `n`
/// is at its resume position, so it was delivered already.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_exactly_at_an_event_the_next_live_batch_holds_repeats_nothing() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (proxy, url) = crate::outage::Proxy::in_front_of(&a.database_url).await;
    let b = TestApp::start_on(&url).await;
    // `b`'s feed has published event 1 (a subscriber there saw it).
    let on_b = live_subscriber(&b, &a, 1).await;
    // `b` can no longer read: events 2 and 3 commit on `a` meanwhile.
    proxy.cut();
    let mut on_a = live_subscriber(&a, &a, 2).await;
    a.post_webhook(assignment(3)).await;
    let seen_on_a = on_a.next_n("s", 1).await;
    assert_eq!(id_of(&seen_on_a[0]), "pub_00003");
    // The client saw event 2 (its cursor) on `a`, and resumes from it on `b`.
    let two = on_a_cursor_of(&a, "pub_00002").await;
    let mut resumed = WsClient::ready(&b).await;
    let resume =
        "subscription($after: String) { voucherAssigned(after: $after) { cursor node { id } } }";
    resumed.subscribe("r", resume, json!({"after": two})).await;
    proxy.restore();
    let first = resumed.next_n("r", 1).await;
    assert_eq!(id_of(&first[0]), "pub_00003", "event 2 was sent again");
    drop(on_b);
}

/// The `voucherAssigned` cursor of publication `id`, as a live subscriber received it.
async fn on_a_cursor_of(app: &TestApp, id: &str) -> String {
    let seq = app
        .scalar(&format!("SELECT seq FROM publications WHERE id = '{id}'"))
        .await;
    let database = app
        .text("SELECT database_id FROM pubgate_sequence")
        .await
        .expect("an identity");
    pubgate::domain::cursor::position(seq, &database)
}

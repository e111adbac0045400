//! A database restored to an earlier point, or replaced by another: cursors say which database
//! gave them out, a cursor from elsewhere or from beyond what is committed is refused with a
//! reason, live subscribers are told to start again, new ones miss nothing, and the query cache
//! never answers with what was true before.

use crate::helpers::*;
use crate::subscriptions::assignment;
use crate::ws_client::*;
use serde_json::{Value, json};

const RESUME: &str =
    "subscription($after: String) { voucherAssigned(after: $after) { cursor node { id } } }";
const LATEST: &str = "{ publications(first: 20) { edges { cursor node { id } } } }";

fn latest_ids(answer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = answer["data"]["publications"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The error that ends subscription `id`, with its code and message.
async fn refusal(client: &mut WsClient, id: &str) -> (String, String) {
    let message = client.recv().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], id, "{message}");
    let error = &message["payload"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn a_cursor_from_another_database_is_refused(backend: Backend) {
    let (Some(first), Some(second)) =
        (TestApp::spawn(backend).await, TestApp::spawn(backend).await)
    else {
        return;
    };
    for app in [&first, &second] {
        assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    }
    let page = first.graphql(LATEST, json!({})).await;
    let cursor = page["data"]["publications"]["edges"][0]["cursor"].clone();
    let mut client = WsClient::ready(&second).await;
    client
        .subscribe("r", RESUME, json!({"after": cursor}))
        .await;
    let (code, message) = refusal(&mut client, "r").await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("another database"), "{message}");
    // On the database that gave it out, the same cursor resumes.
    let mut client = WsClient::ready(&first).await;
    client
        .subscribe("r", RESUME, json!({"after": cursor}))
        .await;
    first.post_webhook(assignment(2)).await;
    let next = client.next_n("r", 1).await;
    assert_eq!(
        next[0]["data"]["voucherAssigned"]["node"]["id"],
        "pub_00002"
    );
}

async fn a_cursor_ahead_of_everything_committed_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let database = app
        .text("SELECT database_id FROM pubgate_sequence")
        .await
        .expect("an identity");
    assert!(database.len() >= 8, "{database}");
    for cursor in [
        pubgate::domain::cursor::position(5, &database),
        // A cursor made before cursors carried their database.
        base64_url("s:5"),
    ] {
        let mut client = WsClient::ready(&app).await;
        client
            .subscribe("r", RESUME, json!({"after": cursor}))
            .await;
        let (code, message) = refusal(&mut client, "r").await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert!(message.contains("ahead of everything"), "{message}");
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// The database goes back to an earlier point (as a restore from a backup would) and new
/// deliveries reuse the numbers handed out before.
async fn a_restored_database_resets_the_feed_and_the_cache(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut live = WsClient::ready(&app).await;
    live.subscribe("live", RESUME, json!({})).await;
    for n in 1..=5 {
        assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
    }
    assert_eq!(live.next_n("live", 5).await.len(), 5);
    let before = app.graphql(LATEST, json!({})).await;
    assert_eq!(latest_ids(&before).len(), 5);
    // Back to the point after event 2.
    for sql in [
        "DELETE FROM publication_vouchers WHERE publication_id IN \
         (SELECT id FROM publications WHERE seq > 2)",
        "DELETE FROM publications WHERE seq > 2",
        "DELETE FROM webhook_events WHERE id > 2",
        "UPDATE pubgate_sequence SET value = 2",
    ] {
        app.execute(sql).await;
    }
    for n in 11..=13 {
        assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
    }
    let (code, message) = refusal(&mut live, "live").await;
    assert_eq!(code, "DATABASE_CHANGED", "{message}");
    // The head is 5 again, as when the page was cached: the answer is today's all the same.
    let again = app.graphql(LATEST, json!({})).await;
    let want: Vec<String> = [1, 2, 11, 12, 13]
        .into_iter()
        .map(|n| format!("pub_{n:05}"))
        .collect();
    assert_eq!(
        latest_ids(&again),
        want,
        "not the page from before the restore"
    );
    // A new subscriber misses nothing from here on, although the numbers were used before:
    // it may start with deliveries committed since the restore that the feed relays after it
    // joined, then every one, in order.
    let mut fresh = WsClient::ready(&app).await;
    fresh.subscribe("fresh", RESUME, json!({})).await;
    let mut seen: Vec<usize> = vec![];
    let mut n = 14;
    assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
    while seen.last() != Some(&n) {
        let Some(message) = fresh.recv_within(std::time::Duration::from_secs(2)).await else {
            n += 1;
            assert!(n < 20, "the new subscriber never went live: {seen:?}");
            assert_eq!(app.post_webhook(assignment(n)).await.0, 200);
            continue;
        };
        let id = message["payload"]["data"]["voucherAssigned"]["node"]["id"].clone();
        let number = id
            .as_str()
            .and_then(|id| id.strip_prefix("pub_"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{message}"));
        seen.push(number);
    }
    let first = seen[0];
    assert!(first >= 11, "{seen:?}");
    assert_eq!(seen, (first..=n).collect::<Vec<_>>(), "in order, each once");
    // The page is today's, not the one cached before the restore at the same head.
    let after = app.graphql(LATEST, json!({})).await;
    let mut want: Vec<String> = [1, 2, 11, 12, 13]
        .into_iter()
        .chain(14..=n)
        .map(|n| format!("pub_{n:05}"))
        .collect();
    want.sort();
    assert_eq!(latest_ids(&after), want);
}

crate::on_both!(
    a_cursor_from_another_database_is_refused,
    a_cursor_ahead_of_everything_committed_is_refused,
    a_restored_database_resets_the_feed_and_the_cache,
);

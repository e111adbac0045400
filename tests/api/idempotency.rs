//! Exactly once: repeated and racing deliveries store one row.

use crate::helpers::*;
use crate::on_both;
use reqwest::StatusCode;
use serde_json::json;

on_both!(
    repeated_delivery_is_a_duplicate,
    fifty_racing_copies_store_one_row,
    key_is_source_and_event_then_envelope_then_hash,
);

async fn repeated_delivery_is_a_duplicate(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = bytes(&envelope("customer.publication.succeeded", "evcus_1"));
    let (_, first) = app.post_webhook(body.clone()).await;
    let (status, second) = app.post_webhook(body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["status"], "duplicate");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(app.count("webhook_events").await, 1);
    assert_eq!(app.count("publications").await, 1);
}

async fn fifty_racing_copies_store_one_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = bytes(&envelope("publication.succeeded", "evcus_race"));
    let answers = futures::future::join_all((0..50).map(|_| app.post_webhook(body.clone()))).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, answer)| {
            assert_eq!(*status, StatusCode::OK, "{answer}");
            answer["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every copy names the same event");
    let stored = answers
        .iter()
        .filter(|(_, a)| a["status"] == "stored")
        .count();
    assert_eq!(stored, 1, "exactly one copy is stored");
    assert_eq!(app.count("webhook_events").await, 1);
    assert_eq!(app.count("publications").await, 1);
}

async fn key_is_source_and_event_then_envelope_then_hash(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The same event re-sent in a new send-out (new envelope id) is still the same event.
    let mut first = envelope("customer.publication.succeeded", "evcus_k");
    let (_, a) = app.post_webhook(bytes(&first)).await;
    first["id"] = json!("whs_resend");
    let (_, b) = app.post_webhook(bytes(&first)).await;
    assert_eq!(
        (b["status"].as_str(), &b["id"]),
        (Some("duplicate"), &a["id"])
    );
    // The same event id from another source is another event.
    first["source"]["id"] = json!("distr_other");
    assert_eq!(app.post_webhook(bytes(&first)).await.1["status"], "stored");
    // Without an event, the envelope id is the key.
    let no_event = json!({"id": "whs_only", "type": "x", "data": {}});
    assert_eq!(
        app.post_webhook(bytes(&no_event)).await.1["status"],
        "stored"
    );
    let same_id = json!({"id": "whs_only", "type": "y", "data": {"changed": true}});
    assert_eq!(
        app.post_webhook(bytes(&same_id)).await.1["status"],
        "duplicate"
    );
    // Without either, the body's hash is the key: the same bytes are a duplicate, others not.
    let raw = fixture(
        "envelopes/RAW.distribution.payload-designer.raw-payload.docs-distribution-webhooks.json",
    );
    assert_eq!(app.post_webhook(raw.clone()).await.1["status"], "stored");
    assert_eq!(app.post_webhook(raw).await.1["status"], "duplicate");
    assert_eq!(
        app.post_webhook(b"{\"To\":\"other\"}".to_vec()).await.1["status"],
        "stored"
    );
    assert_eq!(app.count("webhook_events").await, 5);
}

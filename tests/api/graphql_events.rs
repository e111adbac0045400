//! `webhookEvents` / `webhookEvent` over HTTP: paging both ways, filters, limits, errors.

use crate::helpers::*;
use crate::on_both;
use serde_json::{Value, json};

on_both!(
    pages_forwards_and_backwards_without_gaps,
    filters_and_lookups,
    limits_are_graphql_errors
);

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  webhookEvents(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

async fn seed(app: &TestApp, n: usize) {
    for i in 0..n {
        let body = wrap(
            "customer.updated",
            &format!("ev_{i}"),
            json!({"customer": {"id": format!("cust_{i}")}}),
        );
        assert_eq!(app.post_webhook(bytes(&body)).await.0, 200);
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            e["node"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("numeric")
        })
        .collect()
}

async fn pages_forwards_and_backwards_without_gaps(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 25).await;
    // Forwards, newest first, 7 at a time.
    let (mut seen, mut after) = (vec![], Value::Null);
    loop {
        let answer = app.graphql(PAGE, json!({"first": 7, "after": after})).await;
        let page = &answer["data"]["webhookEvents"];
        seen.extend(ids(page));
        if !page["pageInfo"]["hasNextPage"].as_bool().expect("bool") {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<i64> = (1..=25).rev().collect();
    assert_eq!(seen, expected);
    // Backwards from the end: every page keeps the newest-first order.
    let (mut pages, mut before) = (vec![], Value::Null);
    loop {
        let answer = app
            .graphql(PAGE, json!({"last": 7, "before": before}))
            .await;
        let page = &answer["data"]["webhookEvents"];
        let page_ids = ids(page);
        assert!(page_ids.windows(2).all(|w| w[0] > w[1]), "{page_ids:?}");
        pages.push(page_ids);
        if !page["pageInfo"]["hasPreviousPage"].as_bool().expect("bool") {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    let backwards: Vec<i64> = pages.into_iter().rev().flatten().collect();
    assert_eq!(backwards, expected);
    // `last` without `before` is the last N of the order: the oldest.
    let answer = app.graphql(PAGE, json!({"last": 3})).await;
    assert_eq!(ids(&answer["data"]["webhookEvents"]), vec![3, 2, 1]);
}

async fn filters_and_lookups(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 3).await;
    let raw = fixture(
        "envelopes/RAW.distribution.payload-designer.raw-payload.docs-distribution-webhooks.json",
    );
    app.post_webhook(raw).await;
    let query = |filter: Value| {
        let app = &app;
        async move {
            let answer = app
                .graphql("query($f: WebhookEventFilter) { webhookEvents(filter: $f) { totalCount nodes { id type } } }", json!({"f": filter}))
                .await;
            answer["data"]["webhookEvents"]["totalCount"]
                .as_i64()
                .unwrap_or(-1)
        }
    };
    assert_eq!(query(json!({"type": "customer.updated"})).await, 3);
    assert_eq!(query(json!({"type": "unknown"})).await, 1);
    assert_eq!(query(json!({"normalized": true})).await, 3);
    assert_eq!(
        query(json!({"normalized": false, "type": "unknown"})).await,
        1
    );
    assert_eq!(
        query(json!({"receivedAfter": "2000-01-01T00:00:00Z"})).await,
        4
    );
    assert_eq!(
        query(json!({"receivedBefore": "2000-01-01T00:00:00Z"})).await,
        0
    );
    let one = app
        .graphql(r#"{ webhookEvent(id: "1") { id type eventName eventId deliveryId sourceId projectId occurredAt signatureVerified payload } }"#, Value::Null)
        .await;
    let event = &one["data"]["webhookEvent"];
    assert_eq!(event["eventId"], "ev_0");
    assert_eq!(event["deliveryId"], "whs_ev_0");
    assert_eq!(event["eventName"], "Test-webhook");
    assert_eq!(event["occurredAt"], "2024-03-13T13:45:59.492Z");
    assert_eq!(event["signatureVerified"], true);
    assert_eq!(event["payload"]["data"]["customer"]["id"], "cust_0");
    for missing in ["999", "abc"] {
        let none = app
            .graphql(
                &format!(r#"{{ webhookEvent(id: "{missing}") {{ id }} }}"#),
                Value::Null,
            )
            .await;
        assert_eq!(none["data"]["webhookEvent"], Value::Null, "{none}");
    }
}

async fn limits_are_graphql_errors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 1).await;
    for (variables, fragment) in [
        (json!({"first": 501}), "between 0 and 500"),
        (json!({"last": -1}), "between 0 and 500"),
        (json!({"first": 1, "last": 1}), "not both"),
        (json!({"after": "bm90LWEtY3Vyc29y"}), "not a valid cursor"),
        (json!({"before": "%%%"}), "not a valid cursor"),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({"query": PAGE, "variables": variables}))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("json");
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(fragment)),
            "{answer}"
        );
    }
    // Depth is limited by configuration; over the limit is an error, never a 500.
    let Some(shallow) = TestApp::spawn_with(backend, |c| c.query_depth = 3).await else {
        return;
    };
    let response = shallow
        .client
        .post(shallow.url("/graphql"))
        .json(&json!({"query": "{ webhookEvents { edges { node { id } } } }"}))
        .send()
        .await
        .expect("answer");
    // A request error: 400 as application/graphql-response+json, and nothing executed.
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.expect("json");
    assert!(answer.get("data").is_none(), "{answer}");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep")),
        "{answer}"
    );
    let fine = shallow
        .graphql("{ webhookEvents { totalCount } }", Value::Null)
        .await;
    assert!(fine["errors"].is_null(), "{fine}");
}

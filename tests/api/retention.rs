//! `--retain-raw-days`: the raw bodies of normalised events older than N days go (payload null,
//! payloadRemovedAt set), everything normalised from them stays, bodies of flagged events and
//! newer ones stay; two instances remove each body once; the migration keeps every row.

use crate::helpers::*;
use crate::on_both;
use crate::security::metric;
use crate::ws_client::{sse, sse_events};
use chrono::{DateTime, TimeDelta, Utc};
use entity::webhook_event;
use pubgate::simulate::Generator;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

/// Everything normalised that a client can read.
const NORMALISED: &str = "{ publications(first: 50) { nodes { id createdAt channel \
     customer { id name email sourceId } voucher { id code type categories { id name } } \
     campaign { id name } } } customers(first: 50) { nodes { id name email } } \
     vouchers(first: 50) { nodes { id code type } } campaigns(first: 50) { nodes { id name } } }";

/// The stored deliveries, oldest first, with their bodies.
const EVENTS: &str = "{ webhookEvents(first: 50) { edges { cursor node { id normalized \
     payload payloadRemovedAt } } } }";

const TABLES: [&str; 7] = [
    "publications",
    "publication_vouchers",
    "customers",
    "vouchers",
    "voucher_categories",
    "campaigns",
    "categories",
];

/// A delivery pubgate stores but cannot normalise (no `data`: payload-designer output).
fn designed() -> Vec<u8> {
    bytes(&json!({"id": "whs_designed", "customer": {"id": "cust_designed"}, "points": 10}))
}

/// The stored events, oldest first: (id, cursor, normalized, payload, payloadRemovedAt).
async fn events(app: &TestApp) -> Vec<(String, String, bool, Value, Value)> {
    let answer = app.graphql(EVENTS, Value::Null).await;
    let edges = answer["data"]["webhookEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .clone();
    edges
        .into_iter()
        .rev()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["id"].as_str().expect("id").to_owned(),
                edge["cursor"].as_str().expect("cursor").to_owned(),
                node["normalized"].as_bool().expect("normalized"),
                node["payload"].clone(),
                node["payloadRemovedAt"].clone(),
            )
        })
        .collect()
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut counts = vec![];
    for table in TABLES {
        counts.push(app.count(table).await);
    }
    counts
}

/// Posts the flagged delivery, then six normalised ones; returns their ids in that order.
async fn post_deliveries(app: &TestApp) -> Vec<String> {
    let mut generator = Generator::new(31, 4, 3, 0.0);
    let bodies = std::iter::once(designed()).chain((0..6).map(|_| generator.next_body()));
    let mut ids = vec![];
    for body in bodies {
        let (status, answer) = app.post_webhook(body).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["id"].as_str().expect("an id").to_owned());
    }
    ids
}

/// Sets the received time of events `ids` to `at`, behind the gateway's back.
async fn backdate(app: &TestApp, ids: &[String], at: DateTime<Utc>) {
    let ids: Vec<i64> = ids.iter().map(|id| id.parse().expect("a number")).collect();
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::ReceivedAt, Expr::value(at))
        .filter(webhook_event::Column::Id.is_in(ids))
        .exec(&app.db)
        .await
        .expect("backdated");
}

async fn sum(apps: &[&TestApp], series: &str) -> f64 {
    let mut total = 0.0;
    for app in apps {
        total += metric(app, series).await;
    }
    total
}

/// Waits (bounded) until `done` holds.
async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const REMOVED: &str = "pubgate_raw_bodies_removed_total";
const RUNS: &str = "pubgate_raw_retention_runs_total";

async fn old_bodies_of_normalised_events_go_and_nothing_else(backend: Backend) {
    let retain = |c: &mut pubgate::Config| {
        c.retain_raw_days = Some(2);
        c.raw_retention_every = Duration::from_millis(50);
    };
    let Some(app) = TestApp::spawn_with(backend, retain).await else {
        return;
    };
    let other = app.sibling_with(retain).await;
    let ids = post_deliveries(&app).await;
    let before = events(&app).await;
    assert_eq!(before.len(), 7);
    assert!(
        !before[0].2 && before[1..].iter().all(|e| e.2),
        "{before:?}"
    );
    assert!(before.iter().all(|e| e.3.is_object() && e.4.is_null()));
    let (normalised, tables) = (
        app.graphql(NORMALISED, Value::Null).await,
        counts(&app).await,
    );
    assert!(tables.iter().all(|n| *n > 0), "{tables:?}");

    // The flagged event and four normalised ones were received three days ago.
    let (old, new) = ids.split_at(5);
    let backdated = Utc::now() - TimeDelta::days(3);
    backdate(&app, old, backdated).await;
    let both = [&app, &other];
    wait_for("four bodies removed", || async {
        sum(&both, REMOVED).await >= 4.0
    })
    .await;
    // Then one more whole pass on each instance: nothing else goes.
    let runs = [metric(&app, RUNS).await, metric(&other, RUNS).await];
    wait_for("another pass on each", || async {
        metric(&app, RUNS).await > runs[0] && metric(&other, RUNS).await > runs[1]
    })
    .await;
    assert_eq!(sum(&both, REMOVED).await, 4.0);

    // The same request as before (the query cache must not answer it from before).
    let after = events(&app).await;
    for (n, (event, earlier)) in after.iter().zip(&before).enumerate() {
        assert_eq!((&event.0, event.2), (&earlier.0, earlier.2));
        if (1..5).contains(&n) {
            assert!(event.3.is_null(), "{event:?}");
            let at = event.4.as_str().expect("payloadRemovedAt");
            let at = DateTime::parse_from_rfc3339(at).expect("a DateTime");
            assert!(at > Utc::now() - TimeDelta::minutes(5), "{at}");
        } else {
            assert_eq!(
                (&event.3, &event.4),
                (&earlier.3, &Value::Null),
                "kept: {event:?}"
            );
        }
    }
    assert_eq!(
        before[0].3,
        serde_json::from_slice::<Value>(&designed()).expect("JSON")
    );
    assert_eq!(app.graphql(NORMALISED, Value::Null).await, normalised);
    assert_eq!(counts(&app).await, tables);
    let gone = "SELECT COUNT(*) FROM webhook_events WHERE body IS NULL \
                AND payload_removed_at IS NOT NULL";
    assert_eq!(app.scalar(gone).await, 4);
    assert_eq!(app.count("webhook_events").await, 7);
    assert_eq!(new.len(), 2);

    // A replay says the same: after the flagged event, four without payload, two with.
    let query = format!(
        "subscription {{ webhookEventReceived(after: \"{}\") {{ node {{ id payload \
         payloadRemovedAt }} }} }}",
        before[0].1
    );
    let mut stream = sse(&app, &query, None).await;
    let frames = sse_events(&mut stream, &mut String::new(), 6).await;
    let nodes: Vec<Value> = frames
        .iter()
        .map(|f| serde_json::from_str::<Value>(&f.data).expect("JSON"))
        .map(|f| f["data"]["webhookEventReceived"]["node"].clone())
        .collect();
    for (n, node) in nodes.iter().enumerate() {
        assert_eq!(node["id"], json!(ids[n + 1]));
        assert_eq!(node["payload"].is_null(), n < 4, "{node}");
        assert_eq!(node["payloadRemovedAt"].is_null(), n >= 4, "{node}");
    }
}

/// How many migrations `down` must undo to undo the retention one (it and those after it).
fn down_to_retention() -> Option<u32> {
    use migration::{Migrator, MigratorTrait};
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let at = names
        .iter()
        .position(|n| n == "m20261203_000003_raw_retention")
        .expect("the retention migration is registered");
    Some((names.len() - at) as u32)
}

/// Applied to a store with deliveries (publications referencing their events), undone and
/// applied again, the migration keeps every row, body and reference.
async fn the_retention_migration_keeps_every_row(backend: Backend) {
    use migration::{Migrator, MigratorTrait};
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let ids = post_deliveries(&app).await;
    let (stored, normalised, tables) = (
        events(&app).await,
        app.graphql(NORMALISED, Value::Null).await,
        counts(&app).await,
    );
    app.shut_down().await;
    Migrator::down(&app.db, down_to_retention())
        .await
        .expect("the retention migration undone");
    Migrator::up(&app.db, None).await.expect("and done again");
    let again = TestApp::start_on(&app.database_url).await;
    assert_eq!(events(&again).await, stored);
    assert_eq!(again.graphql(NORMALISED, Value::Null).await, normalised);
    assert_eq!(counts(&again).await, tables);
    let (status, answer) = again.post_webhook(designed()).await;
    assert_eq!(
        (status.as_u16(), &answer["status"]),
        (200, &json!("duplicate"))
    );
    assert_eq!(answer["id"], json!(ids[0]));
    // Once a body is gone, the migration cannot be undone: body could not be NOT NULL.
    let id: i64 = ids[1].parse().expect("a number");
    webhook_event::Entity::update_many()
        .col_expr(
            webhook_event::Column::Body,
            Expr::value(Option::<String>::None),
        )
        .filter(webhook_event::Column::Id.eq(id))
        .exec(&again.db)
        .await
        .expect("removed");
    let err = Migrator::down(&again.db, down_to_retention())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--retain-raw-days"), "{err}");
}

on_both!(
    old_bodies_of_normalised_events_go_and_nothing_else,
    the_retention_migration_keeps_every_row,
);

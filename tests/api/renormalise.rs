//! `pubgate renormalise`: the normalised tables rebuilt from the stored raw bodies equal the
//! ones ingest built, row for row; a body an older version flagged is normalised now, counted
//! once and relayed to no live subscriber twice; ingest carries on while it runs.

use crate::helpers::{Backend, TestApp, WAIT, bytes, fixture_json, wrap};
use crate::on_both;
use crate::subscriptions::assignment;
use crate::voucherify_mock::{self as mock, APP_ID, APP_TOKEN, Mock, listing};
use crate::ws_client::WsClient;
use chrono::{Duration as TimeDelta, Utc};
use pubgate::backfill::{Backfill, Credentials, Patience};
use pubgate::store::renormalise;
use sea_orm::{FromQueryResult, JsonValue, Statement};
use serde_json::json;
use std::time::Duration;

on_both!(
    renormalise_rebuilds_every_normalised_table_exactly,
    a_body_an_older_version_flagged_is_normalised_once_while_ingest_goes_on,
);

/// Every normalised table (and each event's flag), in a fixed order.
const TABLES: [(&str, &str); 10] = [
    ("customers", "id"),
    ("campaigns", "id"),
    ("categories", "id"),
    ("vouchers", "id"),
    ("voucher_categories", "voucher_id, category_id"),
    ("publications", "id"),
    ("publication_vouchers", "publication_id, position"),
    (
        "assignment_counts",
        "width, minute, voucher_type, campaign_id, channel",
    ),
    ("assignment_totals", "width, minute, dimension, value"),
    ("webhook_events", "id"),
];

/// The tables, every appended change to the assignment counts folded.
async fn snapshot(app: &TestApp) -> Vec<Vec<JsonValue>> {
    app.fold_counts().await;
    let mut all = vec![];
    for (table, order) in TABLES {
        let columns = match table {
            "webhook_events" => "id, normalized, normalization_note",
            _ => "*",
        };
        let sql = format!("SELECT {columns} FROM {table} ORDER BY {order}");
        let statement = Statement::from_string(app.db.get_database_backend(), sql);
        all.push(
            JsonValue::find_by_statement(statement)
                .all(&app.db)
                .await
                .expect("a table"),
        );
    }
    all
}

async fn renormalise_rebuilds_every_normalised_table_exactly(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A corpus: every documented example payload, generated assignments posted concurrently
    // (so batched), and publications read from the REST API.
    let mut bodies = vec![];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".data.openapi-events.json"))
        .collect();
    files.sort();
    for (n, name) in files.iter().enumerate() {
        let event_type = name.trim_end_matches(".data.openapi-events.json");
        let data = fixture_json(&format!("data/{name}"));
        bodies.push(bytes(&wrap(event_type, &format!("evt_corpus_{n}"), data)));
    }
    for body in &bodies {
        app.post_webhook(body.clone()).await;
    }
    let mut generator = pubgate::simulate::Generator::new(7, 25, 6, 0.05);
    app.post_all((0..300).map(|_| generator.next_body()).collect())
        .await;
    let listed = listing(40, Utc::now() - TimeDelta::days(1));
    let api = Mock::new(listed, mock::campaigns(), 1000);
    let url = api.serve().await;
    let backfill = Backfill::open(
        &app.database_url,
        Credentials {
            url,
            app_id: APP_ID.into(),
            app_token: APP_TOKEN.into(),
        },
        Patience {
            retries: 1,
            backoff: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
        },
        indicatif::ProgressBar::hidden(),
    )
    .await
    .expect("opens");
    backfill
        .run(Utc::now() - TimeDelta::days(2), Utc::now(), true)
        .await
        .expect("backfilled");
    let before = snapshot(&app).await;
    assert!(before[5].len() > 300, "{} publications", before[5].len());

    for (table, _) in TABLES.iter().rev().skip(1) {
        app.execute(&format!("DELETE FROM {table}")).await;
    }
    assert_eq!(app.count("publications").await, 0);
    match backend {
        // As a user runs it, beside the running gateway.
        Backend::Sqlite => {
            let ran = tokio::time::timeout(
                WAIT,
                tokio::process::Command::new(env!("CARGO_BIN_EXE_pubgate"))
                    .args([
                        "renormalise",
                        "--quiet",
                        "--database-url",
                        &app.database_url,
                    ])
                    .output(),
            )
            .await
            .expect("it ends")
            .expect("it runs");
            let stdout = String::from_utf8_lossy(&ran.stdout);
            assert!(
                ran.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&ran.stderr)
            );
            assert!(
                stdout.contains("0 newly understood, 0 no longer understood"),
                "{stdout}"
            );
        }
        Backend::Postgres => {
            let db = pubgate::store::connect(&app.database_url, 2)
                .await
                .expect("connects");
            let summary = renormalise::run(&db, |_| {}).await.expect("runs");
            assert_eq!(summary.restated.now_normalised, 0, "{summary}");
            assert_eq!(summary.events, before[9].len() as u64);
        }
    }
    let after = snapshot(&app).await;
    for (n, (table, _)) in TABLES.iter().enumerate() {
        assert_eq!(after[n].len(), before[n].len(), "{table}");
        for (row, (a, b)) in after[n].iter().zip(&before[n]).enumerate() {
            assert_eq!(a, b, "{table} row {row}");
        }
    }
}

const ASSIGNED: &str = "subscription { voucherAssigned { node { id } } }";

async fn a_body_an_older_version_flagged_is_normalised_once_while_ingest_goes_on(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut client = WsClient::ready(&app).await;
    client.subscribe("1", ASSIGNED, json!({})).await;
    app.post_webhook(assignment(0)).await;
    assert_eq!(client.next_n("1", 1).await.len(), 1);
    for n in 1..5 {
        app.post_webhook(assignment(n)).await;
    }
    assert_eq!(client.next_n("1", 4).await.len(), 4);
    // What an older version stored for a body it did not understand: the raw event, flagged,
    // nothing normalised, committed as the newest event.
    let old = String::from_utf8(assignment(7)).expect("text");
    let id = app.scalar("SELECT MAX(id) FROM webhook_events").await + 1;
    app.execute(&format!(
        "INSERT INTO webhook_events (id, idempotency_key, event_type, received_at, \
         signature_verified, normalized, normalization_note, body) SELECT {id}, 'event:old:7', \
         event_type, received_at, signature_verified, false, 'not understood by an older \
         version', '{old}' FROM webhook_events WHERE id = 1"
    ))
    .await;
    app.execute(&format!("UPDATE pubgate_sequence SET value = {id}"))
        .await;
    assert_eq!(app.count("publications").await, 5);
    // The live feed has relayed that event (it had nothing to relay) before the renormalising.
    crate::security::metric_reaches(&app, "pubgate_feed_delivered_sequence", id as f64).await;

    // Renormalise while deliveries keep arriving.
    let db = pubgate::store::connect(&app.database_url, 2)
        .await
        .expect("connects");
    let arriving = async {
        for n in 10..30 {
            let (status, _) = app.post_webhook(assignment(n)).await;
            assert_eq!(status, 200);
        }
    };
    let (summary, ()) = tokio::join!(renormalise::run(&db, |_| {}), arriving);
    let summary = summary.expect("runs");
    assert_eq!(summary.restated.now_normalised, 1, "{summary}");
    assert_eq!(summary.restated.now_flagged, 0, "{summary}");

    // Every live assignment once, in commit order, and none again for what was stored before;
    // the one found in the old event is stored and counted, without a live frame.
    let frames = client.next_n("1", 20).await;
    let ids: Vec<_> = frames
        .iter()
        .map(|f| f["data"]["voucherAssigned"]["node"]["id"].clone())
        .collect();
    let want: Vec<_> = (10..30).map(|n| json!(format!("pub_{n:05}"))).collect();
    assert_eq!(ids, want);
    app.post_webhook(assignment(99)).await;
    assert_eq!(
        client.next_n("1", 1).await[0]["data"]["voucherAssigned"]["node"]["id"],
        "pub_00099"
    );
    let answer = app
        .graphql(
            "{ publication(id: \"pub_00007\") { id event { normalized } }
               publications { totalCount }
               assignmentStats(from: \"2024-01-01T00:00:00Z\", to: \"2025-01-01T00:00:00Z\",
                               bucket: DAY) { total } }",
            json!({}),
        )
        .await;
    assert_eq!(
        answer["data"]["publication"],
        json!({"id": "pub_00007", "event": {"normalized": true}}),
        "{answer}"
    );
    assert_eq!(answer["data"]["publications"]["totalCount"], 27);
    assert_eq!(answer["data"]["assignmentStats"]["total"], 27);
}

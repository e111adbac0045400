//! Group commit stores a batch in a few multi-row statements; the result must be exactly what
//! storing the same deliveries one at a time, in the same commit order, stores.

use crate::helpers::*;
use serde_json::json;

/// Delivery `i`: three customers, four vouchers and two campaigns updated out of order, types
/// sometimes left to the campaign, categories sometimes carried, some publications repeated.
fn delivery(i: usize) -> Vec<u8> {
    let second = |k: usize| format!("2024-01-01T00:00:{:02}Z", (i * k) % 60);
    let mut voucher = json!({
        "id": format!("v_{}", i % 4), "code": format!("CODE-{}", i % 4),
        "campaign_id": format!("camp_{}", i % 2), "updated_at": second(11),
        "holder_id": format!("holder_{}", i % 5),
        "discount": {"type": "AMOUNT", "amount_off": i * 10},
    });
    if !i.is_multiple_of(5) {
        voucher["type"] = json!("DISCOUNT_VOUCHER");
    }
    if i.is_multiple_of(2) {
        voucher["categories"] =
            json!([{"id": format!("cat_{}", i % 3), "name": format!("Category {i}")}]);
    }
    let data = json!({
        "customer": {"id": format!("cust_{}", i % 3), "name": format!("Name {i}"),
                     "email": format!("c{i}@example.com"), "updated_at": second(7)},
        "campaign": {"id": format!("camp_{}", i % 2), "name": format!("Campaign {i}"),
                     "voucher_type": if i.is_multiple_of(3) { "GIFT_VOUCHER" } else { "DISCOUNT_VOUCHER" },
                     "updated_at": second(13)},
        "publication": {"id": format!("pub_{}", i % 40), "customer_id": format!("cust_{}", i % 3),
                        "created_at": "2024-05-01T10:00:00Z"},
        "voucher": voucher,
    });
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("ev_{i}"),
        data,
    ))
}

/// Every stored row that normalisation decides, as text, in a stable order.
async fn dump(app: &TestApp) -> Vec<Option<String>> {
    let mut all = vec![];
    for sql in [
        "SELECT id || '|' || COALESCE(name, '') || '|' || COALESCE(email, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM customers ORDER BY id",
        "SELECT id || '|' || name || '|' || COALESCE(voucher_type, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM campaigns ORDER BY id",
        "SELECT id || '|' || voucher_type || '|' || COALESCE(holder_id, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM vouchers ORDER BY id",
        "SELECT id || '|' || name FROM categories ORDER BY id",
        "SELECT voucher_id || '|' || category_id FROM voucher_categories ORDER BY voucher_id, category_id",
        "SELECT id || '|' || customer_id || '|' || voucher_id || '|' || CAST(seq AS TEXT) FROM publications ORDER BY id",
        "SELECT publication_id || '|' || voucher_id || '|' || CAST(position AS TEXT) FROM publication_vouchers ORDER BY publication_id, voucher_id",
    ] {
        all.extend(app.texts(sql).await);
    }
    all
}

async fn a_batch_stores_what_one_by_one_stores(backend: Backend) {
    let Some(batched) = TestApp::spawn(backend).await else {
        return;
    };
    let bodies: Vec<Vec<u8>> = (0..64).map(delivery).collect();
    // All at once: the writer takes them in batches.
    batched.post_all(bodies.clone()).await;
    let order = batched
        .texts("SELECT event_id FROM webhook_events ORDER BY id")
        .await;
    // The same deliveries one at a time, in the order the batches committed them, through the
    // reference path (each delivery's rows applied on their own, row by row).
    let Some(single) = TestApp::spawn_with(backend, |c| c.ingest_one_by_one = true).await else {
        return;
    };
    for event in &order {
        let n: usize = event
            .as_deref()
            .and_then(|e| e.strip_prefix("ev_"))
            .and_then(|n| n.parse().ok())
            .expect("an event id");
        let (status, answer) = single.post_webhook(delivery(n)).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    }
    let (from_batches, from_singles) = (dump(&batched).await, dump(&single).await);
    assert!(from_batches.len() > 20, "{from_batches:?}");
    assert_eq!(from_batches, from_singles);
    // And the batches really were batches.
    let statements = batched
        .statements
        .load(std::sync::atomic::Ordering::Relaxed);
    let singles = single.statements.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        statements < singles,
        "batched {statements} statements vs one by one {singles}"
    );
}

crate::on_both!(a_batch_stores_what_one_by_one_stores);

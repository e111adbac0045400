//! A subscription replays with a filter's SQL rendering and follows live rows with its
//! in-memory one: over a varied corpus and every kind of filter term, both must select exactly
//! the same publications.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use pubgate::store::publications::{self, PublicationFilter};
use pubgate::store::related::{self, Wants};
use serde_json::json;
use std::collections::BTreeSet;

/// Publication `i`: five customers (some only referenced, without a source id), three
/// campaigns, vouchers of three types and codes, one or two vouchers per publication, four
/// channels, creation times a minute apart.
fn delivery(i: usize) -> Vec<u8> {
    let customer = format!("cust_{}", i % 5);
    let channel = ["API", "Email", "SMS", "Webhook"][i % 4];
    let kind = ["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"][i % 3];
    let mut data = json!({
        "publication": {
            "id": format!("pub_{i}"), "customer_id": customer,
            "created_at": format!("2024-05-01T10:{:02}:00Z", i % 60),
            "channel": channel,
            "vouchers_id": [format!("v_{}", i % 7), format!("v_{}", (i + 3) % 7)],
        },
        "vouchers": [
            {"id": format!("v_{}", i % 7), "code": format!("CODE-{}", i % 7),
             "type": kind,
             "campaign_id": format!("camp_{}", i % 3)},
        ],
    });
    if !i.is_multiple_of(3) {
        data["vouchers"].as_array_mut().expect("list").push(json!({
            "id": format!("v_{}", (i + 3) % 7), "code": format!("CODE-{}", (i + 3) % 7),
            "type": "GIFT_VOUCHER", "campaign_id": format!("camp_{}", i % 3),
        }));
    }
    // Some without a channel: a filter on one never matches them, live as in SQL.
    if i % 10 == 9 {
        data["publication"]
            .as_object_mut()
            .expect("object")
            .remove("channel");
    }
    if i % 5 < 3 {
        data["customer"] = json!({"id": customer, "source_id": format!("src-{}", i % 5)});
    }
    if i.is_multiple_of(2) {
        data["campaign"] =
            json!({"id": format!("camp_{}", i % 3), "name": format!("Campaign {}", i % 3)});
    }
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("ev_f{i}"),
        data,
    ))
}

fn time(minute: u32) -> DateTime<Utc> {
    format!("2024-05-01T10:{minute:02}:00Z")
        .parse()
        .expect("time")
}

/// Single terms over every path, values that match some, all or none, and combinations.
fn filters() -> Vec<PublicationFilter> {
    let text = |values: &[&str]| -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    };
    let mut all = vec![PublicationFilter::default()];
    let each = |set: fn(&mut PublicationFilter, Option<String>), values: Vec<Option<String>>| {
        values.into_iter().map(move |v| {
            let mut f = PublicationFilter::default();
            set(&mut f, v);
            f
        })
    };
    all.extend(each(
        |f, v| f.customer_id = v,
        text(&["cust_1", "cust_4", "nobody"]),
    ));
    all.extend(each(
        |f, v| f.customer_source_id = v,
        text(&["src-0", "src-3", ""]),
    ));
    all.extend(each(|f, v| f.campaign_id = v, text(&["camp_2", "camp_9"])));
    all.extend(each(
        |f, v| f.campaign_name = v,
        text(&["Campaign 1", "camp_1", "x"]),
    ));
    all.extend(each(
        |f, v| f.voucher_code = v,
        text(&["CODE-3", "CODE-6", "CODE"]),
    ));
    all.extend(each(
        |f, v| f.voucher_type = v,
        text(&["GIFT_VOUCHER", "LOYALTY_CARD"]),
    ));
    all.extend(each(|f, v| f.voucher_id = v, text(&["v_0", "v_5", "v_x"])));
    all.extend(each(|f, v| f.channel = v, text(&["SMS", "api"])));
    for minute in [0, 7, 30, 59] {
        all.push(PublicationFilter {
            created_after: Some(time(minute)),
            ..Default::default()
        });
        all.push(PublicationFilter {
            created_before: Some(time(minute)),
            ..Default::default()
        });
    }
    all.push(PublicationFilter {
        voucher_type: Some("GIFT_VOUCHER".into()),
        channel: Some("Email".into()),
        created_after: Some(time(10)),
        created_before: Some(time(50)),
        ..Default::default()
    });
    all.push(PublicationFilter {
        customer_source_id: Some("src-1".into()),
        campaign_name: Some("Campaign 1".into()),
        voucher_code: Some("CODE-4".into()),
        ..Default::default()
    });
    all
}

async fn sql_and_memory_select_the_same(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.post_all((0..90).map(delivery).collect()).await;
    let every = PublicationFilter::default();
    let rows = publications::after_seq(&app.db, &every, 0, i64::MAX, 10_000)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 90);
    let known = related::for_publications(&app.db, &rows, Wants::all())
        .await
        .expect("related");
    let mut strict_subsets = 0;
    for filter in filters() {
        let sql: BTreeSet<String> = publications::after_seq(&app.db, &filter, 0, i64::MAX, 10_000)
            .await
            .expect("replay")
            .into_iter()
            .map(|p| p.id)
            .collect();
        let matcher = filter.matcher();
        let memory: BTreeSet<String> = rows
            .iter()
            .filter(|row| matcher.matches(row, &known))
            .map(|row| row.id.clone())
            .collect();
        assert_eq!(sql, memory, "{filter:?}");
        strict_subsets += usize::from(!sql.is_empty() && sql.len() < rows.len());
    }
    assert!(
        strict_subsets >= 20,
        "only {strict_subsets} filters select some rows"
    );
}

crate::on_both!(sql_and_memory_select_the_same);

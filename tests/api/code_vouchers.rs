//! Vouchers delivered with a code but no id: keyed by their code (`v_code:…`), assigned,
//! counted and found like any other, and merged into one row when a payload brings the id.

use crate::analytics::fills_equal_the_kept_counts;
use crate::helpers::*;
use crate::on_both;
use crate::ws_client::WsClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    a_voucher_known_by_code_is_assigned_then_merged_with_its_id,
    a_merge_moves_the_counts_to_the_new_type,
);

const VOUCHER: &str = "query($id: ID, $code: String) { voucher(id: $id, code: $code) { id code type categories { id } publications { nodes { id } } } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { ... on Voucher { id code type } } }";

async fn post_ok(app: &TestApp, body: &Value) {
    let (status, answer) = app.post_webhook(bytes(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "stored", "{answer}");
}

/// A publication whose voucher carries only `voucher`'s fields; the campaign's template says
/// its type when `template` is given.
fn assignment(event: &str, publication: &str, voucher: Value, template: Option<&str>) -> Value {
    let mut data = json!({
        "customer": {"id": "cust_1", "name": "Ada"},
        "publication": {"id": publication, "customer_id": "cust_1", "channel": "API",
                        "created_at": "2024-05-01T10:00:00Z", "voucher": voucher},
    });
    if let Some(kind) = template {
        data["campaign"] = json!({"id": "camp_gift", "name": "Gift cards",
                                  "voucher": {"type": kind}, "updated_at": "2024-01-01T00:00:00Z"});
    }
    wrap("customer.publication.succeeded", event, data)
}

async fn voucher(app: &TestApp, variables: Value) -> Value {
    let answer = app.graphql(VOUCHER, variables).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["voucher"].clone()
}

async fn node(app: &TestApp, id: &str) -> Value {
    let answer = app.graphql(NODE, json!({"id": id})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["node"].clone()
}

/// The publications counted per voucher type (every time).
async fn by_type(app: &TestApp) -> Vec<(String, i64)> {
    let answer = app
        .graphql(
            "{ assignmentStats(from: \"2024-05-01T00:00:00Z\", to: \"2024-05-02T00:00:00Z\", bucket: DAY, groupBy: [VOUCHER_TYPE]) { groups { voucherType total } } }",
            json!({}),
        )
        .await;
    let groups = answer["data"]["assignmentStats"]["groups"]
        .as_array()
        .cloned();
    let mut out: Vec<(String, i64)> = groups
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|g| {
            (
                g["voucherType"].as_str().unwrap_or("").to_owned(),
                g["total"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

async fn a_voucher_known_by_code_is_assigned_then_merged_with_its_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut ws = WsClient::ready(&app).await;
    ws.subscribe(
        "a",
        "subscription { voucherAssigned { node { id voucher { id code type } } } }",
        json!({}),
    )
    .await;
    // A gift card as customer-activity payloads carry it: a code, no id, no type.
    let code_only = json!({"code": "GIFT-1", "campaign_id": "camp_gift", "updated_at": "2024-01-01T00:00:10Z",
                           "categories": [{"id": "cat_1", "name": "Winter"}]});
    post_ok(
        &app,
        &assignment("ev_1", "pub_1", code_only, Some("GIFT_VOUCHER")),
    )
    .await;
    let frame = ws.next_n("a", 1).await.remove(0);
    let assigned = &frame["data"]["voucherAssigned"]["node"];
    assert_eq!(assigned["id"], "pub_1", "{frame}");
    let key = "v_code:GIFT-1";
    assert_eq!(
        assigned["voucher"],
        json!({"id": key, "code": "GIFT-1", "type": "GIFT_VOUCHER"})
    );
    let normalised = app
        .scalar("SELECT COUNT(*) FROM webhook_events WHERE normalized")
        .await;
    assert_eq!(normalised, 1, "the event is normalised, not flagged");
    let found = voucher(&app, json!({"code": "GIFT-1"})).await;
    assert_eq!(found["id"], key);
    assert_eq!(found["categories"], json!([{"id": "cat_1"}]));
    assert_eq!(found["publications"]["nodes"], json!([{"id": "pub_1"}]));
    assert_eq!(voucher(&app, json!({"id": key})).await["id"], key);
    assert_eq!(node(&app, key).await["code"], "GIFT-1");
    assert_eq!(by_type(&app).await, [("GIFT_VOUCHER".into(), 1)]);

    // A later payload brings the id (and newer facts): one row, under the id, every
    // reference moved to it.
    let with_id = json!({"id": "v_gift1", "code": "GIFT-1", "campaign_id": "camp_gift",
                         "updated_at": "2024-01-01T00:00:20Z", "gift": {"amount": 500}});
    post_ok(&app, &assignment("ev_2", "pub_2", with_id, None)).await;
    assert_eq!(
        ws.next_n("a", 1).await[0]["data"]["voucherAssigned"]["node"]["voucher"]["id"],
        "v_gift1"
    );
    let rows = app
        .texts("SELECT id FROM vouchers WHERE code = 'GIFT-1'")
        .await;
    assert_eq!(rows, vec![Some("v_gift1".to_owned())]);
    for sql in [
        "SELECT COUNT(*) FROM publications WHERE voucher_id <> 'v_gift1'",
        "SELECT COUNT(*) FROM publication_vouchers WHERE voucher_id <> 'v_gift1'",
        "SELECT COUNT(*) FROM voucher_categories WHERE voucher_id <> 'v_gift1'",
        "SELECT COUNT(*) FROM vouchers WHERE id LIKE 'v_code:%'",
    ] {
        assert_eq!(app.scalar(sql).await, 0, "{sql}");
    }
    let merged = voucher(&app, json!({"code": "GIFT-1"})).await;
    assert_eq!(merged["id"], "v_gift1");
    assert_eq!(merged["type"], "GIFT_VOUCHER");
    assert_eq!(
        merged["categories"],
        json!([{"id": "cat_1"}]),
        "categories kept"
    );
    assert_eq!(
        merged["publications"]["nodes"].as_array().map(Vec::len),
        Some(2)
    );
    // A client that cached the code key still finds the voucher, now under its id.
    assert_eq!(voucher(&app, json!({"id": key})).await["id"], "v_gift1");
    assert_eq!(node(&app, key).await["id"], "v_gift1");

    // An older copy known only by its code goes to the same row and changes nothing.
    let older =
        json!({"code": "GIFT-1", "updated_at": "2024-01-01T00:00:05Z", "metadata": {"old": true}});
    post_ok(&app, &assignment("ev_3", "pub_3", older, None)).await;
    ws.next_n("a", 1).await;
    assert_eq!(app.count("vouchers").await, 1);
    let facts = app
        .text("SELECT CAST(event_id AS TEXT) FROM vouchers")
        .await;
    assert_eq!(facts.as_deref(), Some("2"), "newer facts win");
    assert_eq!(by_type(&app).await, [("GIFT_VOUCHER".into(), 3)]);
    fills_equal_the_kept_counts(&app).await;
}

async fn a_merge_moves_the_counts_to_the_new_type(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // No type, no template: a discount voucher until its own facts say otherwise.
    let code_only = json!({"code": "CARD-1", "updated_at": "2024-01-01T00:00:10Z"});
    post_ok(&app, &assignment("ev_1", "pub_1", code_only.clone(), None)).await;
    post_ok(&app, &assignment("ev_2", "pub_2", code_only, None)).await;
    assert_eq!(by_type(&app).await, [("DISCOUNT_VOUCHER".into(), 2)]);
    let card = json!({"voucher": {"id": "v_card1", "code": "CARD-1", "type": "LOYALTY_CARD",
                                  "updated_at": "2024-01-01T00:00:20Z"}});
    post_ok(&app, &wrap("voucher.updated", "ev_3", card)).await;
    assert_eq!(by_type(&app).await, [("LOYALTY_CARD".into(), 2)]);
    fills_equal_the_kept_counts(&app).await;
    let filtered = app
        .graphql(
            "{ publications(filter: {voucherType: LOYALTY_CARD}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        filtered["data"]["publications"]["totalCount"], 2,
        "{filtered}"
    );
}

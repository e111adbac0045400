//! Normalisation: every publication-bearing event, old formats, newer facts win, flags.

use crate::helpers::*;
use crate::on_both;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    every_publication_event_type_assigns_its_voucher,
    old_format_with_only_publication_voucher,
    voucher_type_is_derived_when_missing,
    late_older_delivery_never_overwrites_newer_facts,
    unrecognised_bodies_are_stored_and_flagged,
    nul_characters_are_stored_not_refused,
    publication_with_several_vouchers,
);

async fn post_ok(app: &TestApp, body: &Value) -> Value {
    let (status, answer) = app.post_webhook(bytes(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn every_publication_event_type_assigns_its_voucher(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (
            "customer.publication.succeeded",
            "pub_DpHmhx5uTanbM0mnndFrODi1U3MEX6rF",
            "v_Zmqfq7rKLPtSHv3aCGrD4863sIoQc4QO",
            "DISCOUNT_VOUCHER",
        ),
        (
            "publication.succeeded",
            "pub_r0413bLwExpB6LE0v286eNVmEpx6NxmP",
            "v_gZt6Zc74XKRv6VXSqubC2jDMfHjzbFPi",
            "DISCOUNT_VOUCHER",
        ),
        (
            "voucher.published",
            "pub_mLP4jygSMXfVejD3T9DmpsvHYah0Nd0I",
            "v_hjQhSsitD6lAATASbRV1Ef7dUCjpy0iw",
            "LOYALTY_CARD",
        ),
        (
            "distribution.manual_distribution_schedule",
            "pub_eB4okLT7vHrFoajHJGeoKir285dBxY1z",
            "v_ae1exRSLU9I4ncJjY5heHvVTE189Y3NB",
            "DISCOUNT_VOUCHER",
        ),
    ];
    for (n, (event_type, publication, voucher, kind)) in cases.iter().enumerate() {
        post_ok(&app, &envelope(event_type, &format!("ev_{n}"))).await;
        let row = app
            .texts(&format!(
                "SELECT voucher_id FROM publications WHERE id = '{publication}'"
            ))
            .await;
        assert_eq!(row, vec![Some(voucher.to_string())], "{event_type}");
        let stored_kind = app
            .text(&format!(
                "SELECT voucher_type FROM vouchers WHERE id = '{voucher}'"
            ))
            .await;
        assert_eq!(stored_kind.as_deref(), Some(*kind), "{event_type}");
        let holder = app
            .text(&format!(
                "SELECT holder_id FROM vouchers WHERE id = '{voucher}'"
            ))
            .await;
        assert!(
            holder.is_some_and(|h| h.starts_with("cust_")),
            "{event_type}"
        );
    }
    // The project-settings envelope, verbatim from the docs (top-level type, `wh_` source).
    let settings = fixture(
        "envelopes/ENVELOPE.project-settings.voucher.published.docs-project-settings-webhooks.json",
    );
    assert_eq!(app.post_webhook(settings).await.1["status"], "stored");
    assert_eq!(app.count("publications").await, 5);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM webhook_events WHERE normalized = false")
            .await,
        0
    );
    // Categories travel with the voucher inside the publication.
    let category = app
        .text("SELECT category_id FROM voucher_categories WHERE voucher_id = 'v_Zmqfq7rKLPtSHv3aCGrD4863sIoQc4QO'")
        .await;
    assert_eq!(category.as_deref(), Some("cat_0e156dab8f2e43873a"));
    let timestamp = app
        .text(
            "SELECT event_type FROM webhook_events WHERE event_type = 'voucher.published' LIMIT 1",
        )
        .await;
    assert!(timestamp.is_some());
}

async fn old_format_with_only_publication_voucher(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut data = fixture_json("data/customer.publication.succeeded.data.openapi-events.json");
    let object = data.as_object_mut().expect("object");
    object.remove("voucher");
    object.remove("customer");
    post_ok(
        &app,
        &wrap("customer.publication.succeeded", "ev_old", data),
    )
    .await;
    assert_eq!(app.count("publications").await, 1);
    assert_eq!(app.count("publication_vouchers").await, 1);
    let email = app
        .text("SELECT name FROM customers WHERE id = 'cust_IdgAFZxYwwHctOk9pPuMu308'")
        .await;
    assert_eq!(
        email.as_deref(),
        Some("Jack Webhook"),
        "the customer comes from the publication"
    );
}

fn bare_voucher(id: &str, extra: Value) -> Value {
    let mut voucher = json!({"id": id, "code": format!("CODE-{id}"), "campaign_id": "camp_tpl", "updated_at": "2024-01-01T00:00:00Z"});
    for (k, v) in extra.as_object().expect("object") {
        voucher[k] = v.clone();
    }
    voucher
}

async fn voucher_type_is_derived_when_missing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let campaign =
        json!({"id": "camp_tpl", "name": "Gift campaign", "voucher": {"type": "GIFT_VOUCHER"}});
    let cases = [
        (
            "v_gift",
            json!({"gift": {"amount": 1000, "balance": 1000}}),
            "GIFT_VOUCHER",
        ),
        (
            "v_loyal",
            json!({"loyalty_card": {"points": 5}}),
            "LOYALTY_CARD",
        ),
        (
            "v_disc",
            json!({"discount": {"type": "AMOUNT", "amount_off": 500}}),
            "DISCOUNT_VOUCHER",
        ),
        ("v_tpl", json!({}), "GIFT_VOUCHER"),
    ];
    for (id, extra, _) in &cases {
        let data = json!({
            "campaign": campaign,
            "publication": {"id": format!("pub_{id}"), "customer_id": "cust_1", "created_at": "2024-01-01T00:00:00Z"},
            "voucher": bare_voucher(id, extra.clone()),
        });
        post_ok(
            &app,
            &wrap("customer.publication.succeeded", &format!("ev_{id}"), data),
        )
        .await;
    }
    // Known only from the campaign stored earlier, not from this payload.
    let data = json!({"vouchers": [bare_voucher("v_later", json!({}))], "publication": {"id": "pub_later", "customer_id": "cust_1"}});
    post_ok(&app, &wrap("publication.succeeded", "ev_later", data)).await;
    for (id, _, kind) in cases
        .iter()
        .chain([&("v_later", json!({}), "GIFT_VOUCHER")])
    {
        let stored = app
            .text(&format!(
                "SELECT voucher_type FROM vouchers WHERE id = '{id}'"
            ))
            .await;
        assert_eq!(stored.as_deref(), Some(*kind), "{id}");
    }
}

async fn late_older_delivery_never_overwrites_newer_facts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let delivery = |event: &str, at: &str, active: bool, name: &str| {
        let data = json!({
            "customer": {"id": "cust_late", "name": name},
            "voucher": {"id": "v_late", "code": "LATE", "type": "DISCOUNT_VOUCHER", "active": active, "updated_at": at},
        });
        let mut body = wrap("voucher.updated", event, data);
        body["event"]["created_at"] = json!(at);
        body
    };
    post_ok(
        &app,
        &delivery("ev_new", "2024-06-01T00:00:00.000002Z", false, "Newer Name"),
    )
    .await;
    post_ok(
        &app,
        &delivery("ev_old", "2024-06-01T00:00:00.000001Z", true, "Older Name"),
    )
    .await;
    let inactive = app
        .scalar("SELECT COUNT(*) FROM vouchers WHERE id = 'v_late' AND active = false")
        .await;
    assert_eq!(
        inactive, 1,
        "the older delivery did not overwrite the voucher"
    );
    let name = app
        .text("SELECT name FROM customers WHERE id = 'cust_late'")
        .await;
    assert_eq!(
        name.as_deref(),
        Some("Newer Name"),
        "the older event did not overwrite the customer"
    );
    // Equal time: not older, so it applies.
    post_ok(
        &app,
        &delivery("ev_same", "2024-06-01T00:00:00.000002Z", true, "Same Time"),
    )
    .await;
    assert_eq!(
        app.text("SELECT name FROM customers WHERE id = 'cust_late'")
            .await
            .as_deref(),
        Some("Same Time")
    );
    assert_eq!(
        app.count("webhook_events").await,
        3,
        "every delivery is kept"
    );
}

async fn unrecognised_bodies_are_stored_and_flagged(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let bodies = [
        fixture(
            "envelopes/RAW.distribution.payload-designer.raw-payload.docs-distribution-webhooks.json",
        ),
        fixture(
            "envelopes/ENVELOPE.distribution.payload-designer.sample-output.docs-distribution-webhooks.json",
        ),
        bytes(
            &json!({"id": "evcus_legacy", "object": "event", "type": "customer.publication.succeeded", "data": {"object": {"id": "pub_x"}, "related_object": {}}}),
        ),
        // Deletions of what pubgate does not keep (tiers, rules, assignments) are not applied,
        // whatever they carry.
        bytes(&envelope("campaign.promotion_tier.deleted", "ev_del")),
        bytes(&wrap("something.new", "ev_new", json!({"thing": 1}))),
        bytes(&wrap(
            "customer.publication.succeeded",
            "ev_nopub",
            json!({"publication": {"id": "pub_novoucher", "customer_id": "cust_1"}}),
        )),
        b"[1,2,3]".to_vec(),
        b"null".to_vec(),
    ];
    for body in &bodies {
        let (status, answer) = app.post_webhook(body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["status"], "stored");
    }
    let flagged = app
        .graphql(
            "{ webhookEvents(filter: {normalized: false}, first: 50) { totalCount nodes { type normalized normalizationNote payload } } }",
            Value::Null,
        )
        .await;
    let events = &flagged["data"]["webhookEvents"];
    assert_eq!(events["totalCount"], bodies.len(), "{flagged}");
    for node in events["nodes"].as_array().expect("nodes") {
        assert!(
            node["normalizationNote"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            "{node}"
        );
    }
    let types: Vec<&str> = events["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(
        types.contains(&"unknown")
            && types.contains(&"campaign.promotion_tier.deleted")
            && types.contains(&"something.new"),
        "{types:?}"
    );
    assert_eq!(app.count("publications").await, 0);
    assert_eq!(
        app.count("customers").await,
        0,
        "nothing was half-normalised"
    );
    assert_eq!(app.count("campaigns").await, 0, "nor the tier's campaign");
}

async fn nul_characters_are_stored_not_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let data = json!({"customer": {"id": "cust_nul", "name": "a\u{0}b", "metadata": {"k\u{0}": "v\u{0}"}}});
    let answer = post_ok(&app, &wrap("customer.updated", "ev_nul", data)).await;
    assert_eq!(answer["status"], "stored");
    assert_eq!(app.count("customers").await, 1);
    let events = app
        .graphql("{ webhookEvents { nodes { payload } } }", Value::Null)
        .await;
    assert_eq!(
        events["data"]["webhookEvents"]["nodes"][0]["payload"]["data"]["customer"]["name"],
        "a\u{0}b"
    );
}

async fn publication_with_several_vouchers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let data = json!({
        "publication": {"id": "pub_many", "customer_id": "cust_m", "vouchers_id": ["v_b", "v_a"]},
        "vouchers": [
            {"id": "v_a", "code": "A", "discount": {"type": "PERCENT", "percent_off": 5}},
            {"id": "v_b", "code": "B", "gift": {"amount": 100}},
        ],
    });
    post_ok(&app, &wrap("publication.succeeded", "ev_many", data)).await;
    let first = app
        .text("SELECT voucher_id FROM publications WHERE id = 'pub_many'")
        .await;
    assert_eq!(first.as_deref(), Some("v_b"), "payload order is kept");
    assert_eq!(app.count("publication_vouchers").await, 2);
}

//! The read API dashboards use: publications and what they refer to, paging, filters,
//! nested connections, no N+1, limits.

use crate::helpers::*;
use crate::on_both;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

on_both!(
    publications_page_both_ways_under_every_order,
    a_thousand_publications_page_without_gaps,
    filters_alone_and_combined,
    lookups_and_nested_connections,
    page_statements_do_not_grow_with_page_size,
    abusive_queries_are_graphql_errors,
    dashboard_documents_run_in_fixed_statements,
    relay_node_refetches_every_kind_by_its_id,
);

const TYPES: [&str; 3] = ["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"];

/// A publication delivery; `n` picks customer (of 5), campaign (of 3) and type; created_at
/// repeats every 4 deliveries so ties must be broken by id.
pub(crate) fn delivery(n: usize) -> Vec<u8> {
    let (customer, campaign, kind) = (n % 5, n % 3, TYPES[n % 3]);
    let (category, channel) = (["Gold", "Silver"][n % 2], ["API", "Automation"][n % 2]);
    let created = format!(
        "2024-05-01T10:00:{:02}.{:03}Z",
        (n / 4) % 60,
        (n / 240) % 1000
    );
    let mut voucher = json!({
        "id": format!("v_{n:05}"), "code": format!("CODE-{n:05}"), "type": kind, "active": n.is_multiple_of(2),
        "campaign": format!("Campaign {campaign}"), "campaign_id": format!("camp_{campaign}"),
        "holder_id": format!("cust_{customer}"), "metadata": {"n": n},
        "categories": [{"id": format!("cat_{}", n % 2), "name": category, "hierarchy": 1}],
        "redemption": {"quantity": 1, "redeemed_quantity": 0},
        "created_at": "2024-05-01T09:00:00.123456Z", "updated_at": "2024-05-01T09:00:00Z",
    });
    match kind {
        "GIFT_VOUCHER" => {
            voucher["gift"] = json!({"amount": 10000, "balance": 2500, "effect": "APPLY_TO_ORDER"})
        }
        "LOYALTY_CARD" => voucher["loyalty_card"] = json!({"points": 120, "balance": 80}),
        _ => {
            voucher["discount"] = json!({"type": "PERCENT", "percent_off": 12.5, "amount_limit": 3000, "effect": "APPLY_TO_ORDER"})
        }
    }
    let data = json!({
        "customer": {"id": format!("cust_{customer}"), "source_id": format!("src-{customer}"), "name": format!("Zoë Number {customer}"),
                     "email": if customer == 0 { Value::Null } else { json!(format!("c{customer}@example.com")) }, "metadata": {}},
        "campaign": {"id": format!("camp_{campaign}"), "name": format!("Campaign {campaign}"), "campaign_type": "DISCOUNT_COUPONS",
                     "type": "AUTO_UPDATE", "active": true, "voucher": {"type": kind}, "metadata": {"c": campaign}},
        "publication": {"id": format!("pub_{n:05}"), "result": "SUCCESS", "channel": channel,
                        "customer_id": format!("cust_{customer}"), "created_at": created, "metadata": {}, "vouchers_id": [format!("v_{n:05}")]},
        "voucher": voucher,
    });
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("ev_{n}"),
        data,
    ))
}

async fn seed(app: &TestApp, n: usize) {
    app.post_all((0..n).map(delivery).collect()).await;
}

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: PublicationOrder, $filter: PublicationFilter) {
  publications(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
    totalCount
    edges { cursor node { id createdAt receivedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

fn page_ids(answer: &Value) -> Vec<String> {
    let page = &answer["data"]["publications"];
    assert!(page.is_object(), "{answer}");
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Every id in order, read forwards `size` at a time, then backwards; both must agree.
async fn read_all(app: &TestApp, order: &Value, size: usize) -> Vec<String> {
    let (mut forwards, mut after) = (vec![], Value::Null);
    loop {
        let answer = app
            .graphql(PAGE, json!({"first": size, "after": after, "order": order}))
            .await;
        forwards.extend(page_ids(&answer));
        let info = &answer["data"]["publications"]["pageInfo"];
        if !info["hasNextPage"].as_bool().expect("bool") {
            break;
        }
        after = info["endCursor"].clone();
    }
    let (mut pages, mut before) = (vec![], Value::Null);
    loop {
        let answer = app
            .graphql(
                PAGE,
                json!({"last": size, "before": before, "order": order}),
            )
            .await;
        pages.push(page_ids(&answer));
        let info = &answer["data"]["publications"]["pageInfo"];
        if !info["hasPreviousPage"].as_bool().expect("bool") {
            break;
        }
        before = info["startCursor"].clone();
    }
    let backwards: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(
        forwards, backwards,
        "forwards and backwards agree under {order}"
    );
    forwards
}

/// The expected order of ids under `field`/`direction`, from the stored rows.
async fn expected(app: &TestApp, field: &str, descending: bool) -> Vec<String> {
    let direction = if descending { "DESC" } else { "ASC" };
    app.texts(&format!(
        "SELECT id FROM publications ORDER BY {field} {direction}, id {direction}"
    ))
    .await
    .into_iter()
    .flatten()
    .collect()
}

async fn check_every_order(app: &TestApp, total: usize, size: usize) {
    for (field, column) in [("CREATED_AT", "created_at"), ("RECEIVED_AT", "received_at")] {
        for direction in ["ASC", "DESC"] {
            let order = json!({"field": field, "direction": direction});
            let ids = read_all(app, &order, size).await;
            assert_eq!(ids.len(), total, "{order}");
            let unique: std::collections::HashSet<_> = ids.iter().collect();
            assert_eq!(unique.len(), total, "no duplicates under {order}");
            assert_eq!(
                ids,
                expected(app, column, direction == "DESC").await,
                "{order}"
            );
        }
    }
}

async fn publications_page_both_ways_under_every_order(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 25).await;
    check_every_order(&app, 25, 4).await;
    // Default order is newest first by createdAt; `last` alone is the oldest N, still newest first.
    let newest = page_ids(&app.graphql(PAGE, json!({"first": 25})).await);
    assert_eq!(newest, expected(&app, "created_at", true).await);
    let oldest = page_ids(&app.graphql(PAGE, json!({"last": 3})).await);
    assert_eq!(oldest, newest[22..].to_vec());
}

async fn a_thousand_publications_page_without_gaps(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 1000).await;
    check_every_order(&app, 1000, 97).await;
    let all = app.graphql(PAGE, json!({"first": 500})).await;
    assert_eq!(all["data"]["publications"]["totalCount"], 1000);
    assert_eq!(page_ids(&all).len(), 500);
}

async fn filters_alone_and_combined(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 60).await;
    let count = |filter: Value| {
        let app = &app;
        async move {
            let answer = app
                .graphql(PAGE, json!({"filter": filter, "first": 0}))
                .await;
            answer["data"]["publications"]["totalCount"]
                .as_i64()
                .unwrap_or_else(|| panic!("{answer}"))
        }
    };
    let by = |pred: &dyn Fn(usize) -> bool| (0..60).filter(|n| pred(*n)).count() as i64;
    assert_eq!(count(json!({})).await, 60);
    assert_eq!(
        count(json!({"customerId": "cust_1"})).await,
        by(&|n| n % 5 == 1)
    );
    assert_eq!(
        count(json!({"customerSourceId": "src-2"})).await,
        by(&|n| n % 5 == 2)
    );
    assert_eq!(
        count(json!({"campaignId": "camp_0"})).await,
        by(&|n| n % 3 == 0)
    );
    assert_eq!(
        count(json!({"campaignName": "Campaign 1"})).await,
        by(&|n| n % 3 == 1)
    );
    assert_eq!(count(json!({"voucherCode": "CODE-00007"})).await, 1);
    assert_eq!(
        count(json!({"voucherType": "GIFT_VOUCHER"})).await,
        by(&|n| n % 3 == 1)
    );
    assert_eq!(
        count(json!({"channel": "Automation"})).await,
        by(&|n| n % 2 == 1)
    );
    // Strict bounds: 10:00:02.000 is the created_at of deliveries 8..11.
    assert_eq!(
        count(json!({"createdAfter": "2024-05-01T10:00:02Z"})).await,
        by(&|n| n / 4 > 2)
    );
    assert_eq!(
        count(json!({"createdBefore": "2024-05-01T10:00:02Z"})).await,
        by(&|n| n / 4 < 2)
    );
    assert_eq!(
        count(json!({"customerId": "cust_1", "channel": "Automation", "voucherType": "DISCOUNT_VOUCHER", "createdAfter": "2024-05-01T10:00:01Z"})).await,
        by(&|n| n % 5 == 1 && n % 2 == 1 && n % 3 == 0 && n / 4 > 1)
    );
    assert_eq!(count(json!({"customerId": "cust_none"})).await, 0);
    let filtered = app
        .graphql(
            PAGE,
            json!({"filter": {"campaignId": "camp_2"}, "first": 5}),
        )
        .await;
    let next = filtered["data"]["publications"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .graphql(
            PAGE,
            json!({"filter": {"campaignId": "camp_2"}, "first": 500, "after": next}),
        )
        .await;
    assert_eq!(
        page_ids(&filtered).len() + page_ids(&rest).len(),
        by(&|n| n % 3 == 2) as usize,
        "cursor keeps the filter's set"
    );
    let customers = app.graphql(r#"{ a: customers(filter: {nameContains: "zOË number 3"}) { totalCount } b: customers(filter: {email: "c4@example.com"}) { nodes { id } } c: customers(filter: {sourceId: "src-0"}) { nodes { email } } d: customers(filter: {nameContains: "%"}) { totalCount } }"#, Value::Null).await;
    assert_eq!(customers["data"]["a"]["totalCount"], 1, "{customers}");
    assert_eq!(customers["data"]["b"]["nodes"][0]["id"], "cust_4");
    assert_eq!(customers["data"]["c"]["nodes"][0]["email"], Value::Null);
    assert_eq!(
        customers["data"]["d"]["totalCount"], 0,
        "LIKE wildcards are matched literally"
    );
    let vouchers = app.graphql(r#"{ a: vouchers(filter: {type: LOYALTY_CARD}) { totalCount } b: vouchers(filter: {active: true, holderId: "cust_0"}) { totalCount } c: vouchers(filter: {category: "Gold"}) { totalCount } d: vouchers(filter: {category: "cat_1", campaignId: "camp_1"}) { totalCount } }"#, Value::Null).await;
    assert_eq!(
        vouchers["data"]["a"]["totalCount"],
        by(&|n| n % 3 == 2),
        "{vouchers}"
    );
    assert_eq!(
        vouchers["data"]["b"]["totalCount"],
        by(&|n| n % 2 == 0 && n % 5 == 0)
    );
    assert_eq!(vouchers["data"]["c"]["totalCount"], by(&|n| n % 2 == 0));
    assert_eq!(
        vouchers["data"]["d"]["totalCount"],
        by(&|n| n % 2 == 1 && n % 3 == 1)
    );
}

async fn lookups_and_nested_connections(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 30).await;
    let answer = app
        .graphql(
            r#"{
  bySource: customer(sourceId: "src-3") { id name email metadata
    vouchers(first: 2) { totalCount edges { cursor node { code type holder { id } } } pageInfo { hasNextPage endCursor } }
    publications(first: 3) { totalCount nodes { id customer { id } } } }
  byCode: voucher(code: "CODE-00004") { id type active discount { type percentOff amountLimit effect } gift { amount }
    categories { id name hierarchy } campaign { name } redemption { quantity redeemedQuantity }
    createdAt updatedAt publications { nodes { id } } }
  gift: voucher(id: "v_00001") { type gift { amount balance effect } loyaltyCard { points } discount { type } }
  loyal: voucher(id: "v_00002") { type loyaltyCard { points balance } }
  campaign(name: "Campaign 2") { id name campaignType type active metadata publications(first: 1) { totalCount } vouchers { totalCount } }
  campaigns { totalCount nodes { id } }
  publication(id: "pub_00004") { id result channel event { type } vouchers { id } voucher { id } campaign { id } customer { id } }
  unknownCustomer: customer(id: "cust_nope") { id }
  unknownVoucher: voucher(code: "NOPE") { id }
  unknownCampaign: campaign(id: "camp_nope") { id }
  unknownPublication: publication(id: "pub_nope") { id }
  nothing: customer { id }
}"#,
            Value::Null,
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    let customer = &data["bySource"];
    assert_eq!(customer["id"], "cust_3");
    assert_eq!(customer["vouchers"]["totalCount"], 6);
    assert_eq!(
        customer["vouchers"]["edges"]
            .as_array()
            .expect("edges")
            .len(),
        2
    );
    assert_eq!(customer["vouchers"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(customer["publications"]["totalCount"], 6);
    let more = app
        .graphql(
            r#"query($after: String) { customer(id: "cust_3") { vouchers(first: 10, after: $after) { nodes { code } } } }"#,
            json!({"after": customer["vouchers"]["pageInfo"]["endCursor"]}),
        )
        .await;
    assert_eq!(
        more["data"]["customer"]["vouchers"]["nodes"]
            .as_array()
            .expect("nodes")
            .len(),
        4,
        "nested paging resumes"
    );
    let voucher = &data["byCode"];
    assert_eq!(voucher["type"], "GIFT_VOUCHER");
    let discount = &app.graphql(r#"{ voucher(code: "CODE-00003") { discount { type percentOff amountLimit effect } } }"#, Value::Null).await["data"]["voucher"]["discount"];
    assert_eq!(
        discount,
        &json!({"type": "PERCENT", "percentOff": 12.5, "amountLimit": 3000, "effect": "APPLY_TO_ORDER"})
    );
    assert_eq!(
        voucher["categories"],
        json!([{"id": "cat_0", "name": "Gold", "hierarchy": 1}])
    );
    assert_eq!(
        voucher["createdAt"], "2024-05-01T09:00:00.123456Z",
        "microseconds are kept"
    );
    assert_eq!(
        voucher["updatedAt"], "2024-05-01T09:00:00.000Z",
        "milliseconds always shown"
    );
    assert_eq!(
        voucher["redemption"],
        json!({"quantity": 1, "redeemedQuantity": 0})
    );
    assert_eq!(
        voucher["publications"]["nodes"],
        json!([{"id": "pub_00004"}])
    );
    assert_eq!(
        data["gift"]["gift"],
        json!({"amount": 10000, "balance": 2500, "effect": "APPLY_TO_ORDER"})
    );
    assert_eq!(
        data["loyal"]["loyaltyCard"],
        json!({"points": 120, "balance": 80})
    );
    assert_eq!(data["campaign"]["id"], "camp_2");
    assert_eq!(data["campaign"]["vouchers"]["totalCount"], 10);
    assert_eq!(data["campaigns"]["totalCount"], 3);
    let publication = &data["publication"];
    assert_eq!(
        publication["event"]["type"],
        "customer.publication.succeeded"
    );
    assert_eq!(publication["vouchers"], json!([{"id": "v_00004"}]));
    assert_eq!(publication["campaign"]["id"], "camp_1");
    for unknown in [
        "unknownCustomer",
        "unknownVoucher",
        "unknownCampaign",
        "unknownPublication",
        "nothing",
    ] {
        assert_eq!(data[unknown], Value::Null, "{unknown}");
    }
}

const DASHBOARD: &str = "query($first: Int) { publications(first: $first) { edges { cursor node {
  id createdAt channel customer { id name email } voucher { code type discount { type percentOff } gift { amount } categories { name } }
  vouchers { code } campaign { name } event { id } } } } }";

async fn page_statements_do_not_grow_with_page_size(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 60).await;
    let mut counts = vec![];
    for size in [5, 50] {
        let before = app.statements.load(Ordering::SeqCst);
        let answer = app.graphql(DASHBOARD, json!({"first": size})).await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert_eq!(
            answer["data"]["publications"]["edges"]
                .as_array()
                .expect("edges")
                .len(),
            size
        );
        counts.push(app.statements.load(Ordering::SeqCst) - before);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements for 5 rows vs 50 rows: {counts:?}"
    );
    assert!(
        counts[1] <= 8,
        "one per page plus one per kind of object: {counts:?}"
    );
}

async fn abusive_queries_are_graphql_errors(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app, 3).await;
    let send = |query: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/graphql"))
                .json(&json!({"query": query}))
                .send()
                .await
                .expect("answer");
            assert!(response.status().as_u16() < 500, "never a 5xx");
            let answer: Value = response.json().await.expect("json");
            assert!(
                answer["data"].is_null() || answer["errors"].is_array(),
                "{answer}"
            );
            answer["errors"][0].clone()
        }
    };
    let too_big = send("{ publications(first: 501) { totalCount } }".into()).await;
    assert_eq!(too_big["extensions"]["code"], "BAD_USER_INPUT", "{too_big}");
    // 30 levels deep.
    let mut deep = String::from("id");
    for _ in 0..9 {
        deep = format!("customer {{ publications(first: 1) {{ nodes {{ {deep} }} }} }}");
    }
    let error = send(format!(
        "{{ publications(first: 1) {{ nodes {{ {deep} }} }} }}"
    ))
    .await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("deep")),
        "{error}"
    );
    // Deeper still is refused by the parser, also as a client error.
    let error = send(format!("{{ a {} }}", "{ b ".repeat(100) + &"}".repeat(100))).await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    // An alias bomb: a thousand copies of a large page.
    let bomb: String = (0..1000)
        .map(|i| {
            format!("a{i}: publications(first: 500) {{ nodes {{ id customer {{ name }} }} }} ")
        })
        .collect();
    let error = send(format!("{{ {bomb} }}")).await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{error}"
    );
    // Many cheap aliases are within the limits and answered, each once, in order (direct
    // execution finds each name's group by key, not by a scan of those before it).
    // (The document checks allow 10,000 selections.)
    let many: String = (0..9_000).map(|i| format!("a{i}: __typename ")).collect();
    let document = format!("{{ p: publications(first: 1) {{ nodes {{ id }} }} {many} }}");
    let text = app.graphql_text(&document, &json!({})).await;
    let answer: Value = serde_json::from_str(&text).expect("json");
    let data = answer["data"]
        .as_object()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(data.len(), 9_001, "{}", answer["errors"]);
    assert_eq!(data["a8999"], "Query");
    // In the order asked (the spec's "Serialized Map Ordering").
    let at = |key: &str| text.find(&format!("\"{key}\":")).expect(key);
    assert!(at("p") < at("a0") && at("a0") < at("a1") && at("a8998") < at("a8999"));
    // Nested pages multiply.
    let error = send("{ customers(first: 500) { nodes { publications(first: 500) { nodes { id voucher { code } } } } } }".into()).await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{error}"
    );
    // Syntax errors and unknown fields carry a code too.
    assert_eq!(
        send("{ publications(".into()).await["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(
        send("{ nope }".into()).await["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // A legitimate dashboard page at the maximum size passes.
    let answer = app.graphql(DASHBOARD, json!({"first": 500})).await;
    assert!(answer["errors"].is_null(), "{answer}");
}

/// What the shipped dashboard sorts and filters by reads through an index, not a scan and a
/// sort: its live feed (publications newest received first) and its per-type counters.
async fn the_dashboards_orders_and_filters_have_indexes(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (
            "SELECT id FROM publications ORDER BY received_at DESC, id DESC LIMIT 51",
            "ix_publications_received",
        ),
        (
            "SELECT id FROM vouchers WHERE voucher_type = 'GIFT_VOUCHER'",
            "ix_vouchers_type",
        ),
    ];
    let db_backend = app.db.get_database_backend();
    for (sql, index) in cases {
        let txn = app.db.begin().await.expect("transaction");
        let explain = if backend == Backend::Postgres {
            // Small tables are scanned whatever the indexes; forbidding scans and sorts
            // shows whether an index can serve the query at all.
            for setting in [
                "SET LOCAL enable_seqscan = off",
                "SET LOCAL enable_sort = off",
            ] {
                txn.execute_unprepared(setting).await.expect("set");
            }
            format!("EXPLAIN {sql}")
        } else {
            format!("EXPLAIN QUERY PLAN {sql}")
        };
        let rows = txn
            .query_all_raw(Statement::from_string(db_backend, explain))
            .await
            .expect("a plan");
        let plan: Vec<String> = rows
            .iter()
            .map(|row| {
                let column = if backend == Backend::Postgres { 0 } else { 3 };
                row.try_get_by_index::<String>(column).unwrap_or_default()
            })
            .collect();
        assert!(
            plan.iter().any(|line| line.contains(index)),
            "{sql} does not use {index}: {plan:?}"
        );
    }
}

crate::on_both!(the_dashboards_orders_and_filters_have_indexes);

/// The dashboard's own documents (src/dashboard/documents.js, snapshot in documents.json).
pub fn dashboard_document(name: &str) -> String {
    pubgate::dashboard::documents()
        .into_iter()
        .find_map(|(n, text)| (n == name).then_some(text))
        .unwrap_or_else(|| panic!("no dashboard document {name}"))
}

/// Runs `document` with each set of variables; returns the statements each run took.
async fn statements_of(app: &TestApp, document: &str, runs: &[Value]) -> Vec<u64> {
    let mut counts = vec![];
    for variables in runs {
        let before = app.statements.load(Ordering::SeqCst);
        let answer = app.graphql(document, variables.clone()).await;
        assert!(answer["errors"].is_null(), "{variables}: {answer}");
        // Something found: every root field but FIND's lookups by id and source id.
        let data = answer["data"]
            .as_object()
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(
            data.iter()
                .all(|(k, v)| !v.is_null() || ["byId", "bySource"].contains(&k.as_str())),
            "{variables}: {answer}"
        );
        counts.push(app.statements.load(Ordering::SeqCst) - before);
    }
    counts
}

/// Each document the dashboard sends runs a fixed number of SQL statements, whatever the size
/// of its pages: a regression to N+1, or to more statements per level, fails here.
async fn dashboard_documents_run_in_fixed_statements(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    seed(&app, 60).await;
    let latest = dashboard_document("LATEST");
    let first = app.graphql(&latest, json!({"first": 1})).await;
    let edge = &first["data"]["publications"]["edges"][0];
    let (id, after) = (edge["node"]["id"].clone(), edge["cursor"].clone());
    // The seeded assignments are made at 10:00:00–10:00:15; the windows end inside a minute.
    let (hour, day, now) = (
        "2024-05-01T09:00:30Z",
        "2024-04-30T10:00:30Z",
        "2024-05-01T10:00:30Z",
    );
    // (document, budget, runs that differ only in page size)
    let cases = [
        ("LATEST", 1, vec![json!({"first": 5}), json!({"first": 50})]),
        (
            "RESUME",
            2,
            vec![
                json!({"id": id, "after": after, "first": 4}),
                json!({"id": id, "after": after, "first": 49}),
            ],
        ),
        ("KNOWN", 1, vec![json!({"id": id})]),
        (
            "FIND",
            3,
            vec![json!({"q": "c1@example.com", "id": "c1@example.com"})],
        ),
        (
            "CUSTOMER",
            5,
            vec![
                json!({"id": "cust_1", "first": 2, "after": null, "withLatest": true}),
                json!({"id": "cust_1", "first": 12, "after": null, "withLatest": true}),
            ],
        ),
        // Four assignmentStats, one statement each, and the campaigns' names for the two per
        // campaign (one lookup when both fields' names are batched together, else two).
        (
            "STATS",
            6,
            vec![json!({"hour": hour, "day": day, "now": now})],
        ),
    ];
    let mut seen = vec![];
    for (name, budget, runs) in cases {
        let counts = statements_of(&app, &dashboard_document(name), &runs).await;
        seen.push(format!("{name}: {counts:?}"));
        // A page that holds the whole list needs no count, so a larger page may cost less.
        assert!(
            counts.windows(2).all(|w| w[1] <= w[0]),
            "{name}: statements grow with the page: {counts:?}"
        );
        assert!(
            counts[0] <= budget,
            "{name}: {counts:?} statements, budget {budget}"
        );
    }
    eprintln!("statements per dashboard document: {}", seen.join(", "));

    // The count a whole page stands for is the count the database gives for a part of it.
    let customer = dashboard_document("CUSTOMER");
    let mut totals = vec![];
    for first in [2, 12, 13] {
        let vars = json!({"id": "cust_1", "first": first, "after": null, "withLatest": false});
        let answer = app.graphql(&customer, vars).await;
        let vouchers = &answer["data"]["customer"]["vouchers"];
        assert_eq!(
            vouchers["nodes"].as_array().expect("nodes").len(),
            first.min(12),
            "{answer}"
        );
        totals.push(vouchers["totalCount"].as_i64().expect("totalCount"));
    }
    assert_eq!(totals, [12, 12, 12], "totalCount with first 2, 12 and 13");

    // The counters: every seeded assignment in both windows, once, split over 3 types and 3
    // campaigns.
    let vars = json!({"hour": hour, "day": day, "now": now});
    let stats = app.graphql(&dashboard_document("STATS"), vars).await;
    for field in ["lastHour", "lastDay", "hourByCampaign", "dayByCampaign"] {
        let groups = stats["data"][field]["groups"].as_array().expect("groups");
        let sum: i64 = groups.iter().filter_map(|g| g["total"].as_i64()).sum();
        assert_eq!((groups.len(), sum), (3, 60), "{field}: {stats}");
    }
    assert_eq!(stats["data"]["lastHour"]["total"], 60, "{stats}");
    assert_eq!(stats["data"]["lastDay"]["total"], 60, "{stats}");
}

/// `node(id:)` returns each kind by the id a client already holds, `nodes(ids:)` keeps the
/// order asked with null for what is unknown, and a page of ids costs one statement per kind.
async fn relay_node_refetches_every_kind_by_its_id(backend: Backend) {
    // No query cache: its read of the committed head would count as a statement.
    let Some(app) = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    let mut generator = pubgate::simulate::Generator::new(21, 6, 3, 0.0);
    app.post_all((0..12).map(|_| generator.next_body()).collect())
        .await;
    let page = app
        .graphql(
            "{ publications(first: 12) { nodes { id customer { id } \
             voucher { id code categories { id name } } campaign { id name } } } }",
            Value::Null,
        )
        .await;
    let nodes = page["data"]["publications"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let first = &nodes[0];
    let category = nodes
        .iter()
        .find_map(|n| n["voucher"]["categories"][0]["id"].as_str())
        .expect("a voucher with a category");
    let campaign = nodes
        .iter()
        .find(|n| n["campaign"].is_object())
        .expect("a publication with a campaign");
    let query = "query($id: ID!) { node(id: $id) { __typename id \
                 ... on Customer { id } ... on Voucher { code } ... on Campaign { name } \
                 ... on Publication { customer { id } } ... on Category { name } } }";
    for (id, typename) in [
        (first["customer"]["id"].as_str().expect("id"), "Customer"),
        (first["voucher"]["id"].as_str().expect("id"), "Voucher"),
        (campaign["campaign"]["id"].as_str().expect("id"), "Campaign"),
        (first["id"].as_str().expect("id"), "Publication"),
        (category, "Category"),
    ] {
        let answer = app.graphql(query, json!({ "id": id })).await;
        let node = &answer["data"]["node"];
        assert_eq!(node["__typename"], typename, "{id}: {answer}");
        assert_eq!(node["id"], id, "{answer}");
    }
    let answer = app.graphql(query, json!({ "id": first["id"] })).await;
    assert_eq!(
        answer["data"]["node"]["customer"]["id"],
        first["customer"]["id"]
    );
    let answer = app
        .graphql(query, json!({ "id": first["voucher"]["id"] }))
        .await;
    assert_eq!(answer["data"]["node"]["code"], first["voucher"]["code"]);
    for unknown in [
        "cust_nobody",
        "pub_",
        "",
        "garbage",
        "camp_x'; DROP TABLE campaigns;--",
    ] {
        let answer = app.graphql(query, json!({ "id": unknown })).await;
        assert_eq!(answer, json!({"data": {"node": null}}), "{unknown:?}");
    }
    // NUL is in no stored id (PostgreSQL's text cannot hold it): refused before it reaches SQL.
    let answer = app.graphql(query, json!({ "id": "v_\u{0}" })).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
    // nodes: the order asked, null in place, customers read in one statement.
    let customers: Vec<&Value> = nodes.iter().map(|n| &n["customer"]["id"]).collect();
    let mut ids: Vec<Value> = customers.iter().map(|&id| id.clone()).collect();
    ids.insert(2, json!("cust_nobody"));
    ids.push(json!("nonsense"));
    let before = app.statements.load(Ordering::SeqCst);
    let answer = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(
        app.statements.load(Ordering::SeqCst) - before,
        1,
        "{answer}"
    );
    let got: Vec<Value> = answer["data"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    let wanted: Vec<Value> = ids
        .iter()
        .map(|id| match id.as_str() {
            Some("cust_nobody" | "nonsense") => Value::Null,
            _ => id.clone(),
        })
        .collect();
    assert_eq!(got, wanted);
    let many: Vec<String> = (0..101).map(|n| format!("cust_{n}")).collect();
    let answer = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
}

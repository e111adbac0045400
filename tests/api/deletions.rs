//! Deletions: `customer.deleted`, `voucher.deleted` and `campaign.deleted` mark the entity
//! deleted for good. Lists leave it out (unless `includeDeleted`), lookups and publications
//! still find it, assignment counts do not move, and no order of delivery brings it back.

use crate::helpers::*;
use crate::on_both;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both!(
    a_deletion_leaves_lists_but_not_lookups_or_history,
    a_late_older_update_does_not_bring_it_back,
    a_late_older_deletion_still_deletes,
    deleting_an_unknown_entity_keeps_a_tombstone,
);

/// What `customer.publication.succeeded`'s documented `data` assigns.
const CUSTOMER: &str = "cust_IdgAFZxYwwHctOk9pPuMu308";
const VOUCHER: &str = "v_Zmqfq7rKLPtSHv3aCGrD4863sIoQc4QO";
const CODE: &str = "SPRING-2024-tPz";
const CAMPAIGN: &str = "camp_iRMdcq07g9W4dOSRXuTovupi";
const PUBLICATION: &str = "pub_DpHmhx5uTanbM0mnndFrODi1U3MEX6rF";
/// When the deletions in these tests happen: after every fact the fixtures carry.
const DELETED: &str = "2024-03-30T00:00:00.000Z";

async fn post_ok(app: &TestApp, body: &Value) {
    let (status, answer) = app.post_webhook(bytes(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "stored", "{answer}");
}

/// The documented `data` of `event_type`, changed by `edit`, in an envelope of an event that
/// happened `at`.
fn event(event_type: &str, event_id: &str, at: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut data = fixture_json(&format!("data/{event_type}.data.openapi-events.json"));
    edit(&mut data);
    let mut body = wrap(event_type, event_id, data);
    body["event"]["created_at"] = json!(at);
    body
}

/// The deletion of the publication fixture's customer, voucher or campaign, at `DELETED`
/// (Voucherify's own payloads, their ids changed to those).
fn delete(member: &str) -> Value {
    let event_type = format!("{member}.deleted");
    event(&event_type, &format!("ev_del_{member}"), DELETED, |data| {
        let object = &mut data[member];
        object["updated_at"] = json!(DELETED);
        match member {
            "customer" => object["id"] = json!(CUSTOMER),
            "voucher" => {
                object["id"] = json!(VOUCHER);
                object["code"] = json!(CODE);
                object["holder_id"] = json!(CUSTOMER);
            }
            _ => {
                object["id"] = json!(CAMPAIGN);
                object["name"] = json!("Spring Discounts");
                data["deleted_at"] = json!(DELETED);
            }
        }
    })
}

const LISTS: &str = "query($all: Boolean) {
  customers(filter: {includeDeleted: $all}) { totalCount nodes { id deletedAt } }
  vouchers(filter: {includeDeleted: $all}) { totalCount nodes { id deletedAt } }
  campaigns(filter: {includeDeleted: $all}) { totalCount nodes { id deletedAt } }
  c1: customers(first: 1, filter: {includeDeleted: $all}) { totalCount }
  v1: vouchers(first: 1, filter: {includeDeleted: $all}) { totalCount }
  k1: campaigns(first: 1, filter: {includeDeleted: $all}) { totalCount }
}";

/// The ids in `customers`, `vouchers` and `campaigns`, with deleted ones when `all`; each
/// list's `totalCount` agrees with it, counted by the whole page and by a statement.
async fn listed(app: &TestApp, all: bool) -> Vec<Vec<String>> {
    let answer = app.graphql(LISTS, json!({"all": all})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    [("customers", "c1"), ("vouchers", "v1"), ("campaigns", "k1")]
        .iter()
        .map(|(list, short)| {
            let nodes = data[*list]["nodes"].as_array().expect("nodes");
            assert_eq!(data[*list]["totalCount"], nodes.len(), "{list}: {answer}");
            assert_eq!(data[*short]["totalCount"], nodes.len(), "{short}: {answer}");
            if !all {
                assert!(nodes.iter().all(|n| n["deletedAt"].is_null()), "{answer}");
            }
            nodes
                .iter()
                .map(|n| n["id"].as_str().expect("an id").to_owned())
                .collect()
        })
        .collect()
}

fn without(lists: &[Vec<String>], gone: &[&str]) -> Vec<Vec<String>> {
    let keep = |list: &Vec<String>| -> Vec<String> {
        let kept = list.iter().filter(|id| !gone.contains(&id.as_str()));
        kept.cloned().collect()
    };
    lists.iter().map(keep).collect()
}

const STATS: &str =
    "{ assignmentStats(from: \"2024-01-01T00:00:00Z\", to: \"2025-01-01T00:00:00Z\",
  bucket: DAY, groupBy: [CAMPAIGN]) { total groups { campaign { id } total } } }";

/// Every stored assignment count, as text, every appended change folded.
async fn counts(app: &TestApp) -> Vec<Option<String>> {
    app.fold_counts().await;
    app.texts(
        "SELECT CAST(width AS TEXT) || '|' || CAST(minute AS TEXT) || '|' || voucher_type || '|' \
         || campaign_id || '|' || channel || '|' || CAST(count AS TEXT) FROM assignment_counts \
         UNION ALL SELECT CAST(width AS TEXT) || '|' || CAST(minute AS TEXT) || '|' || dimension \
         || '|' || value || '|' || CAST(count AS TEXT) FROM assignment_totals ORDER BY 1",
    )
    .await
}

const LOOKUPS: &str = "query($c: ID!, $v: ID!, $k: ID!, $code: String!, $name: String!, $p: ID!) {
  customer(id: $c) {
    id deletedAt
    vouchers { totalCount nodes { id } }
    all: vouchers(filter: {includeDeleted: true}) { totalCount nodes { id } }
    publications { nodes { id } }
  }
  voucher(id: $v) { id deletedAt publications { nodes { id } } }
  byCode: voucher(code: $code) { id deletedAt }
  campaign(id: $k) {
    id deletedAt
    vouchers { totalCount nodes { id } }
    all: vouchers(filter: {includeDeleted: true}) { totalCount nodes { id } }
  }
  byName: campaign(name: $name) { id deletedAt }
  node(id: $c) { ... on Customer { deletedAt } }
  publication(id: $p) {
    customer { id deletedAt } voucher { id deletedAt } vouchers { id deletedAt } campaign { id deletedAt }
  }
  publications { nodes { id } }
}";

async fn a_deletion_leaves_lists_but_not_lookups_or_history(backend: Backend) {
    // The query cache stays on: a deletion must be in the very next answer.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    post_ok(&app, &envelope("customer.publication.succeeded", "ev_pub")).await;
    post_ok(&app, &envelope("publication.succeeded", "ev_pub_2")).await;
    let before = listed(&app, false).await;
    for (list, id) in before.iter().zip([CUSTOMER, VOUCHER, CAMPAIGN]) {
        assert!(list.iter().any(|listed| listed == id), "{id} in {before:?}");
    }
    let (stats, stored_counts) = (app.graphql(STATS, json!({})).await, counts(&app).await);
    assert_eq!(stats["data"]["assignmentStats"]["total"], 2, "{stats}");

    for member in ["customer", "voucher", "campaign"] {
        post_ok(&app, &delete(member)).await;
    }

    // Applied, not flagged.
    let events = app
        .graphql(
            "{ flagged: webhookEvents(filter: {normalized: false}) { totalCount }
               deletions: webhookEvents(first: 3) { nodes { type normalized normalizationNote } } }",
            Value::Null,
        )
        .await;
    assert_eq!(events["data"]["flagged"]["totalCount"], 0, "{events}");
    for node in events["data"]["deletions"]["nodes"]
        .as_array()
        .expect("nodes")
    {
        assert!(
            node["type"]
                .as_str()
                .is_some_and(|t| t.ends_with(".deleted"))
        );
        assert_eq!(node["normalized"], true, "{node}");
        assert!(node["normalizationNote"].is_null(), "{node}");
    }
    // Out of the lists, unless asked for.
    assert_eq!(
        listed(&app, false).await,
        without(&before, &[CUSTOMER, VOUCHER, CAMPAIGN])
    );
    assert_eq!(listed(&app, true).await, before);
    // Still found by id, code, name and from the publication, with `deletedAt`.
    let variables = json!({"c": CUSTOMER, "v": VOUCHER, "k": CAMPAIGN, "code": CODE,
                           "name": "Spring Discounts", "p": PUBLICATION});
    let answer = app.graphql(LOOKUPS, variables.clone()).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    let deleted = json!(DELETED);
    for found in [
        &data["customer"],
        &data["voucher"],
        &data["byCode"],
        &data["campaign"],
        &data["byName"],
        &data["node"],
        &data["publication"]["customer"],
        &data["publication"]["voucher"],
        &data["publication"]["vouchers"][0],
        &data["publication"]["campaign"],
    ] {
        assert_eq!(found["deletedAt"], deleted, "{answer}");
    }
    // Nested lists follow the same rule.
    for owner in ["customer", "campaign"] {
        let (live, all) = (&data[owner]["vouchers"], &data[owner]["all"]);
        assert!(!ids(live).contains(&VOUCHER), "{owner}: {answer}");
        assert!(ids(all).contains(&VOUCHER), "{owner}: {answer}");
        assert_eq!(ids(all).len(), ids(live).len() + 1, "{owner}: {answer}");
        assert_eq!(live["totalCount"], ids(live).len(), "{owner}: {answer}");
        assert_eq!(all["totalCount"], ids(all).len(), "{owner}: {answer}");
    }
    // History stays: the publication, in every list of publications, and the counts.
    for publications in [
        &data["publications"],
        &data["customer"]["publications"],
        &data["voucher"]["publications"],
    ] {
        assert!(
            publications["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .any(|p| p["id"] == PUBLICATION),
            "{answer}"
        );
    }
    assert_eq!(app.graphql(STATS, json!({})).await, stats);
    assert_eq!(counts(&app).await, stored_counts);

    // Voucherify frees a deleted object's name and code for new ones (new ids): a lookup by
    // them finds the live one.
    let at = "2024-04-01T00:00:00.000Z";
    post_ok(
        &app,
        &event("campaign.created", "ev_k_new", at, |data| {
            data["campaign"]["id"] = json!("camp_new");
        }),
    )
    .await;
    post_ok(
        &app,
        &event("voucher.created", "ev_v_new", at, |data| {
            data["voucher"]["id"] = json!("v_new");
            data["voucher"]["code"] = json!(CODE);
        }),
    )
    .await;
    let answer = app.graphql(LOOKUPS, variables).await;
    assert_eq!(answer["data"]["byName"]["id"], "camp_new", "{answer}");
    assert_eq!(answer["data"]["byCode"]["id"], "v_new", "{answer}");
}

async fn voucher_and_customer(app: &TestApp, voucher: &str, customer: &str) -> Value {
    let answer = app
        .graphql(
            "query($v: ID!, $c: ID!) {
               voucher(id: $v) { code active deletedAt }
               customer(id: $c) { name deletedAt }
               vouchers(filter: {includeDeleted: false}) { nodes { id } }
               customers { nodes { id } }
             }",
            json!({"v": voucher, "c": customer}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"].clone()
}

fn ids(list: &Value) -> Vec<&str> {
    let nodes = list["nodes"].as_array().expect("nodes");
    nodes.iter().filter_map(|n| n["id"].as_str()).collect()
}

async fn a_late_older_update_does_not_bring_it_back(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    post_ok(&app, &envelope("customer.publication.succeeded", "ev_pub")).await;
    post_ok(&app, &delete("voucher")).await;
    post_ok(&app, &delete("customer")).await;
    // Updates from before the deletions, delivered after them.
    let older = "2024-03-20T00:00:00.000Z";
    post_ok(
        &app,
        &event("voucher.updated", "ev_v_old", older, |data| {
            let voucher = &mut data["voucher"];
            voucher["id"] = json!(VOUCHER);
            voucher["active"] = json!(false);
            voucher["updated_at"] = json!(older);
        }),
    )
    .await;
    post_ok(
        &app,
        &event("customer.updated", "ev_c_old", older, |data| {
            data["customer"]["id"] = json!(CUSTOMER);
            data["customer"]["name"] = json!("Old Name");
            data["customer"]["updated_at"] = json!(older);
        }),
    )
    .await;
    // And a late assignment that carries both as they were before.
    let mut late = envelope("customer.publication.succeeded", "ev_pub_late");
    late["data"]["publication"]["id"] = json!("pub_late");
    post_ok(&app, &late).await;

    let seen = voucher_and_customer(&app, VOUCHER, CUSTOMER).await;
    assert_eq!(seen["voucher"]["deletedAt"], DELETED, "{seen}");
    assert_eq!(seen["voucher"]["active"], true, "older facts lose: {seen}");
    assert_eq!(seen["customer"]["deletedAt"], DELETED, "{seen}");
    assert_eq!(seen["customer"]["name"], "Lionel Johnson", "{seen}");
    assert!(!ids(&seen["vouchers"]).contains(&VOUCHER), "{seen}");
    assert!(!ids(&seen["customers"]).contains(&CUSTOMER), "{seen}");
    // The late assignment is history like the first: stored and counted.
    let stats = app.graphql(STATS, json!({})).await;
    assert_eq!(stats["data"]["assignmentStats"]["total"], 2, "{stats}");

    // Voucherify restores nothing and reuses no id: a fact dated after the deletion can only
    // come from another clock. It updates the facts; the deletion stays.
    let newer = "2024-04-01T00:00:00.000Z";
    post_ok(
        &app,
        &event("voucher.updated", "ev_v_new", newer, |data| {
            let voucher = &mut data["voucher"];
            voucher["id"] = json!(VOUCHER);
            voucher["active"] = json!(false);
            voucher["updated_at"] = json!(newer);
        }),
    )
    .await;
    let seen = voucher_and_customer(&app, VOUCHER, CUSTOMER).await;
    assert_eq!(seen["voucher"]["active"], false, "{seen}");
    assert_eq!(seen["voucher"]["deletedAt"], DELETED, "{seen}");
    assert!(!ids(&seen["vouchers"]).contains(&VOUCHER), "{seen}");
}

async fn a_late_older_deletion_still_deletes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let newer = "2024-05-01T00:00:00.000Z";
    post_ok(
        &app,
        &event("voucher.updated", "ev_v", newer, |data| {
            data["voucher"]["id"] = json!(VOUCHER);
            data["voucher"]["active"] = json!(false);
            data["voucher"]["updated_at"] = json!(newer);
        }),
    )
    .await;
    post_ok(
        &app,
        &event("customer.updated", "ev_c", newer, |data| {
            data["customer"]["id"] = json!(CUSTOMER);
            data["customer"]["updated_at"] = json!(newer);
        }),
    )
    .await;
    // The deletions' snapshots are older than the facts stored: they delete, and the newer
    // facts stay.
    post_ok(&app, &delete("voucher")).await;
    post_ok(&app, &delete("customer")).await;
    let seen = voucher_and_customer(&app, VOUCHER, CUSTOMER).await;
    assert_eq!(seen["voucher"]["deletedAt"], DELETED, "{seen}");
    assert_eq!(seen["voucher"]["active"], false, "{seen}");
    assert_eq!(seen["voucher"]["code"], "10-percent-item-3", "{seen}");
    assert_eq!(seen["customer"]["deletedAt"], DELETED, "{seen}");
    assert_eq!(seen["customer"]["name"], "Ariana Patel", "{seen}");
    assert_eq!(ids(&seen["vouchers"]), Vec::<&str>::new(), "{seen}");
    assert!(!ids(&seen["customers"]).contains(&CUSTOMER), "{seen}");
}

async fn deleting_an_unknown_entity_keeps_a_tombstone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Voucherify's payloads as documented, for a customer and a campaign never seen before.
    let lionel = "cust_7LvqCsUB9c8WyFP8JaLXchtF";
    let campaign = "camp_duuYvm09BNsf274eQVp1ZO43";
    post_ok(
        &app,
        &event(
            "customer.deleted",
            "ev_c_del",
            "2024-02-01T11:16:41.000Z",
            |_| {},
        ),
    )
    .await;
    post_ok(
        &app,
        &event(
            "campaign.deleted",
            "ev_k_del",
            "2024-02-21T15:29:31.000Z",
            |_| {},
        ),
    )
    .await;
    // A voucher deleted with nothing but its id.
    let bare = wrap(
        "voucher.deleted",
        "ev_v_del",
        json!({"voucher": {"id": "v_bare"}}),
    );
    post_ok(&app, &bare).await;
    assert_eq!(listed(&app, false).await, vec![Vec::<String>::new(); 3]);
    let tombstones = listed(&app, true).await;
    assert_eq!(
        tombstones,
        vec![
            vec![lionel.to_owned()],
            vec!["v_bare".to_owned()],
            vec![campaign.to_owned()]
        ]
    );
    // Their creations, delivered late: the facts fill in where they are newer (the bare
    // voucher's), the deletions stay.
    post_ok(
        &app,
        &event(
            "customer.created",
            "ev_c_new",
            "2024-02-01T10:43:00.000Z",
            |_| {},
        ),
    )
    .await;
    post_ok(
        &app,
        &event(
            "campaign.created",
            "ev_k_new",
            "2024-02-21T11:35:18.000Z",
            |data| {
                data["campaign"]["id"] = json!(campaign);
            },
        ),
    )
    .await;
    post_ok(
        &app,
        &event(
            "voucher.created",
            "ev_v_new",
            "2024-02-01T00:00:00.000Z",
            |data| {
                data["voucher"]["id"] = json!("v_bare");
            },
        ),
    )
    .await;
    assert_eq!(listed(&app, false).await[0], Vec::<String>::new());
    assert_eq!(listed(&app, false).await[1], Vec::<String>::new());
    let answer = app
        .graphql(
            "query($c: ID!, $k: ID!) {
               customer(id: $c) { sourceId deletedAt }
               campaign(id: $k) { name deletedAt }
               voucher(id: \"v_bare\") { code deletedAt }
               campaigns(filter: {includeDeleted: false}) { nodes { id } }
               flagged: webhookEvents(filter: {normalized: false}) { totalCount }
             }",
            json!({"c": lionel, "k": campaign}),
        )
        .await;
    let data = &answer["data"];
    assert_eq!(
        data["customer"]["sourceId"], "lionel-johnson_deleted2024-02-01T11:16:40.918Z",
        "the deletion's own facts are the newest: {answer}"
    );
    assert_eq!(data["customer"]["deletedAt"], "2024-02-01T11:16:41.000Z");
    assert_eq!(data["campaign"]["name"], "Loyalty Spring", "{answer}");
    assert_eq!(
        data["campaign"]["deletedAt"], "2024-02-21T15:29:30.663Z",
        "Voucherify's `deleted_at`: {answer}"
    );
    assert_eq!(data["voucher"]["code"], "Your-applicable-9", "{answer}");
    assert!(data["voucher"]["deletedAt"].is_string(), "{answer}");
    assert!(!ids(&data["campaigns"]).contains(&campaign), "{answer}");
    assert_eq!(data["flagged"]["totalCount"], 0, "{answer}");
    // A deletion that names nothing is kept and flagged.
    let nameless = wrap(
        "voucher.deleted",
        "ev_nameless",
        json!({"voucher": {"code": "NO-ID"}}),
    );
    post_ok(&app, &nameless).await;
    let flagged = app
        .graphql(
            "{ webhookEvents(filter: {normalized: false}) { nodes { normalizationNote } } }",
            Value::Null,
        )
        .await;
    let note = &flagged["data"]["webhookEvents"]["nodes"][0]["normalizationNote"];
    assert!(
        note.as_str().is_some_and(|n| n.contains("voucher.deleted")),
        "{flagged}"
    );
}

//! Every fact a consumer could react with reaches GraphQL typed. The test walks every key of
//! the customers, vouchers, campaigns and publications in every documented example payload
//! (`tests/fixtures/data/`), fails on a key that has neither a GraphQL field nor a place in the
//! list of deliberate omissions below (each with its reason), then posts each payload to a fresh
//! gateway and checks that every such field answers what the payload said.

use crate::helpers::{Backend, TestApp, bytes, wrap};
use crate::on_both;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

on_both!(every_documented_fact_has_a_typed_field);

/// Where a key of an entity object is in GraphQL.
enum Home {
    /// The field path from the entity (`assets.qr.url`; lists are walked through).
    Field(&'static str),
    /// Deliberately not typed, and why.
    Omitted(&'static str),
}
use Home::{Field, Omitted};

const OBJECT: Home = Omitted("the JSON object's own type name");
const REDEMPTIONS: Home = Omitted(
    "redemption-time state (points, amounts, pending points, expirations) that redemption events \
     change; an assignment does not carry it reliably, and it stays in the raw payload",
);

/// A key's home: the entry for the key itself, else for its nearest parent.
fn home<'a>(table: &'a [(&str, Home)], key: &str) -> Option<&'a Home> {
    let mut key = key;
    loop {
        if let Some((_, home)) = table.iter().find(|(k, _)| *k == key) {
            return Some(home);
        }
        key = &key[..key.rfind('.')?];
    }
}

const VOUCHER: &[(&str, Home)] = &[
    ("id", Field("id")),
    ("code", Field("code")),
    ("type", Field("type")),
    ("active", Field("active")),
    ("object", OBJECT),
    ("campaign", Field("campaign.name")),
    ("campaign_id", Field("campaign.id")),
    ("category", Field("categories.name")),
    (
        "category_id",
        Omitted(
            "typed as categories.id together with `category` (its name); an id without a name \
             (seen in holder events) makes no Category until a payload names it",
        ),
    ),
    ("categories", Field("categories.id")),
    ("categories.id", Field("categories.id")),
    ("categories.name", Field("categories.name")),
    ("categories.hierarchy", Field("categories.hierarchy")),
    ("categories.object", OBJECT),
    (
        "categories.created_at",
        Omitted("when the category was made, not a fact of the voucher"),
    ),
    ("holder_id", Field("holder.id")),
    ("discount.type", Field("discount.type")),
    ("discount.effect", Field("discount.effect")),
    ("discount.amount_off", Field("discount.amountOff")),
    (
        "discount.amount_off_formula",
        Field("discount.amountOffFormula"),
    ),
    ("discount.percent_off", Field("discount.percentOff")),
    (
        "discount.percent_off_formula",
        Field("discount.percentOffFormula"),
    ),
    ("discount.amount_limit", Field("discount.amountLimit")),
    ("discount.unit_off", Field("discount.unitOff")),
    ("discount.unit_type", Field("discount.unitType")),
    ("discount.fixed_amount", Field("discount.fixedAmount")),
    (
        "discount.aggregated_amount_limit",
        Omitted("a limit across an order's items, applied at redemption; in the raw payload"),
    ),
    ("discount", Field("discount")),
    ("gift", Field("gift")),
    ("gift.amount", Field("gift.amount")),
    ("gift.balance", Field("gift.balance")),
    ("gift.effect", Field("gift.effect")),
    ("loyalty_card", Field("loyaltyCard")),
    ("loyalty_card.points", Field("loyaltyCard.points")),
    ("loyalty_card.balance", Field("loyaltyCard.balance")),
    ("loyalty_card", Field("loyaltyCard")),
    ("loyalty_card.next_expiration_date", REDEMPTIONS),
    ("loyalty_card.next_expiration_points", REDEMPTIONS),
    ("loyalty_card.pending_points", REDEMPTIONS),
    ("loyalty_card.subtracted_points", REDEMPTIONS),
    ("metadata", Field("metadata")),
    ("redemption.quantity", Field("redemption.quantity")),
    (
        "redemption.redeemed_quantity",
        Field("redemption.redeemedQuantity"),
    ),
    ("redemption.redeemed_amount", REDEMPTIONS),
    ("redemption.redeemed_points", REDEMPTIONS),
    ("redemption.object", OBJECT),
    (
        "redemption.url",
        Omitted("a link into Voucherify's API, not a fact"),
    ),
    ("start_date", Field("startDate")),
    ("expiration_date", Field("expirationDate")),
    ("created_at", Field("createdAt")),
    ("updated_at", Field("updatedAt")),
    ("assets.qr.id", Field("assets.qr.id")),
    ("assets.qr.url", Field("assets.qr.url")),
    ("assets.barcode.id", Field("assets.barcode.id")),
    ("assets.barcode.url", Field("assets.barcode.url")),
    ("validity_timeframe", Field("validityTimeframe")),
    (
        "validity_timeframe.interval",
        Field("validityTimeframe.interval"),
    ),
    (
        "validity_timeframe.duration",
        Field("validityTimeframe.duration"),
    ),
    ("validity_day_of_week", Field("validityDayOfWeek")),
    ("validity_hours", Field("validityHours")),
    (
        "validity_hours.daily.start_time",
        Field("validityHours.daily.startTime"),
    ),
    (
        "validity_hours.daily.expiration_time",
        Field("validityHours.daily.expirationTime"),
    ),
    (
        "validity_hours.daily.days_of_week",
        Field("validityHours.daily.daysOfWeek"),
    ),
    ("additional_info", Field("additionalInfo")),
    ("publish.count", Field("publishCount")),
    ("publish.object", OBJECT),
    (
        "publish.url",
        Omitted("a link into Voucherify's API, not a fact"),
    ),
    (
        "is_referral_code",
        Omitted("the campaign's isReferralCode says it for every voucher of the campaign"),
    ),
    (
        "referrer_id",
        Omitted("referral programs are not modelled; in the raw payload"),
    ),
    (
        "validation_rules_assignments",
        Omitted("validation rules are checked by Voucherify at redemption, not by a consumer"),
    ),
];

const CAMPAIGN: &[(&str, Home)] = &[
    ("id", Field("id")),
    ("name", Field("name")),
    ("campaign_type", Field("campaignType")),
    ("type", Field("type")),
    ("description", Field("description")),
    ("active", Field("active")),
    ("is_referral_code", Field("isReferralCode")),
    ("metadata", Field("metadata")),
    ("start_date", Field("startDate")),
    ("expiration_date", Field("expirationDate")),
    ("created_at", Field("createdAt")),
    ("updated_at", Field("updatedAt")),
    ("auto_join", Field("autoJoin")),
    ("join_once", Field("joinOnce")),
    ("object", OBJECT),
    ("voucher.type", Field("voucherTemplate.type")),
    ("voucher.discount", Field("voucherTemplate.discount")),
    (
        "voucher.discount.type",
        Field("voucherTemplate.discount.type"),
    ),
    (
        "voucher.discount.effect",
        Field("voucherTemplate.discount.effect"),
    ),
    (
        "voucher.discount.amount_off",
        Field("voucherTemplate.discount.amountOff"),
    ),
    (
        "voucher.discount.percent_off",
        Field("voucherTemplate.discount.percentOff"),
    ),
    (
        "voucher.discount.percent_off_formula",
        Field("voucherTemplate.discount.percentOffFormula"),
    ),
    (
        "voucher.discount.amount_limit",
        Field("voucherTemplate.discount.amountLimit"),
    ),
    (
        "voucher.discount.unit_off",
        Field("voucherTemplate.discount.unitOff"),
    ),
    (
        "voucher.discount.unit_type",
        Field("voucherTemplate.discount.unitType"),
    ),
    (
        "voucher.discount.units",
        Omitted("several units off at once (ADD_MANY_ITEMS): in the raw payload"),
    ),
    (
        "voucher.discount.aggregated_amount_limit",
        Omitted("a limit across an order's items, applied at redemption; in the raw payload"),
    ),
    ("voucher.gift", Field("voucherTemplate.gift")),
    ("voucher.gift.amount", Field("voucherTemplate.gift.amount")),
    ("voucher.gift.effect", Field("voucherTemplate.gift.effect")),
    ("voucher.loyalty_card", Field("voucherTemplate.loyaltyCard")),
    (
        "voucher.loyalty_card.points",
        Field("voucherTemplate.loyaltyCard.points"),
    ),
    ("voucher.loyalty_card.expiration_rules", REDEMPTIONS),
    (
        "voucher.code_config.length",
        Field("voucherTemplate.codeConfig.length"),
    ),
    (
        "voucher.code_config.prefix",
        Field("voucherTemplate.codeConfig.prefix"),
    ),
    (
        "voucher.code_config.postfix",
        Field("voucherTemplate.codeConfig.postfix"),
    ),
    (
        "voucher.code_config.pattern",
        Field("voucherTemplate.codeConfig.pattern"),
    ),
    (
        "voucher.code_config.charset",
        Field("voucherTemplate.codeConfig.charset"),
    ),
    (
        "voucher.redemption",
        Omitted("the template's redemption limit; each voucher's own is typed"),
    ),
    (
        "voucher.start_date",
        Omitted("the template's dates; each voucher's own are typed"),
    ),
    (
        "voucher.expiration_date",
        Omitted("the template's dates; each voucher's own are typed"),
    ),
    (
        "voucher.is_referral_code",
        Omitted("the campaign's isReferralCode says it"),
    ),
    (
        "validity_day_of_week",
        Omitted("the campaign's default; each voucher's own validity is typed"),
    ),
    (
        "categories",
        Omitted(
            "campaign categories organise campaigns in Voucherify's UI; vouchers carry their own",
        ),
    ),
    (
        "category",
        Omitted(
            "campaign categories organise campaigns in Voucherify's UI; vouchers carry their own",
        ),
    ),
    (
        "category_id",
        Omitted(
            "campaign categories organise campaigns in Voucherify's UI; vouchers carry their own",
        ),
    ),
    (
        "creation_status",
        Omitted("the state of Voucherify's own code generation job"),
    ),
    (
        "vouchers_generation_status",
        Omitted("the state of Voucherify's own code generation job"),
    ),
    (
        "vouchers_count",
        Omitted("changes with every generated voucher; stale once stored"),
    ),
    ("protected", Omitted("an access setting inside Voucherify")),
    (
        "use_voucher_metadata_schema",
        Omitted("a validation setting inside Voucherify"),
    ),
    (
        "loyalty_tiers_expiration",
        Omitted("loyalty tiers are not modelled; in the raw payload"),
    ),
    (
        "referral_program",
        Omitted("referral programs are not modelled; in the raw payload"),
    ),
];

const CUSTOMER: &[(&str, Home)] = &[
    ("id", Field("id")),
    ("source_id", Field("sourceId")),
    ("name", Field("name")),
    ("email", Field("email")),
    ("metadata", Field("metadata")),
    ("created_at", Field("createdAt")),
    ("updated_at", Field("updatedAt")),
    ("address", Field("address")),
    ("address.city", Field("address.city")),
    ("address.state", Field("address.state")),
    ("address.line_1", Field("address.line1")),
    ("address.line_2", Field("address.line2")),
    ("address.country", Field("address.country")),
    ("address.postal_code", Field("address.postalCode")),
    ("object", OBJECT),
    (
        "description",
        Omitted("free text for Voucherify's UI, not for reacting to an assignment"),
    ),
    (
        "birthdate",
        Omitted("personal data no assignment consumer needs; kept only in the raw payload"),
    ),
    (
        "summary",
        Omitted("order and redemption totals Voucherify recomputes: stale once stored"),
    ),
    (
        "loyalty",
        Omitted("points totals Voucherify recomputes: stale once stored"),
    ),
    (
        "referrals",
        Omitted("referral totals Voucherify recomputes: stale once stored"),
    ),
    ("system_metadata", Omitted("Voucherify's own bookkeeping")),
];

const PUBLICATION: &[(&str, Home)] = &[
    ("id", Field("id")),
    ("channel", Field("channel")),
    ("created_at", Field("createdAt")),
    ("customer_id", Field("customer.id")),
    ("metadata", Field("metadata")),
    ("result", Field("result")),
    ("source_id", Field("sourceId")),
    ("tracking_id", Field("trackingId")),
    ("vouchers_id", Field("vouchers.id")),
    ("object", OBJECT),
];

/// An entity object in a payload, as the normaliser finds it.
struct Entity {
    kind: &'static str,
    object: Map<String, Value>,
}

/// The customers, vouchers, campaigns and publication a payload's `data` carries.
fn entities(data: &Value) -> Vec<Entity> {
    let mut found = vec![];
    let mut add = |kind: &'static str, value: Option<&Value>| {
        let Some(object) = value.and_then(Value::as_object) else {
            return;
        };
        let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        let prefix = match kind {
            "customer" => "cust_",
            "campaign" => "camp_",
            _ => "",
        };
        let usable = !id.is_empty()
            && id.starts_with(prefix)
            && (kind != "voucher" || object.get("code").is_some_and(Value::is_string));
        if usable {
            let mut object = object.clone();
            if kind == "publication" {
                for nested in ["customer", "voucher", "vouchers"] {
                    object.remove(nested);
                }
            }
            found.push(Entity { kind, object });
        }
    };
    add("customer", data.get("customer"));
    add("customer", data.get("holder"));
    add("voucher", data.get("voucher"));
    add("campaign", data.get("campaign"));
    for voucher in data["vouchers"].as_array().into_iter().flatten() {
        add("voucher", Some(voucher));
    }
    let publication = data.get("publication");
    add("publication", publication);
    if let Some(p) = publication {
        add("customer", p.get("customer"));
        add("voucher", p.get("voucher"));
        for voucher in p["vouchers"].as_array().into_iter().flatten() {
            add("voucher", Some(voucher));
        }
    }
    found
}

fn table(kind: &str) -> &'static [(&'static str, Home)] {
    match kind {
        "customer" => CUSTOMER,
        "voucher" => VOUCHER,
        "campaign" => CAMPAIGN,
        _ => PUBLICATION,
    }
}

/// Every key path of `value` (lists walked through, `metadata` whole), with its leaf values.
fn leaves(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() && !path.ends_with("metadata") => {
            for (key, child) in map {
                let child_path = match path {
                    "" => key.clone(),
                    _ => format!("{path}.{key}"),
                };
                leaves(child, &child_path, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for item in items {
                leaves(item, path, out);
            }
        }
        _ => out.push((path.to_owned(), value.clone())),
    }
}

/// The GraphQL selection that reaches every `Field` of `table`.
fn selection(table: &[(&str, Home)]) -> String {
    #[derive(Default)]
    struct Tree(BTreeMap<String, Tree>);
    let mut root = Tree::default();
    for (_, home) in table {
        if let Field(path) = home {
            let mut node = &mut root;
            for part in path.split('.') {
                node = node.0.entry(part.to_owned()).or_default();
            }
        }
    }
    // A field that is an object and named as a whole (`gift`) is selected through its
    // members, which the table names too.
    fn render(tree: &Tree) -> String {
        tree.0
            .iter()
            .map(|(name, child)| match child.0.is_empty() {
                true => name.clone(),
                false => format!("{name} {{ {} }}", render(child)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
    render(&root)
}

/// The values at `path` of a GraphQL answer (lists walked through).
fn at(value: &Value, path: &str) -> Vec<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut current = vec![value.clone()];
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        current = current
            .into_iter()
            .flat_map(|v| match v.get(part) {
                Some(Value::Array(items)) if !last => items.clone(),
                Some(found) => vec![found.clone()],
                None => vec![Value::Null],
            })
            .collect();
    }
    current
}

/// `value` with every Voucherify id in it (`cust_…`, `v_…`, `camp_…`, `pub_…`, `cat_…`) made
/// unique to payload `n`.
fn own_ids(value: &Value, n: usize) -> Value {
    match value {
        Value::String(s)
            if ["cust_", "v_", "camp_", "pub_", "cat_"]
                .iter()
                .any(|p| s.starts_with(p))
                && !s.contains(' ') =>
        {
            Value::String(format!("{s}_{n}"))
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| own_ids(i, n)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), own_ids(v, n)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether a payload's value and GraphQL's say the same.
fn same(sent: &Value, answered: &Value) -> bool {
    match (sent, answered) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => {
            let instant = |t: &str| chrono::DateTime::parse_from_rfc3339(&t.replace(' ', "")).ok();
            a == b || (instant(a).is_some() && instant(a) == instant(b))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (a, b) => a == b,
    }
}

async fn every_documented_fact_has_a_typed_field(backend: Backend) {
    let mut files: Vec<_> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data"))
            .expect("fixtures")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".data.openapi-events.json"))
            .collect();
    files.sort();
    // 1. Every key has a home.
    let mut homeless = BTreeSet::new();
    let mut payloads = vec![];
    for file in &files {
        let data: Value =
            serde_json::from_slice(&std::fs::read(file).expect("read")).expect("JSON");
        let found = entities(&data);
        for entity in &found {
            let mut keys = vec![];
            leaves(&Value::Object(entity.object.clone()), "", &mut keys);
            for (key, _) in keys {
                if home(table(entity.kind), &key).is_none() {
                    homeless.insert(format!("{}.{key}", entity.kind));
                }
            }
        }
        if !found.is_empty() {
            let name = file.file_name().expect("a name").to_string_lossy();
            let event_type = name
                .trim_end_matches(".data.openapi-events.json")
                .to_owned();
            payloads.push((event_type, data, found));
        }
    }
    for (key, home) in [VOUCHER, CAMPAIGN, CUSTOMER, PUBLICATION]
        .iter()
        .flat_map(|t| t.iter())
    {
        if let Omitted(why) = home {
            assert!(why.split(' ').count() >= 3, "say why {key} is left out");
        }
    }
    assert!(
        homeless.is_empty(),
        "facts in the documented payloads with no GraphQL field and no stated omission: {homeless:#?}"
    );

    // 2. Each field answers what the payload said: every payload into one gateway, its ids
    // made its own (the examples share ids), only the payloads whose events are understood, only
    // values every copy of the same entity in that payload agrees on.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut checked = 0;
    for (n, (event_type, data, _)) in payloads.into_iter().enumerate() {
        let data = own_ids(&data, n);
        let found = entities(&data);
        let (status, answer) = app
            .post_webhook(bytes(&wrap(&event_type, &format!("evt_details_{n}"), data)))
            .await;
        assert_eq!(status, 200);
        let event = app
            .graphql(
                "query($id: ID!) { webhookEvent(id: $id) { normalized } }",
                json!({"id": answer["id"]}),
            )
            .await;
        if event["data"]["webhookEvent"]["normalized"] != true {
            continue;
        }
        let mut sent: BTreeMap<(&str, String, String), BTreeSet<String>> = BTreeMap::new();
        let mut values: BTreeMap<(&str, String, String), Value> = BTreeMap::new();
        for entity in &found {
            let id = entity.object["id"].as_str().expect("an id").to_owned();
            let mut keys = vec![];
            leaves(&Value::Object(entity.object.clone()), "", &mut keys);
            for (key, value) in keys {
                let Some(Field(path)) = home(table(entity.kind), &key) else {
                    continue;
                };
                if value.is_null() || value.is_object() && key != "metadata" {
                    continue;
                }
                // A voucher names its campaign; the campaign's own object, when the payload
                // carries it, is the campaign's facts (the `voucher.created` example disagrees
                // with itself here).
                let campaign_object = found.iter().any(|e| {
                    e.kind == "campaign" && e.object.get("id") == entity.object.get("campaign_id")
                });
                if key == "campaign" && campaign_object {
                    continue;
                }
                let slot = (entity.kind, id.clone(), path.to_string());
                sent.entry(slot.clone())
                    .or_default()
                    .insert(value.to_string());
                values.insert(slot, value);
            }
        }
        let mut answers: BTreeMap<(&str, String), Value> = BTreeMap::new();
        for ((kind, id, path), copies) in &sent {
            if copies.len() > 1 {
                continue;
            }
            let key = (*kind, id.clone());
            if !answers.contains_key(&key) {
                let query = format!(
                    "{{ node: {kind}(id: {id:?}) {{ {} }} }}",
                    selection(table(kind))
                );
                let answer = app.graphql(&query, json!({})).await;
                assert!(answer["errors"].is_null(), "{query}: {answer}");
                answers.insert(key.clone(), answer["data"]["node"].clone());
            }
            let sent_value = &values[&(*kind, id.clone(), path.clone())];
            let got = at(&answers[&key], path);
            let matched = got.iter().any(|g| same(sent_value, g))
                || same(sent_value, &Value::Array(got.clone()));
            assert!(
                matched,
                "{event_type}: {kind} {id}: {path} is {got:?}, the payload said {sent_value}"
            );
            checked += 1;
        }
    }
    assert!(checked > 1500, "only {checked} values checked");
}

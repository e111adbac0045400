//! Differential tests of the read path: generated documents (random selections, aliases,
//! fragments, directives, filters, orders and page arguments over the real schema, read by
//! introspection) answered by two gateways on the same data. The answers must be equal, errors
//! included.
//!
//! - Look-ahead against plain execution: a gateway whose resolvers plan with look-ahead (pages
//!   joined with what their rows refer to, references read for a whole page, pages that count
//!   themselves) and one that executes plainly (every reference through the batch loaders,
//!   every count by a statement), over the whole schema.
//! - Direct against resolver execution: documents made of the fields direct execution answers
//!   (`src/graphql/direct`), and the dashboard's own documents with variables, answered by a
//!   gateway that writes them directly and by one that runs the resolvers.

use crate::helpers::*;
use crate::on_both;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

on_both!(
    look_ahead_and_plain_execution_answer_alike,
    direct_and_resolver_execution_answer_alike
);

/// Documents per database.
const DOCUMENTS: usize = 250;
/// Object levels below the root.
const DEPTH: usize = 4;

/// A field of an object type, from introspection.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// The named type under any list and non-null wrappers.
    of: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
struct Arg {
    name: String,
    of: String,
}

/// The schema as the generator needs it: object fields, input fields, enum values.
struct Schema {
    objects: BTreeMap<String, Vec<Field>>,
    /// Interfaces and the object types that implement them.
    interfaces: BTreeMap<String, Vec<String>>,
    inputs: BTreeMap<String, Vec<Arg>>,
    enums: BTreeMap<String, Vec<String>>,
}

const INTROSPECTION: &str = "{ __schema { types { name kind
  fields { name type { ...T } args { name type { ...T } } }
  inputFields { name type { ...T } }
  enumValues { name } possibleTypes { name } } } }
fragment T on __Type { name kind ofType { name kind ofType { name kind ofType { name kind } } } }";

fn named(t: &Value) -> String {
    match t["name"].as_str() {
        Some(name) => name.to_owned(),
        None => named(&t["ofType"]),
    }
}

fn read_schema(answer: &Value) -> Schema {
    let mut schema = Schema {
        objects: BTreeMap::new(),
        interfaces: BTreeMap::new(),
        inputs: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    let args = |list: &Value| -> Vec<Arg> {
        list.as_array()
            .map(|a| a.iter())
            .into_iter()
            .flatten()
            .map(|a| Arg {
                name: a["name"].as_str().expect("name").to_owned(),
                of: named(&a["type"]),
            })
            .collect()
    };
    for t in answer["data"]["__schema"]["types"]
        .as_array()
        .expect("types")
    {
        let name = t["name"].as_str().expect("name").to_owned();
        if name.starts_with("__") {
            continue;
        }
        match t["kind"].as_str() {
            Some("OBJECT") => {
                let fields = t["fields"].as_array().expect("fields");
                let fields = fields
                    .iter()
                    .map(|f| Field {
                        name: f["name"].as_str().expect("name").to_owned(),
                        of: named(&f["type"]),
                        args: args(&f["args"]),
                    })
                    .collect();
                schema.objects.insert(name, fields);
            }
            Some("INTERFACE") => {
                let types = t["possibleTypes"].as_array().expect("possible types");
                let types = types
                    .iter()
                    .map(|p| p["name"].as_str().expect("name").to_owned())
                    .collect();
                schema.interfaces.insert(name, types);
            }
            Some("INPUT_OBJECT") => {
                schema.inputs.insert(name, args(&t["inputFields"]));
            }
            Some("ENUM") => {
                let values = t["enumValues"].as_array().expect("enum values");
                let values = values
                    .iter()
                    .map(|v| v["name"].as_str().expect("name").to_owned())
                    .collect();
                schema.enums.insert(name, values);
            }
            _ => {}
        }
    }
    schema
}

/// Values the data holds, so that arguments mostly name something that exists.
#[derive(Default)]
struct Pools(BTreeMap<&'static str, Vec<Value>>);

impl Pools {
    fn add(&mut self, key: &'static str, value: &Value) {
        if !value.is_null() {
            self.0.entry(key).or_default().push(value.clone());
        }
    }

    fn pick(&self, rng: &mut StdRng, key: &str) -> Value {
        self.0
            .get(key)
            .and_then(|values| values.choose(rng))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

async fn pools(app: &TestApp) -> Pools {
    let answer = app
        .graphql(
            "{ publications(first: 500) { edges { cursor node { id channel createdAt receivedAt
                 customer { id sourceId name email }
                 vouchers { id code categories { id name } } campaign { id name } } } }
               vouchers(first: 500) { edges { cursor } }
               customers(first: 500) { edges { cursor } }
               campaigns(first: 500) { edges { cursor } }
               webhookEvents(first: 500) { edges { cursor node { id type receivedAt } } } }",
            json!({}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    let mut pools = Pools::default();
    for edge in data["publications"]["edges"].as_array().expect("edges") {
        let node = &edge["node"];
        pools.add("publicationCursor", &edge["cursor"]);
        pools.add("publicationId", &node["id"]);
        pools.add("channel", &node["channel"]);
        pools.add("instant", &node["createdAt"]);
        pools.add("instant", &node["receivedAt"]);
        pools.add("customerId", &node["customer"]["id"]);
        pools.add("customerSourceId", &node["customer"]["sourceId"]);
        pools.add("email", &node["customer"]["email"]);
        if let Some(name) = node["customer"]["name"].as_str() {
            let cut: String = name.chars().skip(2).take(4).collect();
            pools.add("nameContains", &json!(cut.to_uppercase()));
        }
        pools.add("campaignId", &node["campaign"]["id"]);
        pools.add("campaignName", &node["campaign"]["name"]);
        for voucher in node["vouchers"].as_array().expect("vouchers") {
            pools.add("voucherId", &voucher["id"]);
            pools.add("voucherCode", &voucher["code"]);
            for category in voucher["categories"].as_array().expect("categories") {
                pools.add("category", &category["id"]);
                pools.add("category", &category["name"]);
            }
        }
    }
    for (list, key) in [
        ("vouchers", "voucherCursor"),
        ("customers", "customerCursor"),
        ("campaigns", "campaignCursor"),
        ("webhookEvents", "eventCursor"),
    ] {
        for edge in data[list]["edges"].as_array().expect("edges") {
            pools.add(key, &edge["cursor"]);
        }
    }
    for edge in data["webhookEvents"]["edges"].as_array().expect("edges") {
        pools.add("eventId", &edge["node"]["id"]);
        pools.add("eventType", &edge["node"]["type"]);
    }
    for key in [
        "publicationId",
        "customerId",
        "voucherId",
        "campaignName",
        "voucherCode",
    ] {
        pools.add(key, &json!("no-such-thing"));
    }
    pools
}

/// Writes one generated document.
struct Generator<'a> {
    schema: &'a Schema,
    pools: &'a Pools,
    rng: StdRng,
    /// Which fields (type, field) documents may select.
    only: fn(&str, &str) -> bool,
}

impl Generator<'_> {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn document(&mut self) -> String {
        let mut out = String::from("query Generated ");
        self.selection("Query", DEPTH, &mut out);
        out
    }

    /// `{ … }` over `type_name`: a few of its fields, some aliased, some twice, some inside an
    /// inline fragment or under `@skip`/`@include`.
    fn selection(&mut self, type_name: &str, depth: usize, out: &mut String) {
        let schema = self.schema;
        if let Some(types) = schema.interfaces.get(type_name) {
            // An interface: its own field, then a fragment on a few of the types behind it.
            out.push_str("{ __typename id ");
            for _ in 0..self.rng.random_range(1..=3) {
                let of = types.choose(&mut self.rng).expect("a type").clone();
                let _ = write!(out, "... on {of} ");
                self.selection(&of, depth, out);
            }
            out.push_str("} ");
            return;
        }
        let composite =
            |of: &String| schema.objects.contains_key(of) || schema.interfaces.contains_key(of);
        let only = self.only;
        let fields: Vec<Field> = schema.objects[type_name]
            .iter()
            .filter(|f| only(type_name, &f.name))
            .filter(|f| depth > 0 || !composite(&f.of))
            .cloned()
            .collect();
        if fields.is_empty() {
            out.push_str("{ __typename } ");
            return;
        }
        let count = self.rng.random_range(1..=fields.len().min(6));
        out.push_str("{ ");
        if self.chance(10) {
            out.push_str("__typename ");
        }
        for index in 0..count {
            let field = fields.choose(&mut self.rng).expect("a field").clone();
            let is_object = composite(&field.of);
            let fragment = self.chance(10);
            if fragment {
                out.push_str("... on ");
                out.push_str(type_name);
                out.push_str(" { ");
            }
            // Aliases make the same field with different arguments legal.
            let _ = write!(out, "a{index}: {}", field.name);
            if !field.args.is_empty() {
                self.arguments(&field, out);
            }
            match self.rng.random_range(0..20) {
                0 => out.push_str(" @skip(if: true)"),
                1 => out.push_str(" @include(if: false)"),
                2 => out.push_str(" @include(if: true)"),
                _ => {}
            }
            out.push(' ');
            if is_object {
                self.selection(&field.of, depth - 1, out);
            }
            if fragment {
                out.push_str("} ");
            }
        }
        out.push_str("} ");
    }

    fn arguments(&mut self, field: &Field, out: &mut String) {
        let mut given = vec![];
        let mut instants: Option<Value> = None;
        let forwards = self.chance(70);
        for arg in &field.args {
            let value = match arg.name.as_str() {
                "first" if forwards => self.size(),
                "last" if !forwards => self.size(),
                "after" if forwards && self.chance(40) => self.cursor(&field.of),
                "before" if !forwards && self.chance(40) => self.cursor(&field.of),
                "filter" if self.chance(50) => self.input(&arg.of),
                "orderBy" if self.chance(50) => self.input(&arg.of),
                "id" if field.of == "Node" => self.any_id(),
                "id" => self.id(&field.of),
                "ids" => json!(
                    (0..self.rng.random_range(1..=5))
                        .map(|_| self.any_id())
                        .collect::<Vec<_>>()
                ),
                "from" | "to" if instants.is_none() => {
                    let mut pair = [
                        self.pools.pick(&mut self.rng, "instant"),
                        self.pools.pick(&mut self.rng, "instant"),
                    ];
                    pair.sort_by_key(|v| v.to_string());
                    let from = pair[0].clone();
                    instants = Some(pair[1].clone());
                    if arg.name == "from" {
                        from
                    } else {
                        pair[1].clone()
                    }
                }
                "from" | "to" => instants.take().unwrap_or_default(),
                "bucket" if self.chance(70) => {
                    json!({"$enum": self.schema.enums[&arg.of].choose(&mut self.rng).expect("a value")})
                }
                "groupBy" => {
                    let values = self.schema.enums[&arg.of].clone();
                    json!(
                        (0..self.rng.random_range(0..=2))
                            .map(
                                |_| json!({"$enum": values.choose(&mut self.rng).expect("a value")})
                            )
                            .collect::<Vec<_>>()
                    )
                }
                "code" if self.chance(30) => self.pools.pick(&mut self.rng, "voucherCode"),
                "sourceId" if self.chance(30) => self.pools.pick(&mut self.rng, "customerSourceId"),
                "name" if self.chance(30) => self.pools.pick(&mut self.rng, "campaignName"),
                _ => Value::Null,
            };
            if !value.is_null() {
                given.push(format!("{}: {}", arg.name, literal(&value)));
            }
        }
        if !given.is_empty() {
            let _ = write!(out, "({})", given.join(", "));
        }
    }

    fn size(&mut self) -> Value {
        match self.rng.random_range(0..10) {
            0 => Value::Null,
            1 => json!(0),
            2..=6 => json!(self.rng.random_range(1..=4)),
            7 | 8 => json!(self.rng.random_range(5..=30)),
            _ => json!(80),
        }
    }

    /// A cursor of the connection's own kind, now and then another kind's or garbage.
    fn cursor(&mut self, connection: &str) -> Value {
        let key = match connection {
            "PublicationConnection" => "publicationCursor",
            "VoucherConnection" => "voucherCursor",
            "CustomerConnection" => "customerCursor",
            "CampaignConnection" => "campaignCursor",
            _ => "eventCursor",
        };
        match self.rng.random_range(0..25) {
            0 => json!("not-a-cursor"),
            1 => self.pools.pick(&mut self.rng, "voucherCursor"),
            _ => self.pools.pick(&mut self.rng, key),
        }
    }

    /// An id of any kind, now and then one that names nothing.
    fn any_id(&mut self) -> Value {
        let key = [
            "publicationId",
            "customerId",
            "voucherId",
            "campaignId",
            "category",
        ]
        .choose(&mut self.rng)
        .expect("a kind");
        match self.rng.random_range(0..10) {
            0 => json!("garbage"),
            _ => self.pools.pick(&mut self.rng, key),
        }
    }

    fn id(&mut self, type_name: &str) -> Value {
        let key = match type_name {
            "Publication" => "publicationId",
            "Customer" => "customerId",
            "Voucher" => "voucherId",
            "Campaign" => "campaignId",
            _ => "eventId",
        };
        match (type_name, self.chance(30)) {
            // Lookups by another key instead: customer(sourceId:), voucher(code:), …
            ("Customer" | "Voucher" | "Campaign", true) => Value::Null,
            _ => self.pools.pick(&mut self.rng, key),
        }
    }

    /// An input object with a few of its fields, each from the data.
    fn input(&mut self, type_name: &str) -> Value {
        let mut object = Map::new();
        for field in self.schema.inputs[type_name].clone() {
            if !self.chance(35) {
                continue;
            }
            let value = if let Some(values) = self.schema.enums.get(&field.of) {
                json!({"$enum": values.choose(&mut self.rng).expect("a value")})
            } else {
                match (field.name.as_str(), field.of.as_str()) {
                    (_, "Boolean") => json!(self.chance(50)),
                    ("createdAfter" | "createdBefore" | "receivedAfter" | "receivedBefore", _) => {
                        self.pools.pick(&mut self.rng, "instant")
                    }
                    ("sourceId", _) => self.pools.pick(&mut self.rng, "customerSourceId"),
                    ("holderId", _) => self.pools.pick(&mut self.rng, "customerId"),
                    ("type", _) => self.pools.pick(&mut self.rng, "eventType"),
                    (name, _) => self.pools.pick(&mut self.rng, name),
                }
            };
            if !value.is_null() {
                object.insert(field.name, value);
            }
        }
        Value::Object(object)
    }
}

/// A GraphQL literal for a JSON value (`{"$enum": X}` is the enum value X).
fn literal(value: &Value) -> String {
    match value {
        Value::Object(map) if map.contains_key("$enum") => {
            map["$enum"].as_str().expect("enum").to_owned()
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", literal(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// An answer with its errors in a fixed order: the GraphQL spec gives them none, and fields
/// of a list fail in whatever order they run.
fn errors_sorted(mut answer: Value) -> Value {
    if let Some(errors) = answer.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(|e| e.to_string());
    }
    answer
}

/// Deletions of some of the hand-shaped deliveries' customers, campaigns and vouchers, with
/// facts newer and older than those stored, so that lists, counts and references meet them.
fn deletions() -> Vec<Vec<u8>> {
    let deleted = [
        ("customer", "cust_1", "2024-06-01T00:00:00Z"),
        ("customer", "cust_3", "2024-01-01T00:00:00Z"),
        ("campaign", "camp_2", "2024-06-01T00:00:00Z"),
        ("voucher", "v_00004", "2024-06-01T00:00:00Z"),
        ("voucher", "v_00007", "2024-01-01T00:00:00Z"),
        ("voucher", "v_00011", "2024-06-01T00:00:00Z"),
    ];
    deleted
        .iter()
        .map(|(member, id, at)| {
            let mut object = json!({"id": id, "updated_at": at});
            if *member == "voucher" {
                object["code"] = json!(format!("GONE-{id}"));
            }
            let event_type = format!("{member}.deleted");
            bytes(&wrap(
                &event_type,
                &format!("ev_del_{id}"),
                json!({ *member: object }),
            ))
        })
        .collect()
}

async fn look_ahead_and_plain_execution_answer_alike(backend: Backend) {
    let Some(run) = compare(backend, |c| c.plain_execution = true, |_, _| true).await else {
        return;
    };
    eprintln!(
        "{backend:?}: {DOCUMENTS} documents (seed {}): {} answered, {} with errors; statements \
         {} with look-ahead, {} plain",
        run.seed, run.answered, run.errors, run.statements.0, run.statements.1
    );
    // Look-ahead must be in play.
    assert!(
        run.statements.0 < run.statements.1,
        "look-ahead ran {} statements, plain execution {}",
        run.statements.0,
        run.statements.1
    );
}

/// The fields direct execution answers (an independent list: a field it stops answering makes
/// the share answered directly fall, below).
fn direct_fields(type_name: &str, field: &str) -> bool {
    match type_name {
        "Query" => matches!(
            field,
            "publications" | "publication" | "customer" | "assignmentStats"
        ),
        "Publication" => !matches!(field, "vouchers" | "event" | "metadata"),
        "Customer" => !matches!(field, "metadata" | "address"),
        "Voucher" => matches!(
            field,
            "id" | "code"
                | "type"
                | "active"
                | "additionalInfo"
                | "publishCount"
                | "startDate"
                | "expirationDate"
                | "createdAt"
                | "updatedAt"
                | "deletedAt"
                | "discount"
                | "gift"
                | "loyaltyCard"
                | "categories"
                | "campaign"
        ),
        "Campaign" => matches!(
            field,
            "id" | "name"
                | "campaignType"
                | "type"
                | "description"
                | "active"
                | "isReferralCode"
                | "autoJoin"
                | "joinOnce"
        ),
        _ => true,
    }
}

const WRITTEN: &str = "pubgate_graphql_direct_total{result=\"written\"}";

async fn direct_and_resolver_execution_answer_alike(backend: Backend) {
    let Some(run) = compare(backend, |c| c.resolver_execution = true, direct_fields).await else {
        return;
    };
    let written = run.written.len();
    eprintln!(
        "{backend:?}: {DOCUMENTS} documents (seed {}): {} answered ({written} directly), {} with \
         errors; statements {} direct, {} by the resolvers",
        run.seed, run.answered, run.errors, run.statements.0, run.statements.1
    );
    // Customers under publications ask for their lists, which direct execution leaves to the
    // resolvers; most of the rest it answers.
    assert!(
        written * 3 > DOCUMENTS,
        "{written} of {DOCUMENTS} answered directly"
    );
    // Direct execution reads what the resolvers read, no more. (Each root field is read on its
    // own, where the resolvers' batch loaders may share one statement between root fields.)
    for (document, roots, direct, resolvers) in &run.written {
        assert!(
            *roots > 1 || direct <= resolvers,
            "seed {}: direct execution ran {direct} statements, the resolvers {resolvers}:\n\
             {document}",
            run.seed
        );
    }
    // The dashboard's own documents, with variables, over every customer and feed position.
    let before = crate::security::metric(&run.app, WRITTEN).await;
    dashboard_documents_alike(&run).await;
    let after = crate::security::metric(&run.app, WRITTEN).await;
    assert!(
        after > before,
        "the dashboard's documents were answered directly"
    );
}

/// Documents that ask the same row for different columns in different places (direct
/// execution reads only the columns asked, and shares rows between places).
const OVERLAPS: [&str; 3] = [
    "{ publications(first: 40) { nodes { campaign { id } voucher { campaign { id name type active } } } } }",
    "{ publications(first: 40) { edges { node { customer { id } } } nodes { customer { name email createdAt } } } }",
    "{ a: publications(first: 40) { nodes { voucher { code } } } b: publications(first: 40) { nodes { voucher { type discount { type percentOff } gift { amount } } campaign { name } } } }",
];

/// The dashboard's documents with variables (as it sends them): the same answers both ways,
/// byte for byte (the same fields in the same order, the same numbers and escapes).
async fn dashboard_documents_alike(run: &Run) {
    let (direct, resolvers) = (&run.app, &run.reference);
    for document in OVERLAPS {
        let none = json!({});
        let (a, b) = tokio::join!(
            direct.graphql_text(document, &none),
            resolvers.graphql_text(document, &none)
        );
        assert!(!a.contains("\"errors\""), "{a}");
        assert_eq!(a, b, "{document}");
    }
    // The counters and the chart, ending at instants publications were made at (a window's
    // edges then cut through minutes that hold some) and after them all.
    let stats = crate::graphql_read::dashboard_document("STATS");
    let mut ends: Vec<chrono::DateTime<chrono::Utc>> = run
        .pools
        .0
        .get("instant")
        .expect("instants")
        .iter()
        .step_by(5)
        .map(|v| v.as_str().expect("an instant").parse().expect("an instant"))
        .collect();
    let last = *ends.iter().max().expect("an instant");
    ends.push(last + chrono::Duration::seconds(61));
    let before = crate::security::metric(direct, WRITTEN).await;
    let times = ends.len() as f64;
    for end in ends {
        let at = |back: chrono::Duration| (end - back).to_rfc3339();
        let variables = json!({
            "now": at(chrono::Duration::zero()),
            "hour": at(chrono::Duration::hours(1)),
            "day": at(chrono::Duration::days(1)),
        });
        let (a, b) = tokio::join!(
            direct.graphql_text(&stats, &variables),
            resolvers.graphql_text(&stats, &variables)
        );
        assert!(!a.contains("\"errors\""), "{a}");
        assert_eq!(a, b, "{variables}");
    }
    let after = crate::security::metric(direct, WRITTEN).await;
    assert_eq!(after - before, times, "every STATS answered directly");
    let latest = crate::graphql_read::dashboard_document("LATEST");
    let customer = crate::graphql_read::dashboard_document("CUSTOMER");
    let resume = crate::graphql_read::dashboard_document("RESUME");
    let page = direct.graphql(&latest, json!({"first": 500})).await;
    let edges = page["data"]["publications"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert!(edges.len() > 50, "{page}");
    let mut customers: Vec<Value> = vec![];
    for (document, variables) in [
        (&latest, json!({"first": 50})),
        (&latest, json!({"first": 0})),
    ] {
        let (a, b) = tokio::join!(
            direct.graphql_text(document, &variables),
            resolvers.graphql_text(document, &variables)
        );
        assert_eq!(a, b, "{variables}");
    }
    for (n, edge) in edges.iter().enumerate().step_by(7) {
        let id = &edge["node"]["customer"]["id"];
        if !customers.contains(id) {
            customers.push(id.clone());
        }
        let variables =
            json!({"id": edge["node"]["id"], "after": edge["cursor"], "first": 1 + n % 49});
        let (a, b) = tokio::join!(
            direct.graphql_text(&resume, &variables),
            resolvers.graphql_text(&resume, &variables)
        );
        assert!(!a.contains("\"errors\""), "{a}");
        assert_eq!(a, b, "{variables}");
    }
    for (n, id) in customers.iter().enumerate() {
        let variables =
            json!({"id": id, "first": 1 + n % 12, "after": null, "withLatest": n % 3 != 0});
        let (a, b) = tokio::join!(
            direct.graphql_text(&customer, &variables),
            resolvers.graphql_text(&customer, &variables)
        );
        assert!(!a.contains("\"errors\""), "{a}");
        assert_eq!(a, b, "{variables}");
        // The next page of the customer's vouchers, from the cursor the first ended at.
        let a: Value = serde_json::from_str(&a).expect("json");
        let after = &a["data"]["customer"]["vouchers"]["pageInfo"]["endCursor"];
        let variables = json!({"id": id, "first": 2, "after": after, "withLatest": false});
        let (a, b) = tokio::join!(
            direct.graphql_text(&customer, &variables),
            resolvers.graphql_text(&customer, &variables)
        );
        assert_eq!(a, b, "{variables}");
    }
}

/// Two gateways on the same data and what a corpus of documents made of them.
struct Run {
    /// The gateway under test (default execution).
    app: TestApp,
    /// The one it is compared with.
    reference: TestApp,
    seed: u64,
    /// Values the data holds.
    pools: Pools,
    answered: usize,
    errors: usize,
    /// Statements run by each, over the corpus.
    statements: (u64, u64),
    /// The documents the gateway under test wrote directly: each one's root fields and the
    /// statements each gateway ran for it.
    written: Vec<(String, usize, u64, u64)>,
}

/// Posts the same deliveries to a default gateway and one configured by `reference` (sharing
/// its database), then compares their answers to `DOCUMENTS` documents selecting only the
/// fields `only` allows.
async fn compare(
    backend: Backend,
    reference: fn(&mut pubgate::Config),
    only: fn(&str, &str) -> bool,
) -> Option<Run> {
    let planned = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await?;
    let plain = planned
        .sibling_with(|c| {
            c.query_cache_bytes = 0;
            reference(c);
        })
        .await;
    // Hand-shaped deliveries (every voucher type, ties on created_at, a customer without an
    // e-mail) and generated ones (many customers and campaigns, several vouchers each).
    let mut bodies: Vec<Vec<u8>> = (0..60).map(crate::graphql_read::delivery).collect();
    let mut generated = pubgate::simulate::Generator::new(5, 25, 4, 0.1);
    bodies.extend((0..120).map(|_| generated.next_body()));
    planned.post_all(bodies).await;
    planned.post_all(deletions()).await;

    let schema = read_schema(&planned.graphql(INTROSPECTION, json!({})).await);
    assert!(schema.objects.contains_key("Publication"), "introspection");
    let pools = pools(&planned).await;
    let seed: u64 = std::env::var("PUBGATE_DIFFERENTIAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut generator = Generator {
        schema: &schema,
        pools: &pools,
        rng: StdRng::seed_from_u64(seed),
        only,
    };
    let (mut answered, mut errors) = (0, 0);
    let (planned_before, plain_before) = (
        planned.statements.load(Ordering::Relaxed),
        plain.statements.load(Ordering::Relaxed),
    );
    let mut written = vec![];
    for n in 0..DOCUMENTS {
        let document = generator.document();
        let before = (
            planned.statements.load(Ordering::Relaxed),
            plain.statements.load(Ordering::Relaxed),
            crate::security::metric(&planned, WRITTEN).await,
        );
        let (a, b) = tokio::join!(
            planned.graphql(&document, json!({})),
            plain.graphql(&document, json!({}))
        );
        let roots = a["data"].as_object().map_or(0, |data| data.len());
        if crate::security::metric(&planned, WRITTEN).await > before.2 {
            written.push((
                document.clone(),
                roots,
                planned.statements.load(Ordering::Relaxed) - before.0,
                plain.statements.load(Ordering::Relaxed) - before.1,
            ));
        }
        let (a, b) = (errors_sorted(a), errors_sorted(b));
        assert_eq!(
            a, b,
            "document {n} of seed {seed} (PUBGATE_DIFFERENTIAL_SEED) answered differently:\n{document}"
        );
        match a["errors"].is_null() {
            true => answered += 1,
            false => {
                errors += 1;
                if std::env::var_os("PUBGATE_DIFFERENTIAL_SHOW").is_some() {
                    eprintln!("{}", a["errors"][0]["message"]);
                }
            }
        }
    }
    // The corpus must mostly exercise answers, not errors.
    assert!(
        answered * 2 > DOCUMENTS,
        "{answered} of {DOCUMENTS} answered (seed {seed})"
    );
    let planned_statements = planned.statements.load(Ordering::Relaxed) - planned_before;
    let plain_statements = plain.statements.load(Ordering::Relaxed) - plain_before;
    Some(Run {
        app: planned,
        reference: plain,
        seed,
        pools,
        answered,
        errors,
        statements: (planned_statements, plain_statements),
        written,
    })
}

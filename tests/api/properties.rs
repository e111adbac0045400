//! Property tests (proptest): normalisation never panics and yields storable rows; the stored
//! body is exactly the bytes received; cursors round-trip.

use crate::helpers::*;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use pubgate::domain::cursor::{self, PublicationKey};
use pubgate::domain::envelope::{Envelope, clean_text, now};
use pubgate::domain::normalise::{DELETIONS, Normalised, clean_json, normalise};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// Proptest settings: bounded cases, and no regression files written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Keys Voucherify payloads use (so generated objects hit the paths `normalise` reads) and a
/// few awkward ones.
const KEYS: &[&str] = &[
    "id",
    "type",
    "object",
    "data",
    "event",
    "source",
    "project_id",
    "created_at",
    "updated_at",
    "publication",
    "customer",
    "holder",
    "customer_id",
    "holder_id",
    "campaign",
    "campaign_id",
    "voucher",
    "vouchers",
    "vouchers_id",
    "code",
    "name",
    "email",
    "source_id",
    "metadata",
    "categories",
    "category",
    "category_id",
    "hierarchy",
    "discount",
    "gift",
    "loyalty_card",
    "redemption",
    "quantity",
    "redeemed_quantity",
    "result",
    "channel",
    "tracking_id",
    "active",
    "start_date",
    "expiration_date",
    "campaign_type",
    "is_referral_code",
    "description",
    "deleted_at",
    "",
    "\u{0}",
    "id\u{0}",
    "ünï😀",
];

/// Strings that mean something to `normalise`.
const WORDS: &[&str] = &[
    "customer.publication.succeeded",
    "publication.succeeded",
    "voucher.published",
    "voucher.deleted",
    "customer.deleted",
    "campaign.deleted",
    "customer.created",
    "campaign.created",
    "event",
    "DISCOUNT_VOUCHER",
    "GIFT_VOUCHER",
    "LOYALTY_CARD",
    "SUCCESS",
    "2024-03-13T13:45:59.492Z",
    "2024-01-18T15:19:26.501570Z",
    "2024-05-13T12: 25: 59.620Z",
    "+262143-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        3 => ("(cust|camp|v|pub|cat|ev|whs|distr)_", "[A-Za-z0-9]{0,8}")
            .prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
        2 => "\\PC{0,12}",
        2 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
        1 => ("[a-z]{0,4}", "[a-z]{0,4}").prop_map(|(a, b)| format!("{a}\u{0}{b}")),
        1 => Just(String::new()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        proptest::sample::select(vec![i64::MIN, -1, 0, 1, i64::from(i32::MAX) + 1, i64::MAX])
            .prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        proptest::sample::select(vec![1e308, -1e308, 5e-324, -0.0, 0.5, 1e19])
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
                .map(Value::Number)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => text().prop_map(Value::String),
    ]
}

/// Any JSON value: recursive, with Voucherify-ish keys.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A chain `depth` levels deep, of objects under the keys `normalise` follows, or of arrays.
fn deep() -> impl Strategy<Value = Value> {
    (1usize..120, proptest::sample::select(KEYS), leaf(), any::<bool>()).prop_map(
        |(depth, key, leaf, arrays)| {
            let mut v = leaf;
            for _ in 0..depth {
                v = if arrays {
                    Value::Array(vec![v])
                } else {
                    json!({ key: v, "id": "cust_deep", "code": "DEEP" })
                };
            }
            json!({"data": {"publication": v.clone(), "metadata": v}, "event": {"type": "voucher.published"}})
        },
    )
}

/// Real publication-bearing deliveries and deletions from tests/fixtures.
static SHAPED: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let mut out: Vec<Value> = [
        "customer.publication.succeeded",
        "publication.succeeded",
        "voucher.published",
        "distribution.manual_distribution_schedule",
        "customer.deleted",
        "voucher.deleted",
        "campaign.deleted",
    ]
    .iter()
    .map(|t| envelope(t, "evcus_prop"))
    .collect();
    for path in [
        "envelopes/CONSTRUCTED.distribution.customer.publication.succeeded.full-envelope.json",
        "envelopes/ENVELOPE.project-settings.voucher.published.docs-project-settings-webhooks.json",
        "envelopes/ENVELOPE.distribution.customer.redemption.succeeded.docs-distribution-webhooks.json",
    ] {
        out.push(fixture_json(path));
    }
    out
});

/// Every JSON pointer inside `value` except the root.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", escape(k));
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

/// Replaces (or, with `None`, removes) the member at `pointer`.
fn mutate(root: &mut Value, pointer: &str, new: Option<Value>) {
    match new {
        Some(v) => {
            if let Some(slot) = root.pointer_mut(pointer) {
                *slot = v;
            }
        }
        None => {
            let Some((parent, last)) = pointer.rsplit_once('/') else {
                return;
            };
            let last = last.replace("~1", "/").replace("~0", "~");
            match root.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last);
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A real publication delivery with a few members replaced by arbitrary values or removed.
fn shaped() -> impl Strategy<Value = Value> {
    let edits = prop::collection::vec(
        (
            any::<Index>(),
            prop_oneof![
                1 => Just(None),
                3 => leaf().prop_map(Some),
                1 => value().prop_map(Some),
            ],
        ),
        0..6,
    );
    (any::<Index>(), edits).prop_map(|(which, edits)| {
        let mut v = SHAPED[which.index(SHAPED.len())].clone();
        for (at, new) in edits {
            let mut all = vec![];
            pointers(&v, "", &mut all);
            if all.is_empty() {
                break;
            }
            let p = all[at.index(all.len())].clone();
            mutate(&mut v, &p, new);
        }
        v
    })
}

fn any_delivery() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => value(),
        4 => shaped(),
        1 => deep(),
    ]
}

// ---------------------------------------------------------------------------------------------
// (1) `normalise` never panics, and what it returns is storable.

fn no_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.contains('\0'),
        Value::Array(items) => items.iter().all(no_nul),
        Value::Object(map) => map.iter().all(|(k, v)| !k.contains('\0') && no_nul(v)),
        _ => true,
    }
}

fn text_ok(text: &str) -> bool {
    !text.contains('\0')
}

fn unique<'a>(ids: impl Iterator<Item = &'a String>) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(!id.is_empty() && text_ok(id), "bad id {id:?}");
        assert!(seen.insert(id.as_str()), "{id:?} twice");
    }
    seen
}

fn check(value: &Value) -> Result<(), TestCaseError> {
    let body = serde_json::to_vec(value).expect("serialise");
    let before = value.clone();
    let envelope = Envelope::read(&body, value);
    let received_at = now();
    let n: Normalised = normalise(value, &envelope, received_at);
    prop_assert_eq!(value, &before, "the input is left as it was");

    prop_assert!(!envelope.idempotency_key.is_empty());
    prop_assert!(text_ok(&envelope.idempotency_key));
    prop_assert!(!envelope.event_type.is_empty() && text_ok(&envelope.event_type));
    prop_assert_eq!(
        n.normalized,
        n.note.is_none(),
        "normalized xor note: {:?}",
        n.note
    );
    let cleaned = clean_json(value);
    prop_assert!(no_nul(&cleaned));
    if no_nul(value) {
        prop_assert_eq!(&cleaned, value);
    }
    if !n.normalized {
        prop_assert!(n.customers.is_empty() && n.vouchers.is_empty() && n.publication.is_none());
        return Ok(());
    }
    // A deletion marks exactly one row, the one its type names, and assigns nothing; no other
    // event marks any.
    let marked: Vec<(&str, &str)> = (n.customers.iter())
        .filter(|c| c.deleted_at.is_some())
        .map(|c| ("customer", c.id.as_str()))
        .chain(
            n.campaigns
                .iter()
                .filter(|c| c.deleted_at.is_some())
                .map(|c| ("campaign", c.id.as_str())),
        )
        .chain(
            n.vouchers
                .iter()
                .filter(|v| v.row.deleted_at.is_some())
                .map(|v| ("voucher", v.row.id.as_str())),
        )
        .collect();
    match DELETIONS.iter().find(|(t, _)| *t == envelope.event_type) {
        Some((_, member)) => {
            prop_assert_eq!(marked.len(), 1, "{:?}", marked);
            prop_assert_eq!(marked[0].0, *member);
            let id = value
                .pointer(&format!("/data/{member}/id"))
                .and_then(Value::as_str);
            prop_assert_eq!(Some(marked[0].1.to_owned()), id.map(clean_text));
            prop_assert!(n.publication.is_none());
        }
        None => prop_assert!(marked.is_empty(), "{:?}", marked),
    }
    let customers = unique(n.customers.iter().map(|c| &c.id));
    let campaigns = unique(n.campaigns.iter().map(|c| &c.id));
    let categories = unique(n.categories.iter().map(|c| &c.id));
    let vouchers = unique(n.vouchers.iter().map(|v| &v.row.id));
    for c in &n.customers {
        prop_assert!(!c.id.is_empty());
        prop_assert!(no_nul(&c.metadata) && c.metadata.is_object());
        for s in [&c.name, &c.email, &c.source_id].into_iter().flatten() {
            prop_assert!(text_ok(s));
        }
    }
    for c in &n.campaigns {
        prop_assert!(text_ok(&c.name) && no_nul(&c.metadata));
    }
    for v in &n.vouchers {
        prop_assert!(!v.row.code.is_empty() && text_ok(&v.row.code));
        prop_assert!(
            ["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"]
                .contains(&v.row.voucher_type.as_str())
        );
        prop_assert!(no_nul(&v.row.metadata));
        for json in [&v.row.discount, &v.row.gift, &v.row.loyalty_card]
            .into_iter()
            .flatten()
        {
            prop_assert!(json.is_object() && no_nul(json));
        }
        if let Some(campaign) = &v.row.campaign_id {
            prop_assert!(campaigns.contains(campaign.as_str()));
        }
        for category in &v.category_ids {
            prop_assert!(categories.contains(category.as_str()));
        }
    }
    if let Some(p) = &n.publication {
        prop_assert!(!p.voucher_ids.is_empty());
        prop_assert_eq!(&p.row.voucher_id, &p.voucher_ids[0]);
        for id in &p.voucher_ids {
            prop_assert!(vouchers.contains(id.as_str()));
        }
        prop_assert!(text_ok(&p.row.id) && text_ok(&p.row.customer_id));
        // Whatever its form, the publication's customer has a row (a stub at least).
        prop_assert!(customers.contains(p.row.customer_id.as_str()));
        prop_assert_eq!(p.row.received_at, received_at);
        prop_assert!(no_nul(&p.row.metadata));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn normalise_never_panics_and_yields_storable_rows(value in any_delivery()) {
        check(&value)?;
    }

    #[test]
    fn real_publications_survive_mutation(value in shaped()) {
        check(&value)?;
    }
}

// ---------------------------------------------------------------------------------------------
// (2) The stored body is exactly the bytes received, whatever `normalise` made of them.

/// Writes `value` as JSON the way other producers might: whitespace anywhere between tokens,
/// `\uXXXX` escapes (NUL among them), `\/`, numbers spelt differently. Choices come from `style`.
fn write(value: &Value, style: &[u8], at: &mut usize, out: &mut String) {
    let space = |at: &mut usize| ["", "", " ", "\n  ", "\t", "\r\n", "   "][pick(style, at, 7)];
    out.push_str(space(at));
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (pick(style, at, 4), n.as_i64()) {
            (1, Some(i)) if i >= 0 => out.push_str(&format!("{i}.0E0")),
            (2, Some(0)) => out.push_str("-0"),
            (3, Some(i)) => out.push_str(&format!("{i}e0")),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(s, pick(style, at, 3), out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(space(at));
                    out.push(',');
                }
                write(item, style, at, out);
            }
            out.push_str(space(at));
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space(at));
                write_string(k, pick(style, at, 3), out);
                out.push_str(space(at));
                out.push(':');
                write(v, style, at, out);
            }
            out.push_str(space(at));
            out.push('}');
        }
    }
    out.push_str(space(at));
}

/// The next choice among `n`, read from `style`.
fn pick(style: &[u8], at: &mut usize, n: u8) -> usize {
    let b = style.get(*at % style.len().max(1)).copied().unwrap_or(0);
    *at += 1;
    usize::from(b % n)
}

fn write_string(s: &str, mode: usize, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if mode == 1 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || (mode == 2 && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Deliveries as bytes: compact, pretty, or hand-spelt.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (
        any_delivery(),
        0u8..3,
        prop::collection::vec(any::<u8>(), 1..64),
    )
        .prop_map(|(value, how, style)| match how {
            0 => serde_json::to_vec(&value).expect("serialise"),
            1 => serde_json::to_vec_pretty(&value).expect("serialise"),
            _ => {
                let mut out = String::new();
                write(&value, &style, &mut 0, &mut out);
                out.into_bytes()
            }
        })
}

/// Posts every body (signed, one after another) and reads back what was stored.
async fn bodies_are_stored_verbatim(backend: Backend, bodies: Vec<Vec<u8>>) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    // Stored id → the body that was first received with its idempotency key.
    let mut first: HashMap<i64, Vec<u8>> = HashMap::new();
    for body in bodies {
        let value: Value = serde_json::from_slice(&body).expect("generated bodies are JSON");
        let (status, answer) = app.post_webhook(body.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{answer} for {}",
            String::from_utf8_lossy(&body)
        );
        let id: i64 = answer["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id");
        if answer["status"] == "stored" {
            assert!(first.insert(id, body.clone()).is_none(), "id {id} reused");
        } else {
            assert_eq!(answer["status"], "duplicate");
            assert!(first.contains_key(&id), "duplicate of an unknown id {id}");
            continue;
        }
        let stored = app
            .text(&format!("SELECT body FROM webhook_events WHERE id = {id}"))
            .await
            .expect("a stored body");
        assert_eq!(
            stored.as_bytes(),
            body.as_slice(),
            "the stored body differs from the bytes received"
        );
        // And GraphQL's `payload` is those bytes parsed, NUL escapes and all. Floats are
        // compared to within 2 ulps: serde_json (without its `float_roundtrip` feature)
        // parses some decimal floats 1 ulp off, both in the server and in this client.
        let read = app
            .graphql(
                "query($id: ID!) { webhookEvent(id: $id) { payload } }",
                json!({"id": id.to_string()}),
            )
            .await;
        let payload = &read["data"]["webhookEvent"]["payload"];
        assert!(close(payload, &value), "{payload} is not {value}");
    }
    let events = app.count("webhook_events").await;
    assert_eq!(usize::try_from(events).expect("count"), first.len());
    app.shut_down().await;
}

/// Equal JSON, except that floats may differ by 2 ulps.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 2)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        (x, y) => x == y,
    }
}

fn on_runtime(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test);
}

proptest! {
    // One case of 64 bodies: each case starts a server; a failure still shrinks to one body.
    #![proptest_config(ProptestConfig { max_shrink_iters: 24, ..config(1) })]

    #[test]
    fn stored_body_is_the_bytes_received_sqlite(bodies in prop::collection::vec(body(), 64)) {
        on_runtime(bodies_are_stored_verbatim(Backend::Sqlite, bodies));
    }

    #[test]
    fn stored_body_is_the_bytes_received_postgres(bodies in prop::collection::vec(body(), 64)) {
        on_runtime(bodies_are_stored_verbatim(Backend::Postgres, bodies));
    }
}

// ---------------------------------------------------------------------------------------------
// Fragment graphs: any shape of spreads is answered at once, with data or a client error.

/// A document of fragments that spread each other: fragment `i` spreads the next one some
/// times and maybe later ones too (chains, fans and diamonds that multiply when expanded);
/// one document in eight also has a spread back (a cycle).
fn fragment_document() -> impl Strategy<Value = String> {
    let fragment = (
        1usize..=5,
        prop::collection::vec((0usize..40, 1usize..=3), 0..3),
    );
    let graph = prop::collection::vec(fragment, 1..40);
    (graph, 1usize..=4, any::<bool>(), 0u8..8, 0usize..40).prop_map(
        |(fragments, roots, subscription, cyclic, back)| {
            let n = fragments.len();
            let (kind, on, leaf) = match subscription {
                true => ("subscription", "Subscription", "voucherAssigned { cursor }"),
                false => ("query", "Query", "__typename"),
            };
            let mut doc = format!("{kind} {{ {} }}\n", "...F0 ".repeat(roots));
            for (i, (next, extra)) in fragments.iter().enumerate() {
                let mut body = String::from(leaf);
                if i + 1 < n {
                    body.push_str(&format!(" ...F{}", i + 1).repeat(*next));
                    for (offset, times) in extra {
                        let target = i + 1 + offset % (n - i - 1);
                        body.push_str(&format!(" ...F{target}").repeat(*times));
                    }
                } else if cyclic == 0 {
                    body.push_str(&format!(" ...F{}", back % n));
                }
                doc.push_str(&format!("fragment F{i} on {on} {{ {body} }}\n"));
            }
            doc
        },
    )
}

async fn fragment_graphs_are_answered_at_once(documents: Vec<String>) {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    for document in documents {
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            app.graphql(&document, json!({})),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer within 5 s to\n{document}"));
        for error in answer["errors"].as_array().into_iter().flatten() {
            assert_eq!(
                error["extensions"]["code"], "BAD_USER_INPUT",
                "{document}\n{answer}"
            );
        }
    }
    let fine = app.graphql("{ __typename }", json!({})).await;
    assert_eq!(fine["data"]["__typename"], "Query");
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 24, ..config(2) })]

    #[test]
    fn any_fragment_graph_is_answered_at_once(documents in prop::collection::vec(fragment_document(), 48)) {
        on_runtime(fragment_graphs_are_answered_at_once(documents));
    }
}

// ---------------------------------------------------------------------------------------------
// (3) Cursors round-trip; arbitrary text never panics a decoder.

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        any::<i64>().prop_filter_map("in chrono's range", DateTime::from_timestamp_micros),
        (0i64..4_102_444_800_000_000).prop_filter_map("in range", DateTime::from_timestamp_micros),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![text(), any::<String>(), "[a-z]{1,4}(:[a-z0-9]{0,4}){1,4}",]
        .prop_filter("ids are not empty", |id| !id.is_empty())
}

fn decoders_agree(text: &str) -> Result<(), TestCaseError> {
    let mut kinds = 0;
    if let Ok(key) = cursor::decode_publication(text) {
        kinds += 1;
        prop_assert_eq!(
            cursor::decode_publication(&cursor::publication(&key, "db")),
            Ok(key.clone())
        );
        prop_assert_eq!(cursor::decode_resume(text).map(|r| r.seq), Ok(key.seq));
    } else if let Ok(resume) = cursor::decode_resume(text) {
        let seq = resume.seq;
        prop_assert!(seq >= 0);
        let again = cursor::decode_resume(&cursor::position(seq, "db"));
        prop_assert_eq!(again.map(|r| r.seq), Ok(seq));
    }
    for kind in ['c', 'v', 'k'] {
        if let Ok(id) = cursor::decode_entity(kind, text) {
            kinds += 1;
            prop_assert_eq!(
                cursor::decode_entity(kind, &cursor::entity(kind, &id)),
                Ok(id)
            );
        }
    }
    if let Ok(id) = cursor::decode_event(text) {
        kinds += 1;
        prop_assert!(id >= 0);
        prop_assert_eq!(cursor::decode_event(&cursor::event(id, "db")), Ok(id));
    }
    prop_assert!(kinds <= 1, "{:?} decodes as {} kinds", text, kinds);
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn publication_cursor_round_trips(
        seq in any::<i64>(),
        created_at in instant(),
        received_at in instant(),
        id in id(),
    ) {
        let key = PublicationKey { seq, created_at, received_at, id };
        let text = cursor::publication(&key, "db");
        prop_assert_eq!(cursor::decode_publication(&text), Ok(key));
        prop_assert_eq!(cursor::decode_resume(&text).map(|r| r.seq), Ok(seq));
        prop_assert!(cursor::decode_event(&text).is_err());
        prop_assert!(cursor::decode_entity('c', &text).is_err());
    }

    #[test]
    fn entity_event_and_position_cursors_round_trip(
        kind in proptest::sample::select(vec!['c', 'v', 'k']),
        id in id(),
        n in 0i64..=i64::MAX,
    ) {
        prop_assert_eq!(cursor::decode_entity(kind, &cursor::entity(kind, &id)), Ok(id.clone()));
        for other in ['c', 'v', 'k'].into_iter().filter(|k| *k != kind) {
            prop_assert!(cursor::decode_entity(other, &cursor::entity(kind, &id)).is_err());
        }
        prop_assert!(cursor::decode_publication(&cursor::entity(kind, &id)).is_err());
        prop_assert_eq!(cursor::decode_event(&cursor::event(n, "db")), Ok(n));
        prop_assert_eq!(cursor::decode_resume(&cursor::position(n, "db")).map(|r| r.seq), Ok(n));
        prop_assert!(cursor::decode_event(&cursor::position(n, "db")).is_err());
        prop_assert!(cursor::decode_event(&cursor::event(-1 - n, "db")).is_err());
        prop_assert!(cursor::decode_resume(&cursor::position(-1 - n, "db")).is_err());
    }

    #[test]
    fn arbitrary_text_never_panics_a_decoder(
        raw in any::<String>(),
        inner in prop_oneof![
            any::<String>(),
            ("[pescvk]", ":", "[-+0-9:a-z]{0,24}").prop_map(|(k, c, rest)| format!("{k}{c}{rest}")),
        ],
    ) {
        decoders_agree(&raw)?;
        decoders_agree(&URL_SAFE_NO_PAD.encode(inner.as_bytes()))?;
    }
}

#[test]
fn clean_json_keeps_json_that_has_no_nul() {
    let value = json!({"a": ["x", 1, {"b": null}], "ü": "😀"});
    assert_eq!(clean_json(&value), value);
    let dirty = json!({"k\u{0}": "v\u{0}"});
    let mut expected = Map::new();
    expected.insert("k\u{FFFD}".into(), json!("v\u{FFFD}"));
    assert_eq!(clean_json(&dirty), Value::Object(expected));
}

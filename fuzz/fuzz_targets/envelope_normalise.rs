//! Any bytes that parse as JSON → `Envelope::read` → `normalise`, plus `clean_json`.
//!
//! Never panics, and what comes out is fit for the store: no NUL anywhere (PostgreSQL refuses
//! it), a non-empty idempotency key of a known form, rows that refer only to rows the same
//! delivery also carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubgate::domain::envelope::{Envelope, now};
use pubgate::domain::normalise::{Normalised, clean_json, normalise};
use serde_json::Value;
use std::collections::HashSet;

const VOUCHER_TYPES: [&str; 3] = ["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"];

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check_clean_json(&value);

    let envelope = Envelope::read(data, &value);
    assert_eq!(
        envelope,
        Envelope::read(data, &value),
        "Envelope::read is deterministic"
    );
    check_envelope(&envelope, data);

    let received_at = now();
    assert_eq!(
        received_at.timestamp_subsec_nanos() % 1000,
        0,
        "now() is microsecond precision"
    );
    let normalised = normalise(&value, &envelope, received_at);
    assert_eq!(
        normalised,
        normalise(&value, &envelope, received_at),
        "normalise is deterministic"
    );
    check_normalised(&normalised, received_at);
});

fn no_nul(text: &str, what: &str) {
    assert!(!text.contains('\0'), "NUL in {what}: {text:?}");
}

fn no_nul_json(value: &Value, what: &str) {
    match value {
        Value::String(s) => no_nul(s, what),
        Value::Array(items) => items.iter().for_each(|v| no_nul_json(v, what)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            no_nul(k, what);
            no_nul_json(v, what);
        }),
        _ => {}
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Same kind of value at every position; arrays keep their length, objects never grow.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_shape(x, y))
        }
        (Value::Object(x), Value::Object(y)) => y.len() <= x.len(),
        (Value::String(_), Value::String(_)) => true,
        (x, y) => x == y,
    }
}

fn check_clean_json(value: &Value) {
    let cleaned = clean_json(value);
    no_nul_json(&cleaned, "clean_json output");
    assert_eq!(clean_json(&cleaned), cleaned, "clean_json is idempotent");
    if !has_nul(value) {
        assert_eq!(&cleaned, value, "clean_json leaves NUL-free JSON alone");
    }
    assert!(same_shape(value, &cleaned), "clean_json keeps the shape");
}

fn check_envelope(envelope: &Envelope, body: &[u8]) {
    let key = &envelope.idempotency_key;
    assert!(!key.is_empty(), "empty idempotency key");
    no_nul(key, "idempotency key");
    if let Some(hash) = key.strip_prefix("sha256:") {
        assert!(envelope.event_id.is_none() && envelope.delivery_id.is_none());
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        let _ = body;
    } else if let Some(delivery) = key.strip_prefix("delivery:") {
        assert!(envelope.event_id.is_none());
        assert_eq!(Some(delivery), envelope.delivery_id.as_deref());
    } else {
        let rest = key
            .strip_prefix("event:")
            .unwrap_or_else(|| panic!("idempotency key of unknown form: {key:?}"));
        let event = envelope
            .event_id
            .as_deref()
            .expect("event key without event id");
        assert!(rest.ends_with(event));
    }
    assert!(!envelope.event_type.is_empty(), "empty event type");
    no_nul(&envelope.event_type, "event type");
    for field in [
        &envelope.delivery_id,
        &envelope.event_id,
        &envelope.source_id,
        &envelope.project_id,
        &envelope.event_name,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!field.is_empty(), "Some(\"\") in the envelope");
        no_nul(field, "envelope field");
    }
    if let Some(t) = envelope.occurred_at {
        assert_eq!(
            t.timestamp_subsec_nanos() % 1000,
            0,
            "occurred_at has sub-µs digits"
        );
    }
}

fn unique<'a>(ids: impl Iterator<Item = &'a String>, what: &str) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(!id.is_empty(), "empty {what} id");
        no_nul(id, what);
        assert!(seen.insert(id.as_str()), "{what} {id:?} twice");
    }
    seen
}

fn check_normalised(n: &Normalised, received_at: chrono::DateTime<chrono::Utc>) {
    assert_eq!(n.normalized, n.note.is_none(), "normalized xor note");
    if let Some(note) = &n.note {
        no_nul(note, "note");
    }
    if !n.normalized {
        assert!(
            n.customers.is_empty()
                && n.campaigns.is_empty()
                && n.categories.is_empty()
                && n.vouchers.is_empty()
                && n.publication.is_none(),
            "rows from an event that was not normalised"
        );
        return;
    }
    assert!(
        n.publication.is_some()
            || !n.customers.is_empty()
            || !n.campaigns.is_empty()
            || !n.vouchers.is_empty(),
        "normalised but empty"
    );
    let customers = unique(n.customers.iter().map(|c| &c.id), "customer");
    let campaigns = unique(n.campaigns.iter().map(|c| &c.id), "campaign");
    let categories = unique(n.categories.iter().map(|c| &c.id), "category");
    let vouchers = unique(n.vouchers.iter().map(|v| &v.row.id), "voucher");
    // Customers a row refers to (the publication's, vouchers' holders): each gets at least a stub.
    let referenced: HashSet<&str> = n
        .vouchers
        .iter()
        .filter_map(|v| v.row.holder_id.as_deref())
        .chain(n.publication.iter().map(|p| p.row.customer_id.as_str()))
        .collect();
    for c in &n.customers {
        // A full row comes only from a `cust_…` entity; any other id is a stub made from a
        // reference (fuzz/crashes-found/envelope_normalise-publication-customer-not-carried.json),
        // which carries no facts, so it never overwrites what is stored.
        let stub = c.facts_at == i64::MIN;
        assert!(
            stub || c.id.starts_with("cust_"),
            "customer {:?} is neither `cust_…` nor a stub",
            c.id
        );
        if stub {
            assert!(
                c.source_id.is_none()
                    && c.name.is_none()
                    && c.email.is_none()
                    && c.created_at.is_none()
                    && c.updated_at.is_none()
                    && c.metadata.as_object().is_some_and(|m| m.is_empty()),
                "stub customer {:?} carries facts",
                c.id
            );
            assert!(
                referenced.contains(c.id.as_str()),
                "stub customer {:?} that nothing refers to",
                c.id
            );
        }
        assert_eq!(c.event_id, 0);
        for s in [&c.source_id, &c.name, &c.email].into_iter().flatten() {
            no_nul(s, "customer field");
        }
        assert!(c.metadata.is_object());
        no_nul_json(&c.metadata, "customer metadata");
    }
    for c in &n.campaigns {
        no_nul(&c.name, "campaign name");
        assert!(!c.name.is_empty());
        for s in [&c.campaign_type, &c.kind, &c.description]
            .into_iter()
            .flatten()
        {
            no_nul(s, "campaign field");
        }
        if let Some(t) = &c.voucher_type {
            assert!(VOUCHER_TYPES.contains(&t.as_str()));
        }
        assert!(c.metadata.is_object());
        no_nul_json(&c.metadata, "campaign metadata");
    }
    for c in &n.categories {
        no_nul(&c.name, "category name");
    }
    for v in &n.vouchers {
        let row = &v.row;
        assert!(!row.code.is_empty());
        no_nul(&row.code, "voucher code");
        assert!(
            VOUCHER_TYPES.contains(&row.voucher_type.as_str()),
            "{}",
            row.voucher_type
        );
        assert_eq!(row.event_id, 0);
        if let Some(campaign) = &row.campaign_id {
            assert!(
                campaigns.contains(campaign.as_str()),
                "voucher's campaign not carried"
            );
        }
        if let Some(holder) = &row.holder_id {
            no_nul(holder, "holder id");
            assert!(
                customers.contains(holder.as_str()),
                "voucher's holder {holder:?} not carried"
            );
        }
        for json in [&row.discount, &row.gift, &row.loyalty_card]
            .into_iter()
            .flatten()
        {
            assert!(json.is_object());
            no_nul_json(json, "voucher JSON");
        }
        assert!(row.metadata.is_object());
        no_nul_json(&row.metadata, "voucher metadata");
        for category in &v.category_ids {
            assert!(
                categories.contains(category.as_str()),
                "voucher's category not carried"
            );
        }
    }
    if let Some(p) = &n.publication {
        let row = &p.row;
        no_nul(&row.id, "publication id");
        assert!(!row.id.is_empty());
        assert!(!p.voucher_ids.is_empty(), "publication without vouchers");
        assert_eq!(row.voucher_id, p.voucher_ids[0]);
        for id in &p.voucher_ids {
            assert!(
                vouchers.contains(id.as_str()),
                "publication voucher not carried"
            );
        }
        no_nul(&row.customer_id, "publication customer");
        // `Publication.customer` is non-null in the API and a missing row answers INTERNAL, so
        // the publication's customer must come with it, whatever the form of its id.
        assert!(
            customers.contains(row.customer_id.as_str()),
            "publication customer {:?} not carried",
            row.customer_id
        );
        if let Some(campaign) = &row.campaign_id {
            no_nul(campaign, "publication campaign");
        }
        for s in [&row.channel, &row.source_id, &row.tracking_id]
            .into_iter()
            .flatten()
        {
            no_nul(s, "publication field");
        }
        no_nul(&row.result, "publication result");
        no_nul_json(&row.metadata, "publication metadata");
        assert_eq!(row.received_at, received_at);
        assert_eq!(row.seq, 0);
    }
}

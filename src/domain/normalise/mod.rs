//! From a delivery's JSON to the domain rows it carries: customers, campaigns, vouchers,
//! categories and publications. Pure: no I/O, never panics, never fails; what it cannot read
//! becomes a note. One file per family of facts; this one decides what an event is and walks
//! its `data`.

mod campaigns;
mod customers;
mod deletions;
mod publications;
pub mod rest;
mod vouchers;

use super::envelope::{Envelope, clean_text, string_at, timestamp};
use chrono::{DateTime, Utc};
use entity::{campaign, category, customer, publication, voucher};
use serde_json::{Map, Value};

pub use deletions::DELETIONS;
pub use vouchers::{code_key, code_of_key};

/// The event types that assign vouchers even when their `data` is old-format.
pub const PUBLICATION_EVENTS: [&str; 3] = [
    "customer.publication.succeeded",
    "publication.succeeded",
    "voucher.published",
];

/// A voucher and the categories it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherFacts {
    pub row: voucher::Model,
    /// False when the payload did not say its type: the store then asks the campaign.
    pub type_known: bool,
    pub category_ids: Vec<String>,
    /// The campaign's name when the payload names it without its id (the REST publications
    /// list does): the store links the voucher to the stored campaign of that name.
    pub campaign_name: Option<String>,
}

/// A publication and every voucher it assigned, in payload order.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicationFacts {
    pub row: publication::Model,
    pub voucher_ids: Vec<String>,
}

/// Everything one delivery says about the domain. `event_id` and `seq` fields are 0 until stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalised {
    pub customers: Vec<customer::Model>,
    pub campaigns: Vec<campaign::Model>,
    pub categories: Vec<category::Model>,
    pub vouchers: Vec<VoucherFacts>,
    pub publication: Option<PublicationFacts>,
    /// True when the event was understood and its rows are to be applied.
    pub normalized: bool,
    pub note: Option<String>,
}

/// Reads the domain rows out of a parsed delivery.
pub fn normalise(value: &Value, envelope: &Envelope, received_at: DateTime<Utc>) -> Normalised {
    let flagged = |note: String| Normalised {
        note: Some(note),
        ..Normalised::default()
    };
    let Some(data) = value.get("data").and_then(Value::as_object) else {
        return flagged(format!(
            "no `data` object: not a Voucherify v2024-01-01 envelope (type `{}`); stored verbatim",
            envelope.event_type
        ));
    };
    if value.get("event").is_none()
        && (value.get("object").and_then(Value::as_str) == Some("event")
            || data.get("object").is_some_and(Value::is_object))
    {
        return flagged(
            "legacy (v2018-08-01) webhook format: stored verbatim, not normalised".into(),
        );
    }
    if let Some((_, member)) = DELETIONS.iter().find(|(t, _)| *t == envelope.event_type) {
        return deletions::deletion(data, member, envelope.occurred_at, received_at)
            .unwrap_or_else(|note| {
                flagged(format!(
                    "`{}`: {note}; stored verbatim",
                    envelope.event_type
                ))
            });
    }
    if envelope.event_type.ends_with(".deleted") {
        return flagged(format!(
            "`{}` is stored but not applied: pubgate keeps the last known facts",
            envelope.event_type
        ));
    }
    let facts_time = envelope.occurred_at.unwrap_or(received_at);
    let mut reader = Reader::new(facts_time);
    reader.read_entities(data);
    let wants_publication = PUBLICATION_EVENTS.contains(&envelope.event_type.as_str())
        || data.get("publication").is_some();
    let mut out = Normalised::default();
    if wants_publication {
        match reader.publication(data, received_at) {
            Ok(publication) => out.publication = Some(publication),
            Err(note) => {
                return flagged(format!(
                    "`{}` without a usable publication: {note}; stored verbatim",
                    envelope.event_type
                ));
            }
        }
    } else if reader.is_empty() {
        return flagged(format!(
            "event type `{}` carries no customer, campaign, voucher or publication; stored verbatim",
            envelope.event_type
        ));
    }
    out.customers = reader.customers;
    out.campaigns = reader.campaigns;
    out.categories = reader.categories;
    out.vouchers = reader.vouchers;
    out.normalized = true;
    out
}

struct Reader {
    facts_time: DateTime<Utc>,
    customers: Vec<customer::Model>,
    campaigns: Vec<campaign::Model>,
    categories: Vec<category::Model>,
    vouchers: Vec<VoucherFacts>,
}

impl Reader {
    fn new(facts_time: DateTime<Utc>) -> Self {
        Reader {
            facts_time,
            customers: Vec::new(),
            campaigns: Vec::new(),
            categories: Vec::new(),
            vouchers: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.customers.is_empty() && self.campaigns.is_empty() && self.vouchers.is_empty()
    }

    fn read_entities(&mut self, data: &Map<String, Value>) {
        let publication = data.get("publication");
        for key in ["customer", "holder"] {
            self.customer(data.get(key));
        }
        self.customer(publication.and_then(|p| p.get("customer")));
        self.campaign(data.get("campaign"));
        let template = data.get("campaign");
        let mut vouchers: Vec<&Value> = vec![];
        vouchers.extend(data.get("voucher"));
        vouchers.extend(publication.and_then(|p| p.get("voucher")));
        for list in [
            data.get("vouchers"),
            publication.and_then(|p| p.get("vouchers")),
        ] {
            vouchers.extend(list.and_then(Value::as_array).into_iter().flatten());
        }
        let holder = publication
            .and_then(|p| string_at(Some(p), "customer_id"))
            .or_else(|| publication.and_then(|p| string_at(p.get("customer"), "id")));
        for value in vouchers {
            self.voucher(value, template, holder.as_deref());
        }
    }

    fn facts_at(&self, value: &Value) -> i64 {
        timestamp(value.get("updated_at"))
            .unwrap_or(self.facts_time)
            .timestamp_micros()
    }
}

/// The id of an entity object, when it has one (and, if given, the expected prefix).
fn entity_id(value: Option<&Value>, prefix: &str) -> Option<String> {
    string_at(value.filter(|v| v.is_object()), "id").filter(|id| id.starts_with(prefix))
}

fn object(value: Option<&Value>) -> Option<Value> {
    value.filter(|v| v.is_object()).map(clean_json)
}

fn metadata(value: &Value) -> Value {
    object(value.get("metadata")).unwrap_or_else(|| Value::Object(Map::new()))
}

/// JSON the store can keep: PostgreSQL's `jsonb` rejects NUL characters in strings and keys.
pub fn clean_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(clean_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(clean_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (clean_text(k), clean_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

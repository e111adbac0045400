//! From a delivery's JSON to the domain rows it carries: customers, campaigns, vouchers,
//! categories and publications. Pure: no I/O, never panics, never fails; what it cannot read
//! becomes a note.

use super::envelope::{Envelope, clean_text, string_at, timestamp};
use chrono::{DateTime, Utc};
use entity::{campaign, category, customer, publication, voucher};
use serde_json::{Map, Value};

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

    fn customer(&mut self, value: Option<&Value>) {
        let Some(id) = entity_id(value, "cust_") else {
            return;
        };
        let value = value.unwrap_or(&Value::Null);
        let row = customer::Model {
            source_id: string_at(Some(value), "source_id"),
            name: string_at(Some(value), "name"),
            email: string_at(Some(value), "email"),
            metadata: metadata(value),
            created_at: timestamp(value.get("created_at")),
            updated_at: timestamp(value.get("updated_at")),
            facts_at: self.facts_at(value),
            event_id: 0,
            id,
        };
        match self.customers.iter_mut().find(|c| c.id == row.id) {
            // A stub made earlier from a reference gives way to the real facts.
            Some(seen) if seen.facts_at == i64::MIN => *seen = row,
            Some(seen) => {
                seen.source_id = seen.source_id.take().or(row.source_id);
                seen.name = seen.name.take().or(row.name);
                seen.email = seen.email.take().or(row.email);
            }
            None => self.customers.push(row),
        }
    }

    /// A row for customer `id` unless this payload already carries one; as a stub it never
    /// overwrites facts stored from another payload.
    fn customer_stub(&mut self, id: &str) {
        if !self.customers.iter().any(|c| c.id == id) {
            self.customers.push(stub_customer(id));
        }
    }

    fn campaign(&mut self, value: Option<&Value>) {
        let Some(id) = entity_id(value, "camp_") else {
            return;
        };
        let value = value.unwrap_or(&Value::Null);
        let template_type = value
            .get("voucher")
            .and_then(|v| string_at(Some(v), "type"));
        let row = campaign::Model {
            name: string_at(Some(value), "name").unwrap_or_else(|| id.clone()),
            campaign_type: string_at(Some(value), "campaign_type"),
            kind: string_at(Some(value), "type"),
            description: string_at(Some(value), "description"),
            active: value.get("active").and_then(Value::as_bool),
            is_referral_code: value.get("is_referral_code").and_then(Value::as_bool),
            voucher_type: template_type.filter(|t| is_voucher_type(t)),
            metadata: metadata(value),
            start_date: timestamp(value.get("start_date")),
            expiration_date: timestamp(value.get("expiration_date")),
            created_at: timestamp(value.get("created_at")),
            updated_at: timestamp(value.get("updated_at")),
            facts_at: self.facts_at(value),
            event_id: 0,
            id,
        };
        if !self.campaigns.iter().any(|c| c.id == row.id) {
            self.campaigns.push(row);
        }
    }

    /// A campaign known only by a voucher's reference: the lowest facts, so real ones win.
    fn campaign_stub(&mut self, id: &str, name: Option<String>) {
        if !self.campaigns.iter().any(|c| c.id == id) {
            let stub = stub_campaign(id, name);
            self.campaigns.push(stub);
        }
    }

    fn voucher(&mut self, value: &Value, template: Option<&Value>, holder: Option<&str>) {
        let (Some(id), Some(code)) = (entity_id(Some(value), ""), string_at(Some(value), "code"))
        else {
            return;
        };
        if let Some(seen) = self.vouchers.iter().position(|v| v.row.id == id) {
            // The same voucher appears in several places (top level, inside the publication);
            // each copy may carry facts the others leave out, such as its categories.
            let extra = self.categories_of(value);
            let seen = &mut self.vouchers[seen];
            if seen.category_ids.is_empty() {
                seen.category_ids = extra;
            }
            let row = &mut seen.row;
            row.discount = row
                .discount
                .take()
                .or_else(|| object(value.get("discount")));
            row.gift = row.gift.take().or_else(|| object(value.get("gift")));
            row.loyalty_card = row
                .loyalty_card
                .take()
                .or_else(|| object(value.get("loyalty_card")));
            return;
        }
        let campaign_id = string_at(Some(value), "campaign_id").or_else(|| {
            let name = string_at(Some(value), "campaign");
            let same = name.is_some() && name == template.and_then(|t| string_at(Some(t), "name"));
            same.then(|| template.and_then(|t| string_at(Some(t), "id")))
                .flatten()
        });
        if let Some(campaign_id) = &campaign_id {
            self.campaign_stub(campaign_id, string_at(Some(value), "campaign"));
        }
        let (voucher_type, type_known) = voucher_type(value, template, campaign_id.as_deref());
        let category_ids = self.categories_of(value);
        let redemption = value.get("redemption");
        let row = voucher::Model {
            code,
            voucher_type,
            active: value.get("active").and_then(Value::as_bool),
            campaign_id,
            holder_id: string_at(Some(value), "holder_id").or(holder.map(str::to_owned)),
            discount: object(value.get("discount")),
            gift: object(value.get("gift")),
            loyalty_card: object(value.get("loyalty_card")),
            metadata: metadata(value),
            redemption_quantity: redemption.and_then(|r| r.get("quantity")?.as_i64()),
            redemption_redeemed_quantity: redemption
                .and_then(|r| r.get("redeemed_quantity")?.as_i64()),
            start_date: timestamp(value.get("start_date")),
            expiration_date: timestamp(value.get("expiration_date")),
            created_at: timestamp(value.get("created_at")),
            updated_at: timestamp(value.get("updated_at")),
            facts_at: self.facts_at(value),
            event_id: 0,
            id,
        };
        if let Some(holder) = &row.holder_id {
            self.customer_stub(holder);
        }
        self.vouchers.push(VoucherFacts {
            row,
            type_known,
            category_ids,
        });
    }

    fn categories_of(&mut self, voucher: &Value) -> Vec<String> {
        let mut found: Vec<category::Model> = voucher
            .get("categories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(category::Model {
                    id: entity_id(Some(c), "")?,
                    name: string_at(Some(c), "name")?,
                    hierarchy: c
                        .get("hierarchy")
                        .and_then(Value::as_i64)
                        .and_then(|h| i32::try_from(h).ok()),
                })
            })
            .collect();
        if found.is_empty()
            && let (Some(id), Some(name)) = (
                string_at(Some(voucher), "category_id"),
                string_at(Some(voucher), "category"),
            )
        {
            found.push(category::Model {
                id,
                name,
                hierarchy: None,
            });
        }
        let ids = found.iter().map(|c| c.id.clone()).collect();
        for category in found {
            if !self.categories.iter().any(|c| c.id == category.id) {
                self.categories.push(category);
            }
        }
        ids
    }

    fn publication(
        &mut self,
        data: &Map<String, Value>,
        received_at: DateTime<Utc>,
    ) -> Result<PublicationFacts, String> {
        let value = data
            .get("publication")
            .filter(|p| p.is_object())
            .ok_or("`data.publication` is missing")?;
        let id = entity_id(Some(value), "").ok_or("the publication has no `id`")?;
        let customer_id = string_at(Some(value), "customer_id")
            .or_else(|| string_at(value.get("customer"), "id"))
            .or_else(|| string_at(data.get("customer"), "id"))
            .ok_or("the publication names no customer")?;
        // Whatever its form, the publication's customer gets a row (a stub that never overwrites
        // stored facts), so `Publication.customer` always resolves.
        self.customer_stub(&customer_id);
        let voucher_ids = self.publication_vouchers(value);
        let first = voucher_ids
            .first()
            .ok_or("the publication carries no voucher with an id and a code")?;
        let campaign_id = self
            .vouchers
            .iter()
            .find(|v| &v.row.id == first)
            .and_then(|v| v.row.campaign_id.clone())
            .or_else(|| string_at(data.get("campaign"), "id"));
        let row = publication::Model {
            result: string_at(Some(value), "result").unwrap_or_else(|| "SUCCESS".into()),
            channel: string_at(Some(value), "channel"),
            source_id: string_at(Some(value), "source_id"),
            tracking_id: string_at(Some(value), "tracking_id"),
            metadata: metadata(value),
            created_at: timestamp(value.get("created_at")).unwrap_or(self.facts_time),
            received_at,
            customer_id,
            voucher_id: first.clone(),
            campaign_id,
            seq: 0,
            id,
        };
        Ok(PublicationFacts { row, voucher_ids })
    }

    /// The publication's vouchers: in `vouchers_id` order when it lists them, else as carried.
    fn publication_vouchers(&self, publication: &Value) -> Vec<String> {
        let listed: Vec<String> = publication
            .get("vouchers_id")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str().map(clean_text))
            .filter(|id| self.vouchers.iter().any(|v| &v.row.id == id))
            .collect();
        if listed.is_empty() {
            self.vouchers.iter().map(|v| v.row.id.clone()).collect()
        } else {
            listed
        }
    }

    fn facts_at(&self, value: &Value) -> i64 {
        timestamp(value.get("updated_at"))
            .unwrap_or(self.facts_time)
            .timestamp_micros()
    }
}

fn stub_customer(id: &str) -> customer::Model {
    customer::Model {
        id: id.to_owned(),
        source_id: None,
        name: None,
        email: None,
        metadata: Value::Object(Map::new()),
        created_at: None,
        updated_at: None,
        facts_at: i64::MIN,
        event_id: 0,
    }
}

fn stub_campaign(id: &str, name: Option<String>) -> campaign::Model {
    campaign::Model {
        id: id.to_owned(),
        name: name.unwrap_or_else(|| id.to_owned()),
        campaign_type: None,
        kind: None,
        description: None,
        active: None,
        is_referral_code: None,
        voucher_type: None,
        metadata: Value::Object(Map::new()),
        start_date: None,
        expiration_date: None,
        created_at: None,
        updated_at: None,
        facts_at: i64::MIN,
        event_id: 0,
    }
}

/// The id of an entity object, when it has one (and, if given, the expected prefix).
fn entity_id(value: Option<&Value>, prefix: &str) -> Option<String> {
    string_at(value.filter(|v| v.is_object()), "id").filter(|id| id.starts_with(prefix))
}

fn is_voucher_type(text: &str) -> bool {
    matches!(text, "DISCOUNT_VOUCHER" | "GIFT_VOUCHER" | "LOYALTY_CARD")
}

/// The voucher's type: as sent, else from what it carries, else from its campaign's template.
fn voucher_type(
    value: &Value,
    template: Option<&Value>,
    campaign_id: Option<&str>,
) -> (String, bool) {
    if let Some(kind) = string_at(Some(value), "type").filter(|t| is_voucher_type(t)) {
        return (kind, true);
    }
    for (key, kind) in [
        ("gift", "GIFT_VOUCHER"),
        ("loyalty_card", "LOYALTY_CARD"),
        ("discount", "DISCOUNT_VOUCHER"),
    ] {
        if value.get(key).is_some_and(Value::is_object) {
            return (kind.to_owned(), true);
        }
    }
    let template = template
        .filter(|t| campaign_id.is_none() || string_at(Some(t), "id").as_deref() == campaign_id);
    match template
        .and_then(|t| string_at(t.get("voucher"), "type"))
        .filter(|t| is_voucher_type(t))
    {
        Some(kind) => (kind, true),
        None => ("DISCOUNT_VOUCHER".to_owned(), false),
    }
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

//! Objects read from Voucherify's REST API rather than received by webhook (`pubgate backfill`):
//! a publication from `GET /v1/publications` and a campaign from `GET /v1/campaigns/{name}`.
//! Each is stored as an event of its own kind, its body the object verbatim, and normalised here.
//!
//! The list endpoint describes a publication's customer and vouchers in summary, as they are
//! when it is read, not as they were at any one time: those rows take the lowest facts time, like
//! a stub, so they fill in what nothing else said and never overwrite facts from a webhook. Its
//! vouchers carry a code and, beside them in `vouchers_id`, their ids, and name their campaign
//! only by name: the store links them to the stored campaign of that name.

use super::{Normalised, Reader};
use crate::domain::envelope::{string_at, timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The stored event type of a publication read from the REST API.
pub const API_PUBLICATION: &str = "api.publication";
/// The stored event type of a campaign read from the REST API.
pub const API_CAMPAIGN: &str = "api.campaign";

/// What kind of REST object a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiObject {
    Publication,
    Campaign,
}

/// The rows a publication from the REST list describes.
pub fn publication(value: &Value, received_at: DateTime<Utc>) -> Normalised {
    let flagged = |note: &str| Normalised {
        note: Some(format!("{API_PUBLICATION}: {note}; stored verbatim")),
        ..Normalised::default()
    };
    if !value.is_object() {
        return flagged("not an object");
    }
    if string_at(Some(value), "result").is_some_and(|r| r != "SUCCESS") {
        return flagged("a failed publication assigns no voucher");
    }
    let ids: Vec<&str> = value
        .get("vouchers_id")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // One voucher (`voucher`, an object) or several (`vouchers`, codes or objects), in the
    // order of their ids.
    let carried = listed_vouchers(value);
    if ids.is_empty() || ids.len() != carried.len() {
        return flagged(&format!(
            "{} voucher ids for {} vouchers: cannot tell which code is which",
            ids.len(),
            carried.len()
        ));
    }
    let facts_time = timestamp(value.get("created_at")).unwrap_or(received_at);
    let mut reader = Reader::new(facts_time);
    reader.customer(value.get("customer"));
    let holder =
        string_at(Some(value), "customer_id").or_else(|| string_at(value.get("customer"), "id"));
    for (id, carried) in ids.into_iter().zip(carried) {
        let mut voucher = match carried {
            Value::Object(fields) => fields.clone(),
            Value::String(code) => Map::from_iter([("code".to_owned(), code.as_str().into())]),
            _ => continue,
        };
        voucher.insert("id".into(), id.into());
        reader.voucher(&Value::Object(voucher), None, holder.as_deref());
    }
    let data = Map::from_iter([("publication".to_owned(), value.clone())]);
    let publication = match reader.publication(&data, received_at) {
        Ok(publication) => publication,
        Err(note) => return flagged(&note),
    };
    for customer in &mut reader.customers {
        customer.facts_at = i64::MIN;
    }
    for voucher in &mut reader.vouchers {
        voucher.row.facts_at = i64::MIN;
    }
    Normalised {
        customers: reader.customers,
        campaigns: reader.campaigns,
        categories: reader.categories,
        vouchers: reader.vouchers,
        publication: Some(publication),
        normalized: true,
        note: None,
    }
}

/// The vouchers a listed publication carries, in the order of its `vouchers_id`: one
/// (`voucher`, an object) or several (`vouchers`, codes or objects).
pub fn listed_vouchers(publication: &Value) -> Vec<&Value> {
    match publication.get("voucher").filter(|v| v.is_object()) {
        Some(voucher) => vec![voucher],
        None => publication
            .get("vouchers")
            .and_then(Value::as_array)
            .map(|list| list.iter().collect())
            .unwrap_or_default(),
    }
}

/// The row a campaign from the REST API describes: its facts are as of its `updated_at`.
pub fn campaign(value: &Value, received_at: DateTime<Utc>) -> Normalised {
    let facts_time = timestamp(value.get("created_at")).unwrap_or(received_at);
    let mut reader = Reader::new(facts_time);
    reader.campaign(Some(value));
    if reader.campaigns.is_empty() {
        return Normalised {
            note: Some(format!(
                "{API_CAMPAIGN}: not a campaign with an id; stored verbatim"
            )),
            ..Normalised::default()
        };
    }
    Normalised {
        campaigns: reader.campaigns,
        normalized: true,
        ..Normalised::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed() -> Value {
        json!({
            "id": "pub_1", "object": "publication", "created_at": "2022-09-28T13:31:23.522Z",
            "customer_id": "cust_1", "tracking_id": "t", "metadata": {}, "channel": "API",
            "source_id": null, "result": "SUCCESS",
            "customer": {"id": "cust_1", "name": "Cindy", "email": "c@example.com", "object": "customer"},
            "voucher": {"code": "FNV5", "object": "voucher", "campaign": "Loyalty Campaign",
                        "loyalty_card": {"points": 0, "balance": 0}},
            "vouchers_id": ["v_1"]
        })
    }

    #[test]
    fn a_listed_publication_pairs_codes_with_ids_and_never_overwrites() {
        let n = publication(&listed(), Utc::now());
        assert!(n.normalized, "{:?}", n.note);
        let p = n.publication.expect("a publication");
        assert_eq!(
            (p.row.id.as_str(), p.voucher_ids),
            ("pub_1", vec!["v_1".into()])
        );
        let v = &n.vouchers[0];
        assert_eq!(
            (v.row.code.as_str(), v.row.voucher_type.as_str()),
            ("FNV5", "LOYALTY_CARD")
        );
        assert_eq!(v.campaign_name.as_deref(), Some("Loyalty Campaign"));
        assert_eq!(
            (v.row.facts_at, n.customers[0].facts_at),
            (i64::MIN, i64::MIN)
        );
        assert_eq!(n.customers[0].name.as_deref(), Some("Cindy"));
    }

    #[test]
    fn several_vouchers_pair_in_order_and_a_mismatch_is_flagged() {
        let mut value = listed();
        value["voucher"] = Value::Null;
        value["vouchers"] = json!(["A", "B"]);
        value["vouchers_id"] = json!(["v_a", "v_b"]);
        let n = publication(&value, Utc::now());
        let codes: Vec<_> = n
            .vouchers
            .iter()
            .map(|v| (&*v.row.id, &*v.row.code))
            .collect();
        assert_eq!(codes, [("v_a", "A"), ("v_b", "B")]);
        value["vouchers_id"] = json!(["v_a"]);
        let n = publication(&value, Utc::now());
        assert!(!n.normalized);
        assert!(
            n.note
                .expect("a note")
                .contains("1 voucher ids for 2 vouchers")
        );
    }

    #[test]
    fn a_failed_publication_is_not_an_assignment() {
        let mut value = listed();
        value["result"] = json!("FAILURE");
        assert!(!publication(&value, Utc::now()).normalized);
    }
}

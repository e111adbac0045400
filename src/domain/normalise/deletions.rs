//! Deletions: `customer.deleted`, `voucher.deleted` and `campaign.deleted` carry the deleted
//! object as it last was. It becomes a row like any other payload's (newer facts win), and the
//! deleted entity's row carries when it was deleted, which the store keeps for good.

use super::{Normalised, Reader, entity_id, timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The event types that delete an entity, with the member of `data` that holds it.
pub const DELETIONS: [(&str, &str); 3] = [
    ("customer.deleted", "customer"),
    ("voucher.deleted", "voucher"),
    ("campaign.deleted", "campaign"),
];

/// The rows of a deletion of the entity in `data[member]`: its last facts and what they refer
/// to, with `deleted_at` on its row. The time of the deletion is `deleted_at` when Voucherify
/// sends one (in `data` or in the object), else the event's; it is also the facts time of
/// whatever in the payload has no `updated_at`. `Err` is the note when no entity is named.
pub(super) fn deletion(
    data: &Map<String, Value>,
    member: &str,
    event_time: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Result<Normalised, String> {
    let object = data.get(member).filter(|o| o.is_object());
    let deleted_at = timestamp(data.get("deleted_at"))
        .or_else(|| timestamp(object.and_then(|o| o.get("deleted_at"))))
        .or(event_time)
        .unwrap_or(received_at);
    let mut reader = Reader::new(deleted_at);
    reader.read_entities(data);
    let prefix = match member {
        "customer" => "cust_",
        "campaign" => "camp_",
        _ => "",
    };
    let id =
        entity_id(object, prefix).ok_or_else(|| format!("`data.{member}` has no usable `id`"))?;
    // The row exists after this: read from the object, or a stub when it was too bare.
    let at = Some(deleted_at);
    match member {
        "customer" => {
            reader.customer_stub(&id);
            let rows = reader.customers.iter_mut().filter(|row| row.id == id);
            rows.for_each(|row| row.deleted_at = at);
        }
        "campaign" => {
            reader.campaign_stub(&id, None);
            let rows = reader.campaigns.iter_mut().filter(|row| row.id == id);
            rows.for_each(|row| row.deleted_at = at);
        }
        _ => {
            reader.voucher_stub(&id);
            let rows = reader
                .vouchers
                .iter_mut()
                .filter(|facts| facts.row.id == id);
            rows.for_each(|facts| facts.row.deleted_at = at);
        }
    }
    Ok(Normalised {
        customers: reader.customers,
        campaigns: reader.campaigns,
        categories: reader.categories,
        vouchers: reader.vouchers,
        publication: None,
        normalized: true,
        note: None,
    })
}

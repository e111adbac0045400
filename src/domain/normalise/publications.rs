//! Publications: which customer got which vouchers, through which channel.

use super::{PublicationFacts, Reader, clean_text, entity_id, metadata, string_at, timestamp};
use chrono::{DateTime, Utc};
use entity::publication;
use serde_json::{Map, Value};

impl Reader {
    pub(super) fn publication(
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
            .ok_or("the publication carries no voucher with a code")?;
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
            // The types of its vouchers' stored rows, known when it is written
            // (`store::write::counts`).
            voucher_types: String::new(),
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
}

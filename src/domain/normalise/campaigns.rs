//! Campaigns: from a campaign object, or a stub from a voucher's reference to one.

use super::{Reader, entity_id, metadata, object, string_at, timestamp, vouchers::is_voucher_type};
use entity::campaign;
use serde_json::{Map, Value};

impl Reader {
    pub(super) fn campaign(&mut self, value: Option<&Value>) {
        let Some(id) = entity_id(value, "camp_") else {
            return;
        };
        let value = value.unwrap_or(&Value::Null);
        if string_at(Some(value), "name").is_none() {
            // `{id, object}` alone (validation-rule events send that) is a reference, not the
            // campaign's facts: it must not overwrite a stored name with the id.
            self.campaign_stub(&id, None);
            return;
        }
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
            auto_join: value.get("auto_join").and_then(Value::as_bool),
            join_once: value.get("join_once").and_then(Value::as_bool),
            voucher_template: object(value.get("voucher")),
            start_date: timestamp(value.get("start_date")),
            expiration_date: timestamp(value.get("expiration_date")),
            created_at: timestamp(value.get("created_at")),
            updated_at: timestamp(value.get("updated_at")),
            facts_at: self.facts_at(value),
            event_id: 0,
            deleted_at: None,
            id,
        };
        if !self.campaigns.iter().any(|c| c.id == row.id) {
            self.campaigns.push(row);
        }
    }

    /// A campaign known only by a voucher's reference: the lowest facts, so real ones win.
    pub(super) fn campaign_stub(&mut self, id: &str, name: Option<String>) {
        match self.campaigns.iter_mut().find(|c| c.id == id) {
            // A reference without a name, named by a voucher of the same payload.
            Some(stub) if stub.facts_at == i64::MIN && stub.name == id => {
                if let Some(name) = name {
                    stub.name = name;
                }
            }
            Some(_) => {}
            None => self.campaigns.push(stub_campaign(id, name)),
        }
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
        auto_join: None,
        join_once: None,
        voucher_template: None,
        start_date: None,
        expiration_date: None,
        created_at: None,
        updated_at: None,
        facts_at: i64::MIN,
        event_id: 0,
        deleted_at: None,
    }
}

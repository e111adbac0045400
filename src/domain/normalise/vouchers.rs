//! Vouchers and their categories; a voucher's type when the payload leaves it out.

use super::{Reader, VoucherFacts, entity_id, metadata, object, string_at, timestamp};
use entity::{category, voucher};
use serde_json::Value;

impl Reader {
    pub(super) fn voucher(
        &mut self,
        value: &Value,
        template: Option<&Value>,
        holder: Option<&str>,
    ) {
        let Some(code) = string_at(Some(value), "code") else {
            return;
        };
        // Codes are unique within a project: a voucher that comes without its id is keyed by
        // its code until a payload brings the id (the store then merges the two).
        let id = entity_id(Some(value), "").unwrap_or_else(|| code_key(&code));
        let keyed = |id: &str| code_of_key(id).is_some();
        let same = |v: &VoucherFacts| {
            v.row.id == id || (v.row.code == code && (keyed(&v.row.id) || keyed(&id)))
        };
        if let Some(seen) = self.vouchers.iter().position(same) {
            // The same voucher appears in several places (top level, inside the publication);
            // each copy may carry facts the others leave out, such as its categories or its id.
            let extra = self.categories_of(value);
            let seen = &mut self.vouchers[seen];
            if code_of_key(&seen.row.id).is_some() {
                seen.row.id = id;
            }
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
            let details = details(value);
            row.assets = row.assets.take().or(details.assets);
            row.validity_timeframe = row.validity_timeframe.take().or(details.validity_timeframe);
            row.validity_day_of_week = row
                .validity_day_of_week
                .take()
                .or(details.validity_day_of_week);
            row.validity_hours = row.validity_hours.take().or(details.validity_hours);
            row.additional_info = row.additional_info.take().or(details.additional_info);
            row.publish_count = row.publish_count.take().or(details.publish_count);
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
        let campaign_name = campaign_id
            .is_none()
            .then(|| string_at(Some(value), "campaign"))
            .flatten();
        let (voucher_type, type_known) = voucher_type(value, template, campaign_id.as_deref());
        let category_ids = self.categories_of(value);
        let redemption = value.get("redemption");
        let details = details(value);
        let row = voucher::Model {
            assets: details.assets,
            validity_timeframe: details.validity_timeframe,
            validity_day_of_week: details.validity_day_of_week,
            validity_hours: details.validity_hours,
            additional_info: details.additional_info,
            publish_count: details.publish_count,
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
            deleted_at: None,
            id,
        };
        if let Some(holder) = &row.holder_id {
            self.customer_stub(holder);
        }
        self.vouchers.push(VoucherFacts {
            row,
            type_known,
            category_ids,
            campaign_name,
        });
    }

    /// A voucher known only by its id (a deletion without a code leaves that): its id stands
    /// for its code until real facts arrive, at the lowest facts time so that any real ones win.
    pub(super) fn voucher_stub(&mut self, id: &str) {
        if self.vouchers.iter().any(|v| v.row.id == id) {
            return;
        }
        self.voucher(&serde_json::json!({"id": id, "code": id}), None, None);
        if let Some(stub) = self.vouchers.last_mut() {
            stub.row.facts_at = i64::MIN;
        }
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
}

/// What a voucher says for a consumer to act on: its assets, validity rules, additional info
/// and how often it was published (the `voucher::Model` columns of the same names).
struct Details {
    assets: Option<Value>,
    validity_timeframe: Option<Value>,
    validity_day_of_week: Option<Value>,
    validity_hours: Option<Value>,
    additional_info: Option<String>,
    publish_count: Option<i64>,
}

fn details(value: &Value) -> Details {
    Details {
        assets: object(value.get("assets")),
        validity_timeframe: object(value.get("validity_timeframe")),
        validity_day_of_week: value
            .get("validity_day_of_week")
            .filter(|days| days.as_array().is_some_and(|d| d.iter().all(Value::is_i64)))
            .cloned(),
        validity_hours: object(value.get("validity_hours")),
        additional_info: string_at(Some(value), "additional_info"),
        publish_count: value.get("publish").and_then(|p| p.get("count")?.as_i64()),
    }
}

/// What a voucher known only by its code is keyed by until its id is known.
const CODE_KEY: &str = "v_code:";

/// The key of the voucher with this code while its id is unknown: `v_code:` and the code.
pub fn code_key(code: &str) -> String {
    format!("{CODE_KEY}{code}")
}

/// The code a `code_key` stands for; `None` for any other id.
pub fn code_of_key(id: &str) -> Option<&str> {
    id.strip_prefix(CODE_KEY)
}

pub(super) fn is_voucher_type(text: &str) -> bool {
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

//! What a voucher, campaign or customer says for a consumer to act on (API.md, "Voucher
//! details"): a voucher's QR code and barcode and its validity rules, a campaign's voucher
//! template, a customer's address. Read from the JSON kept for each; a missing or mistyped
//! member is null, never an error.

use super::voucher_values::{Discount, Gift, LoyaltyCard, VoucherType};
use async_graphql::SimpleObject;
use serde_json::Value;

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key)?.as_str().map(str::to_owned)
}

/// Integers of a JSON array (the rest left out).
pub(super) fn days(value: &Value) -> Vec<i32> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| i32::try_from(d.as_i64()?).ok())
        .collect()
}

/// A voucher's images.
#[derive(SimpleObject, Clone)]
pub struct VoucherAssets {
    /// The code as a QR code.
    pub qr: Option<Asset>,
    /// The code as a barcode.
    pub barcode: Option<Asset>,
}

impl VoucherAssets {
    pub(super) fn from_json(value: &Value) -> Self {
        let asset = |key: &str| {
            let a = value.get(key).filter(|a| a.is_object())?;
            Some(Asset {
                id: text(a, "id"),
                url: text(a, "url"),
            })
        };
        VoucherAssets {
            qr: asset("qr"),
            barcode: asset("barcode"),
        }
    }
}

/// An image Voucherify hosts.
#[derive(SimpleObject, Clone)]
pub struct Asset {
    pub id: Option<String>,
    /// Where to fetch it.
    pub url: Option<String>,
}

/// ISO 8601 durations as Voucherify sends them, e.g. interval P2D, duration PT1H.
#[derive(SimpleObject, Clone)]
pub struct ValidityTimeframe {
    /// How often the window opens.
    pub interval: Option<String>,
    /// How long it stays open.
    pub duration: Option<String>,
}

impl ValidityTimeframe {
    pub(super) fn from_json(value: &Value) -> Self {
        ValidityTimeframe {
            interval: text(value, "interval"),
            duration: text(value, "duration"),
        }
    }
}

/// Hours of the day a voucher can be redeemed in.
#[derive(SimpleObject, Clone)]
pub struct ValidityHours {
    /// Windows that repeat every day they name.
    pub daily: Vec<DailyHours>,
}

impl ValidityHours {
    pub(super) fn from_json(value: &Value) -> Self {
        let daily = value
            .get("daily")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| DailyHours {
                start_time: text(d, "start_time"),
                expiration_time: text(d, "expiration_time"),
                days_of_week: d.get("days_of_week").map(days).unwrap_or_default(),
            })
            .collect();
        ValidityHours { daily }
    }
}

/// A window of hours (`HH:mm`, the project's time zone) on some days of the week.
#[derive(SimpleObject, Clone)]
pub struct DailyHours {
    pub start_time: Option<String>,
    pub expiration_time: Option<String>,
    /// 0 is Sunday.
    pub days_of_week: Vec<i32>,
}

/// What a campaign's vouchers are made from.
#[derive(SimpleObject, Clone)]
pub struct VoucherTemplate {
    /// The type of voucher the campaign makes.
    #[graphql(name = "type")]
    pub kind: Option<VoucherType>,
    pub discount: Option<Discount>,
    pub gift: Option<Gift>,
    pub loyalty_card: Option<LoyaltyCard>,
    /// How codes are generated.
    pub code_config: Option<CodeConfig>,
}

impl VoucherTemplate {
    pub(super) fn from_json(value: &Value) -> Self {
        let object = |key: &str| value.get(key).filter(|v| v.is_object());
        VoucherTemplate {
            kind: text(value, "type").map(|t| VoucherType::parse(&t)),
            discount: object("discount").and_then(Discount::from_json),
            gift: object("gift").map(Gift::from_json),
            loyalty_card: object("loyalty_card").map(LoyaltyCard::from_json),
            code_config: object("code_config").map(|c| CodeConfig {
                length: c
                    .get("length")
                    .and_then(Value::as_i64)
                    .and_then(|l| i32::try_from(l).ok()),
                prefix: text(c, "prefix"),
                postfix: text(c, "postfix"),
                pattern: text(c, "pattern"),
                charset: text(c, "charset"),
            }),
        }
    }
}

/// How a campaign generates codes: `prefix`, then `pattern` (`#` a character of `charset`),
/// then `postfix`.
#[derive(SimpleObject, Clone)]
pub struct CodeConfig {
    pub length: Option<i32>,
    pub prefix: Option<String>,
    pub postfix: Option<String>,
    pub pattern: Option<String>,
    pub charset: Option<String>,
}

/// A customer's postal address.
#[derive(SimpleObject, Clone)]
pub struct Address {
    pub city: Option<String>,
    pub state: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
}

impl Address {
    /// `None` when the address says nothing (Voucherify sends every member null).
    pub(super) fn from_json(value: &Value) -> Option<Self> {
        let address = Address {
            city: text(value, "city"),
            state: text(value, "state"),
            line1: text(value, "line_1"),
            line2: text(value, "line_2"),
            country: text(value, "country"),
            postal_code: text(value, "postal_code"),
        };
        let any = [
            &address.city,
            &address.state,
            &address.line1,
            &address.line2,
            &address.country,
            &address.postal_code,
        ]
        .iter()
        .any(|f| f.is_some());
        any.then_some(address)
    }
}

//! What a voucher carries: its type, its discount, gift or loyalty card, its categories and
//! its redemption counts.

use async_graphql::{Enum, ID, SimpleObject};
use entity::category;
use serde_json::Value;

/// What kind of voucher.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum VoucherType {
    /// Takes an amount, a percentage or units off, or fixes the price.
    DiscountVoucher,
    /// Carries a balance to spend.
    GiftVoucher,
    /// Collects points.
    LoyaltyCard,
}

impl VoucherType {
    /// The name Voucherify uses.
    pub fn as_str(self) -> &'static str {
        match self {
            VoucherType::DiscountVoucher => "DISCOUNT_VOUCHER",
            VoucherType::GiftVoucher => "GIFT_VOUCHER",
            VoucherType::LoyaltyCard => "LOYALTY_CARD",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "GIFT_VOUCHER" => VoucherType::GiftVoucher,
            "LOYALTY_CARD" => VoucherType::LoyaltyCard,
            _ => VoucherType::DiscountVoucher,
        }
    }
}

/// How a discount is computed.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountType {
    /// A fixed amount off (`amountOff`, minor units).
    Amount,
    /// A percentage off (`percentOff`), optionally capped (`amountLimit`).
    Percent,
    /// Units of a product off (`unitOff` of `unitType`).
    Unit,
    /// The price becomes `fixedAmount`.
    Fixed,
}

/// A discount voucher's effect. Amounts are integers in minor units (×100), as Voucherify sends.
#[derive(SimpleObject, Clone)]
pub struct Discount {
    /// How the discount is computed.
    #[graphql(name = "type")]
    pub kind: DiscountType,
    /// Where it applies (`APPLY_TO_ORDER`, `APPLY_TO_ITEMS`, `ADD_MISSING_ITEMS`, …).
    pub effect: Option<String>,
    /// Amount off, minor units.
    pub amount_off: Option<i64>,
    /// Percent off.
    pub percent_off: Option<f64>,
    /// Units off.
    pub unit_off: Option<f64>,
    /// The product or SKU the units are of.
    pub unit_type: Option<String>,
    /// Cap on a percentage discount, minor units.
    pub amount_limit: Option<i64>,
    /// Formula computing the percentage.
    pub percent_off_formula: Option<String>,
    /// Formula computing the amount.
    pub amount_off_formula: Option<String>,
    /// The fixed price, minor units.
    pub fixed_amount: Option<i64>,
}

impl Discount {
    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let kind = match v.get("type")?.as_str()? {
            "AMOUNT" => DiscountType::Amount,
            "PERCENT" => DiscountType::Percent,
            "UNIT" => DiscountType::Unit,
            "FIXED" => DiscountType::Fixed,
            _ => return None,
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let int = |k: &str| v.get(k).and_then(Value::as_i64);
        let float = |k: &str| v.get(k).and_then(Value::as_f64);
        Some(Discount {
            kind,
            effect: text("effect"),
            amount_off: int("amount_off"),
            percent_off: float("percent_off"),
            unit_off: float("unit_off"),
            unit_type: text("unit_type"),
            amount_limit: int("amount_limit"),
            percent_off_formula: text("percent_off_formula"),
            amount_off_formula: text("amount_off_formula"),
            fixed_amount: int("fixed_amount"),
        })
    }
}

/// A gift card's value, minor units.
#[derive(SimpleObject, Clone)]
pub struct Gift {
    /// The value loaded.
    pub amount: Option<i64>,
    /// What is left to spend.
    pub balance: Option<i64>,
    /// Where it applies.
    pub effect: Option<String>,
}

impl Gift {
    pub(crate) fn from_json(g: &Value) -> Self {
        let int = |k: &str| g.get(k).and_then(Value::as_i64);
        Gift {
            amount: int("amount"),
            balance: int("balance"),
            effect: g.get("effect").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

/// A loyalty card's points.
#[derive(SimpleObject, Clone)]
pub struct LoyaltyCard {
    /// Points earned in all.
    pub points: Option<i64>,
    /// Points left to spend.
    pub balance: Option<i64>,
}

impl LoyaltyCard {
    pub(crate) fn from_json(l: &Value) -> Self {
        let int = |k: &str| l.get(k).and_then(Value::as_i64);
        LoyaltyCard {
            points: int("points"),
            balance: int("balance"),
        }
    }
}

/// A voucher category.
#[derive(SimpleObject, Clone)]
pub struct Category {
    /// Voucherify's category id (`cat_…`).
    #[graphql(owned)]
    pub id: ID,
    /// The category's name.
    pub name: String,
    /// Its rank among categories.
    pub hierarchy: Option<i32>,
}

impl From<category::Model> for Category {
    fn from(row: category::Model) -> Self {
        Category {
            id: ID(row.id),
            name: row.name,
            hierarchy: row.hierarchy,
        }
    }
}

/// How often a voucher may be and has been redeemed.
#[derive(SimpleObject, Clone)]
pub struct RedemptionSummary {
    /// Redemptions allowed (null: unlimited).
    pub quantity: Option<i64>,
    /// Redemptions so far.
    pub redeemed_quantity: Option<i64>,
}

//! `Voucher` and what it carries: discount, gift, loyalty card, categories, redemptions.

use super::{Campaign, Customer, PublicationConnection, time};
use crate::error::ApiResult;
use crate::graphql::connection::{Paging, connection, page_cost};
use crate::graphql::lists;
use crate::graphql::loaders::Lookup;
use crate::graphql::scalars::DateTime;
use crate::store::{directory, publications};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use entity::{category, voucher};
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

    fn parse(text: &str) -> Self {
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
    fn from_json(v: &Value) -> Option<Self> {
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

/// A loyalty card's points.
#[derive(SimpleObject, Clone)]
pub struct LoyaltyCard {
    /// Points earned in all.
    pub points: Option<i64>,
    /// Points left to spend.
    pub balance: Option<i64>,
}

/// A voucher category.
#[derive(SimpleObject, Clone)]
pub struct Category {
    /// Voucherify's category id (`cat_…`).
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

/// A Voucherify voucher, as the newest delivery described it.
#[derive(Clone)]
pub struct Voucher(pub voucher::Model, Lookup);

impl Voucher {
    /// A node that finds what it refers to through `lookup`.
    pub fn new(row: voucher::Model, lookup: Lookup) -> Self {
        Voucher(row, lookup)
    }
}

impl From<voucher::Model> for Voucher {
    fn from(row: voucher::Model) -> Self {
        Voucher(row, Lookup::default())
    }
}

/// A Voucherify voucher, as the newest delivery described it.
#[Object]
impl Voucher {
    /// Voucherify's voucher id (`v_…`).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The code the customer types.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// What kind of voucher; derived from what it carries or from its campaign when not sent.
    #[graphql(name = "type")]
    async fn kind(&self) -> VoucherType {
        VoucherType::parse(&self.0.voucher_type)
    }
    /// Whether it can be redeemed now.
    async fn active(&self) -> Option<bool> {
        self.0.active
    }
    /// Its campaign, when it belongs to one.
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        let Some(id) = &self.0.campaign_id else {
            return Ok(None);
        };
        Ok(self.1.campaign(ctx, id).await?.map(Campaign))
    }
    /// The customer holding it.
    async fn holder(&self, ctx: &Context<'_>) -> ApiResult<Option<Customer>> {
        let Some(id) = &self.0.holder_id else {
            return Ok(None);
        };
        Ok(self.1.customer(ctx, id).await?.map(Customer))
    }
    /// The discount, for discount vouchers.
    async fn discount(&self) -> Option<Discount> {
        self.0.discount.as_ref().and_then(Discount::from_json)
    }
    /// The value, for gift vouchers.
    async fn gift(&self) -> Option<Gift> {
        let g = self.0.gift.as_ref()?;
        let int = |k: &str| g.get(k).and_then(Value::as_i64);
        Some(Gift {
            amount: int("amount"),
            balance: int("balance"),
            effect: g.get("effect").and_then(Value::as_str).map(str::to_owned),
        })
    }
    /// The points, for loyalty cards.
    async fn loyalty_card(&self) -> Option<LoyaltyCard> {
        let l = self.0.loyalty_card.as_ref()?;
        let int = |k: &str| l.get(k).and_then(Value::as_i64);
        Some(LoyaltyCard {
            points: int("points"),
            balance: int("balance"),
        })
    }
    /// The categories it is in, by name.
    async fn categories(&self, ctx: &Context<'_>) -> ApiResult<Vec<Category>> {
        let found = self.1.categories(ctx, &self.0.id).await?;
        Ok(found.into_iter().map(Category::from).collect())
    }
    /// The voucher's metadata, as sent.
    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }
    /// Redemption limits and use.
    async fn redemption(&self) -> Option<RedemptionSummary> {
        let (quantity, redeemed_quantity) = (
            self.0.redemption_quantity,
            self.0.redemption_redeemed_quantity,
        );
        (quantity.is_some() || redeemed_quantity.is_some()).then_some(RedemptionSummary {
            quantity,
            redeemed_quantity,
        })
    }
    /// When it becomes valid.
    async fn start_date(&self) -> Option<DateTime> {
        time(self.0.start_date)
    }
    /// When it stops being valid.
    async fn expiration_date(&self) -> Option<DateTime> {
        time(self.0.expiration_date)
    }
    /// When it was created in Voucherify.
    async fn created_at(&self) -> Option<DateTime> {
        time(self.0.created_at)
    }
    /// When it last changed in Voucherify.
    async fn updated_at(&self) -> Option<DateTime> {
        time(self.0.updated_at)
    }
    /// Assignments of this voucher, newest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn publications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size, reading backwards (at most 500).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<PublicationConnection> {
        let filter = publications::PublicationFilter {
            voucher_id: Some(self.0.id.clone()),
            ..Default::default()
        };
        lists::publications(
            ctx,
            filter,
            publications::Sort::default(),
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }
}

connection!(
    Voucher,
    voucher::Model,
    VoucherConnection,
    VoucherEdge,
    "vouchers"
);

/// Narrows a list of vouchers; every field given must match.
#[derive(InputObject, Default, Clone)]
pub struct VoucherFilter {
    /// Only vouchers held by this customer (`cust_…`).
    pub holder_id: Option<ID>,
    /// Only vouchers of this campaign (`camp_…`).
    pub campaign_id: Option<ID>,
    /// Only vouchers of this type.
    #[graphql(name = "type")]
    pub kind: Option<VoucherType>,
    /// Only active (true) or inactive (false) vouchers.
    pub active: Option<bool>,
    /// Only vouchers in this category (its id or its name).
    pub category: Option<String>,
}

impl From<VoucherFilter> for directory::VoucherFilter {
    fn from(f: VoucherFilter) -> Self {
        directory::VoucherFilter {
            holder_id: f.holder_id.map(|id| id.0),
            campaign_id: f.campaign_id.map(|id| id.0),
            voucher_type: f.kind.map(|k| k.as_str().to_owned()),
            active: f.active,
            category: f.category,
        }
    }
}

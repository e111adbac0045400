//! `Voucher`: the node, its references and its filter. The values it carries are in
//! `voucher_values`.

use super::details::*;
use super::lists;
use super::voucher_values::*;
use super::{Campaign, Customer, PublicationConnection, time};
use crate::error::ApiResult;
use crate::graphql::connection::{Paging, connection, page_cost};
use crate::graphql::loaders::Lookup;
use crate::graphql::scalars::DateTime;
use crate::store::{directory, publications};
use async_graphql::{Context, ID, InputObject, Json, Object};
use entity::voucher;
use std::sync::Arc;

/// A Voucherify voucher, as the newest delivery described it.
#[derive(Clone)]
pub struct Voucher(pub Arc<voucher::Model>, Lookup);

impl Voucher {
    /// A node that finds what it refers to through `lookup`.
    pub fn new(row: Arc<voucher::Model>, lookup: Lookup) -> Self {
        Voucher(row, lookup)
    }
}

impl From<voucher::Model> for Voucher {
    fn from(row: voucher::Model) -> Self {
        Voucher(Arc::new(row), Lookup::default())
    }
}

/// A Voucherify voucher, as the newest delivery described it.
#[Object]
impl Voucher {
    /// Voucherify's voucher id (`v_…`); for a voucher delivered only with its code, `v_code:`
    /// and its code until a delivery brings its id (that id is then this voucher's, and
    /// `voucher(id:)` and `node(id:)` still find it by the old one).
    pub(crate) async fn id(&self) -> ID {
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
        Ok(self.1.campaign(ctx, id).await?.map(Campaign::from))
    }
    /// The customer holding it.
    async fn holder(&self, ctx: &Context<'_>) -> ApiResult<Option<Customer>> {
        let Some(id) = &self.0.holder_id else {
            return Ok(None);
        };
        Ok(self.1.customer(ctx, id).await?.map(Customer::from))
    }
    /// The discount, for discount vouchers.
    async fn discount(&self) -> Option<Discount> {
        self.0.discount.as_ref().and_then(Discount::from_json)
    }
    /// The value, for gift vouchers.
    async fn gift(&self) -> Option<Gift> {
        self.0.gift.as_ref().map(Gift::from_json)
    }
    /// The points, for loyalty cards.
    async fn loyalty_card(&self) -> Option<LoyaltyCard> {
        self.0.loyalty_card.as_ref().map(LoyaltyCard::from_json)
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
    /// Its QR code and barcode images, as Voucherify hosts them.
    async fn assets(&self) -> Option<VoucherAssets> {
        self.0.assets.as_ref().map(VoucherAssets::from_json)
    }
    /// Hours of the day it can be redeemed in.
    async fn validity_hours(&self) -> Option<ValidityHours> {
        self.0.validity_hours.as_ref().map(ValidityHours::from_json)
    }
    /// A recurring window it can be redeemed in.
    async fn validity_timeframe(&self) -> Option<ValidityTimeframe> {
        self.0
            .validity_timeframe
            .as_ref()
            .map(ValidityTimeframe::from_json)
    }
    /// Days of the week it can be redeemed on (0 is Sunday).
    async fn validity_day_of_week(&self) -> Option<Vec<i32>> {
        self.0.validity_day_of_week.as_ref().map(days)
    }
    /// Free text Voucherify keeps with it.
    async fn additional_info(&self) -> Option<&str> {
        self.0.additional_info.as_deref()
    }
    /// How many times it was published, as of the newest delivery that said.
    async fn publish_count(&self) -> Option<i64> {
        self.0.publish_count
    }
    /// When it last changed in Voucherify.
    async fn updated_at(&self) -> Option<DateTime> {
        time(self.0.updated_at)
    }
    /// When Voucherify deleted it (`voucher.deleted`); null while it exists. Lists leave
    /// deleted vouchers out unless their filter has `includeDeleted: true`; `voucher(…)` still
    /// finds them, and the publications that assigned them stay and still refer to them.
    async fn deleted_at(&self) -> Option<DateTime> {
        time(self.0.deleted_at)
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
    /// Deleted vouchers too (default false: lists leave them out).
    pub include_deleted: Option<bool>,
}

impl From<VoucherFilter> for directory::VoucherFilter {
    fn from(f: VoucherFilter) -> Self {
        directory::VoucherFilter {
            holder_id: f.holder_id.map(|id| id.0),
            campaign_id: f.campaign_id.map(|id| id.0),
            voucher_type: f.kind.map(|k| k.as_str().to_owned()),
            active: f.active,
            category: f.category,
            include_deleted: f.include_deleted.unwrap_or(false),
        }
    }
}

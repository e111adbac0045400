//! `Campaign`: a Voucherify campaign with its publications and vouchers.

use super::lists;
use super::{PublicationConnection, VoucherConnection, VoucherFilter, time};
use crate::error::ApiResult;
use crate::graphql::connection::{Paging, connection, page_cost};
use crate::graphql::scalars::DateTime;
use crate::store::{directory, publications};
use async_graphql::{Context, ID, InputObject, Json, Object};
use entity::campaign;
use std::sync::Arc;

/// A Voucherify campaign, as the newest delivery described it.
#[derive(Clone)]
pub struct Campaign(pub Arc<campaign::Model>);

impl From<campaign::Model> for Campaign {
    fn from(row: campaign::Model) -> Self {
        Campaign(Arc::new(row))
    }
}

impl From<Arc<campaign::Model>> for Campaign {
    fn from(row: Arc<campaign::Model>) -> Self {
        Campaign(row)
    }
}

/// A Voucherify campaign, as the newest delivery described it.
#[Object]
impl Campaign {
    /// Voucherify's campaign id (`camp_…`).
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The campaign's name (its id when only a reference to it was ever received).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `DISCOUNT_COUPONS`, `GIFT_VOUCHERS`, `LOYALTY_PROGRAM`, …
    async fn campaign_type(&self) -> Option<&str> {
        self.0.campaign_type.as_deref()
    }
    /// `AUTO_UPDATE`, `STATIC` or `STANDALONE`.
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.kind.as_deref()
    }
    /// Free-text description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Whether the campaign is active.
    async fn active(&self) -> Option<bool> {
        self.0.active
    }
    /// Whether its vouchers are referral codes.
    async fn is_referral_code(&self) -> Option<bool> {
        self.0.is_referral_code
    }
    /// The campaign's metadata, as sent.
    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }
    /// Whether customers join it without being asked (loyalty and referral programs).
    async fn auto_join(&self) -> Option<bool> {
        self.0.auto_join
    }
    /// Whether a customer can join it only once.
    async fn join_once(&self) -> Option<bool> {
        self.0.join_once
    }
    /// What its vouchers are made from: type, value and how codes are generated.
    async fn voucher_template(&self) -> Option<super::VoucherTemplate> {
        self.0
            .voucher_template
            .as_ref()
            .map(super::VoucherTemplate::from_json)
    }
    /// When the campaign starts.
    async fn start_date(&self) -> Option<DateTime> {
        time(self.0.start_date)
    }
    /// When the campaign ends.
    async fn expiration_date(&self) -> Option<DateTime> {
        time(self.0.expiration_date)
    }
    /// When the campaign was created in Voucherify.
    async fn created_at(&self) -> Option<DateTime> {
        time(self.0.created_at)
    }
    /// When the campaign was last changed in Voucherify.
    async fn updated_at(&self) -> Option<DateTime> {
        time(self.0.updated_at)
    }
    /// When Voucherify deleted the campaign (`campaign.deleted`); null while it exists.
    /// `campaigns` leaves deleted campaigns out unless its filter has `includeDeleted: true`;
    /// `campaign(…)` and their vouchers and publications still find them.
    async fn deleted_at(&self) -> Option<DateTime> {
        time(self.0.deleted_at)
    }
    /// Assignments of this campaign's vouchers, newest first.
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
            campaign_id: Some(self.0.id.clone()),
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
    /// This campaign's vouchers, by voucher id; deleted ones only with `includeDeleted`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn vouchers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list (`campaignId` is this campaign).")] filter: Option<
            VoucherFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size, reading backwards (at most 500).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<VoucherConnection> {
        let mut filter: directory::VoucherFilter = filter.unwrap_or_default().into();
        filter.campaign_id = Some(self.0.id.clone());
        lists::vouchers(
            ctx,
            filter,
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
    Campaign,
    campaign::Model,
    CampaignConnection,
    CampaignEdge,
    "campaigns"
);

/// Narrows a list of campaigns.
#[derive(InputObject, Default, Clone)]
pub struct CampaignFilter {
    /// Deleted campaigns too (default false: lists leave them out).
    pub include_deleted: Option<bool>,
}

impl From<CampaignFilter> for directory::CampaignFilter {
    fn from(f: CampaignFilter) -> Self {
        directory::CampaignFilter {
            include_deleted: f.include_deleted.unwrap_or(false),
        }
    }
}

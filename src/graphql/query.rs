//! The Query root: every list a dashboard reads, and lookups by id.

use super::connection::{Paging, page_cost};
use super::db;
use super::scalars::DateTime;
use super::types::lists;
use super::types::*;
use crate::error::ApiResult;
use crate::store::{directory, publications, queries};
use async_graphql::{Context, ID, Object};

/// What dashboards can read.
pub struct Query;

/// What dashboards can read: voucher assignments and everything they refer to.
#[Object]
impl Query {
    /// Voucher assignments (publications). Default order: newest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn publications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            PublicationFilter,
        >,
        #[graphql(desc = "The order (default: `createdAt`, newest first).")] order_by: Option<
            PublicationOrder,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Page size, reading backwards from the end or from `before` (at most 500)."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<PublicationConnection> {
        let filter: publications::PublicationFilter = filter.unwrap_or_default().into();
        lists::publications(
            ctx,
            filter,
            order_by.into(),
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// Exact assignment counts (publications by `createdAt`) in [from, to), per UTC-aligned
    /// bucket, optionally per group.
    async fn assignment_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the range (included; 1970 or later).")] from: DateTime,
        #[graphql(desc = "End of the range (excluded).")] to: DateTime,
        #[graphql(desc = "The width of each bucket.", default_with = "StatsBucket::Hour")]
        bucket: StatsBucket,
        #[graphql(desc = "Count per combination of these too.", default)] group_by: Vec<
            StatsDimension,
        >,
        #[graphql(desc = "Narrows the counts; every field given must match.")] filter: Option<
            StatsFilter,
        >,
    ) -> ApiResult<AssignmentStats> {
        let args = super::types::StatsArgs {
            from,
            to,
            bucket,
            group_by,
            filter,
        };
        super::types::assignment_stats(ctx, args).await
    }

    /// Any object by its id (Relay object identification); null when the id is unknown or
    /// malformed.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's id (`cust_…`, `v_…`, `camp_…`, `pub_…`, `cat_…`).")] id: ID,
    ) -> ApiResult<Option<Node>> {
        super::types::node(ctx, &id).await
    }

    /// Several objects by id, in the order asked; null for each unknown or malformed id (at
    /// most 100 ids).
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's ids, of any types.")] ids: Vec<ID>,
    ) -> ApiResult<Vec<Option<Node>>> {
        super::types::nodes(ctx, &ids).await
    }

    /// One publication by Voucherify id (`pub_…`); null when unknown.
    async fn publication(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's publication id.")] id: ID,
    ) -> ApiResult<Option<Publication>> {
        lists::publication(ctx, id.0).await
    }

    /// One customer by Voucherify id or by your source id (a live one before a deleted one that
    /// had it); null when unknown. Deleted customers are found too, with `deletedAt`.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's customer id (`cust_…`).")] id: Option<ID>,
        #[graphql(desc = "Your own id for the customer.")] source_id: Option<String>,
    ) -> ApiResult<Option<Customer>> {
        Ok(directory::customer(db(ctx), id.map(|i| i.0), source_id)
            .await?
            .map(Customer::from))
    }

    /// Customers, by customer id; deleted ones only with `includeDeleted`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            CustomerFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size, reading backwards (at most 500).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<CustomerConnection> {
        lists::customers(
            ctx,
            filter.unwrap_or_default().into(),
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// One voucher by Voucherify id or by code (a live one before a deleted one that had it);
    /// null when unknown. Deleted vouchers are found too, with `deletedAt`.
    async fn voucher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's voucher id (`v_…`), or a voucher's code key (`v_code:…`).")]
        id: Option<ID>,
        #[graphql(desc = "The voucher code.")] code: Option<String>,
    ) -> ApiResult<Option<Voucher>> {
        Ok(directory::voucher(db(ctx), id.map(|i| i.0), code)
            .await?
            .map(Voucher::from))
    }

    /// Vouchers, by voucher id; deleted ones only with `includeDeleted`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn vouchers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            VoucherFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size, reading backwards (at most 500).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<VoucherConnection> {
        lists::vouchers(
            ctx,
            filter.unwrap_or_default().into(),
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// One campaign by Voucherify id or by name (a live one before a deleted one that had it);
    /// null when unknown. Deleted campaigns are found too, with `deletedAt`.
    async fn campaign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Voucherify's campaign id (`camp_…`).")] id: Option<ID>,
        #[graphql(desc = "The campaign's name.")] name: Option<String>,
    ) -> ApiResult<Option<Campaign>> {
        Ok(directory::campaign(db(ctx), id.map(|i| i.0), name)
            .await?
            .map(Campaign::from))
    }

    /// Campaigns, by campaign id; deleted ones only with `includeDeleted`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            CampaignFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page size, reading backwards (at most 500).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<CampaignConnection> {
        lists::campaigns(
            ctx,
            filter.unwrap_or_default().into(),
            Paging {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// Every stored webhook delivery, newest first, including the ones that were not normalised.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            WebhookEventFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Page size, reading backwards from the end or from `before` (at most 500)."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<WebhookEventConnection> {
        let filter: queries::EventFilter = filter.unwrap_or_default().into();
        lists::events(
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

    /// One webhook delivery by pubgate's id; null when there is none.
    async fn webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "pubgate's id of the delivery.")] id: ID,
    ) -> ApiResult<Option<WebhookEvent>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        Ok(queries::webhook_event(db(ctx), id).await?.map(Into::into))
    }
}

//! `Publication`: one voucher assignment, with its customer, vouchers, campaign and event.

use super::{Campaign, Customer, Voucher, VoucherType, WebhookEvent};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::connection;
use crate::graphql::loaders::Lookup;
use crate::graphql::scalars::DateTime;
use crate::store::publications;
use crate::store::related::Related;
use async_graphql::{Context, Enum, ID, InputObject, Json, Object};
use entity::publication;
use std::sync::Arc;

/// A voucher assignment (Voucherify publication): which customer got which voucher(s), when.
#[derive(Clone)]
pub struct Publication(pub publication::Model, Lookup);

impl Publication {
    /// A node that finds what it refers to in `related` first.
    pub fn new(row: publication::Model, related: Option<Arc<Related>>) -> Self {
        Publication(row, Lookup(related))
    }
}

/// A voucher assignment (Voucherify publication): which customer got which voucher(s), when.
#[Object]
impl Publication {
    /// Voucherify's publication id (`pub_…`).
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// `SUCCESS` for an assignment that went through.
    async fn result(&self) -> &str {
        &self.0.result
    }
    /// How the voucher was published (`API`, `Automation`, `voucherify-web-ui`, …).
    async fn channel(&self) -> Option<&str> {
        self.0.channel.as_deref()
    }
    /// The publication's own source id, if the publisher gave one.
    async fn source_id(&self) -> Option<&str> {
        self.0.source_id.as_deref()
    }
    /// The customer's tracking id at publication time.
    async fn tracking_id(&self) -> Option<&str> {
        self.0.tracking_id.as_deref()
    }
    /// The publication's metadata, as sent.
    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }
    /// When Voucherify made the assignment.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When pubgate received the delivery that first carried it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The customer the voucher(s) went to.
    async fn customer(&self, ctx: &Context<'_>) -> ApiResult<Customer> {
        self.1
            .customer(ctx, &self.0.customer_id)
            .await?
            .map(Customer)
            .ok_or_else(|| missing("customer", &self.0.customer_id))
    }
    /// The (first) voucher assigned.
    async fn voucher(&self, ctx: &Context<'_>) -> ApiResult<Voucher> {
        self.1
            .voucher(ctx, &self.0.voucher_id)
            .await?
            .map(|row| Voucher::new(row, self.1.clone()))
            .ok_or_else(|| missing("voucher", &self.0.voucher_id))
    }
    /// Every voucher this publication assigned, in Voucherify's order.
    async fn vouchers(&self, ctx: &Context<'_>) -> ApiResult<Vec<Voucher>> {
        let ids = self
            .1
            .publication_vouchers(ctx, &self.0.id)
            .await?
            .unwrap_or_else(|| vec![self.0.voucher_id.clone()]);
        let rows = self.1.vouchers(ctx, ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| Voucher::new(row, self.1.clone()))
            .collect())
    }
    /// The campaign the voucher belongs to, when known.
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        let Some(id) = &self.0.campaign_id else {
            return Ok(None);
        };
        Ok(self.1.campaign(ctx, id).await?.map(Campaign::from))
    }
    /// The webhook delivery that first carried this publication.
    async fn event(&self, ctx: &Context<'_>) -> ApiResult<WebhookEvent> {
        self.1
            .event(ctx, self.0.seq)
            .await?
            .map(|row| WebhookEvent::from(Arc::unwrap_or_clone(row)))
            .ok_or_else(|| missing("webhook event", &self.0.seq.to_string()))
    }
}

fn missing(what: &str, id: &str) -> ApiError {
    tracing::error!(
        what,
        id,
        "a stored publication refers to a row that does not exist"
    );
    ApiError::Internal
}

connection!(
    Publication,
    publication::Model,
    PublicationConnection,
    PublicationEdge,
    "publications"
);

/// Narrows a list of publications; every field given must match.
#[derive(InputObject, Default, Clone)]
pub struct PublicationFilter {
    /// Only assignments to this customer (`cust_…`).
    pub customer_id: Option<ID>,
    /// Only assignments to the customer with this source id (your own customer id).
    pub customer_source_id: Option<String>,
    /// Only vouchers of this campaign (`camp_…`).
    pub campaign_id: Option<ID>,
    /// Only vouchers of the campaign with this name.
    pub campaign_name: Option<String>,
    /// Only assignments that include the voucher with this code.
    pub voucher_code: Option<String>,
    /// Only assignments that include a voucher of this type.
    pub voucher_type: Option<VoucherType>,
    /// Only assignments published through this channel.
    pub channel: Option<String>,
    /// Only assignments made strictly after this instant.
    pub created_after: Option<DateTime>,
    /// Only assignments made strictly before this instant.
    pub created_before: Option<DateTime>,
}

impl From<PublicationFilter> for publications::PublicationFilter {
    fn from(f: PublicationFilter) -> Self {
        publications::PublicationFilter {
            customer_id: f.customer_id.map(|id| id.0),
            customer_source_id: f.customer_source_id,
            campaign_id: f.campaign_id.map(|id| id.0),
            campaign_name: f.campaign_name,
            voucher_code: f.voucher_code,
            voucher_type: f.voucher_type.map(|t| t.as_str().to_owned()),
            voucher_id: None,
            channel: f.channel,
            created_after: f.created_after.map(|t| t.0),
            created_before: f.created_before.map(|t| t.0),
        }
    }
}

/// What orders a list of publications.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum PublicationOrderField {
    /// When Voucherify made the assignment.
    #[default]
    CreatedAt,
    /// When pubgate received it.
    ReceivedAt,
}

/// Ascending or descending.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// The order of a list of publications; ties are broken by publication id.
#[derive(InputObject, Clone, Copy)]
pub struct PublicationOrder {
    /// The timestamp to order by.
    #[graphql(default)]
    pub field: PublicationOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<Option<PublicationOrder>> for publications::Sort {
    fn from(order: Option<PublicationOrder>) -> Self {
        let order = order.unwrap_or(PublicationOrder {
            field: PublicationOrderField::CreatedAt,
            direction: OrderDirection::Desc,
        });
        publications::Sort {
            field: match order.field {
                PublicationOrderField::CreatedAt => publications::SortField::CreatedAt,
                PublicationOrderField::ReceivedAt => publications::SortField::ReceivedAt,
            },
            descending: order.direction == OrderDirection::Desc,
        }
    }
}

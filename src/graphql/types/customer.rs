//! `Customer`: a Voucherify customer with its vouchers and publications.

use super::lists;
use super::{PublicationConnection, VoucherConnection, VoucherFilter, time};
use crate::error::ApiResult;
use crate::graphql::connection::{Paging, connection, page_cost};
use crate::graphql::scalars::DateTime;
use crate::store::{directory, publications};
use async_graphql::{Context, ID, InputObject, Json, Object};
use entity::customer;
use std::sync::Arc;

/// A Voucherify customer, as the newest delivery described them.
#[derive(Clone)]
pub struct Customer(pub Arc<customer::Model>);

impl From<customer::Model> for Customer {
    fn from(row: customer::Model) -> Self {
        Customer(Arc::new(row))
    }
}

impl From<Arc<customer::Model>> for Customer {
    fn from(row: Arc<customer::Model>) -> Self {
        Customer(row)
    }
}

/// A Voucherify customer, as the newest delivery described them.
#[Object]
impl Customer {
    /// Voucherify's customer id (`cust_…`).
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Your own id for the customer.
    async fn source_id(&self) -> Option<&str> {
        self.0.source_id.as_deref()
    }
    /// Full name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// E-mail address, when Voucherify has one.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The customer's metadata, as sent.
    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }
    /// When the customer was created in Voucherify.
    async fn created_at(&self) -> Option<DateTime> {
        time(self.0.created_at)
    }
    /// When the customer last changed in Voucherify.
    async fn updated_at(&self) -> Option<DateTime> {
        time(self.0.updated_at)
    }
    /// The customer's postal address, when one was given.
    async fn address(&self) -> Option<super::Address> {
        self.0.address.as_ref().and_then(super::Address::from_json)
    }
    /// When Voucherify deleted the customer (`customer.deleted`); null while it exists. Lists
    /// leave deleted customers out unless their filter has `includeDeleted: true`;
    /// `customer(…)` and the publications that name them still find them.
    async fn deleted_at(&self) -> Option<DateTime> {
        time(self.0.deleted_at)
    }
    /// Vouchers this customer holds, by voucher id; deleted ones only with `includeDeleted`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn vouchers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list (`holderId` is this customer).")] filter: Option<
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
        filter.holder_id = Some(self.0.id.clone());
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
    /// Vouchers assigned to this customer, newest first.
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
            customer_id: Some(self.0.id.clone()),
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
    Customer,
    customer::Model,
    CustomerConnection,
    CustomerEdge,
    "customers"
);

/// Narrows a list of customers; every field given must match.
#[derive(InputObject, Default, Clone)]
pub struct CustomerFilter {
    /// Exactly this e-mail address.
    pub email: Option<String>,
    /// Exactly this source id.
    pub source_id: Option<String>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
    /// Deleted customers too (default false: lists leave them out).
    pub include_deleted: Option<bool>,
}

impl From<CustomerFilter> for directory::CustomerFilter {
    fn from(f: CustomerFilter) -> Self {
        directory::CustomerFilter {
            email: f.email,
            source_id: f.source_id,
            name_contains: f.name_contains,
            include_deleted: f.include_deleted.unwrap_or(false),
        }
    }
}

//! GraphQL output and input types, converted from store rows (API types are not rows).

mod campaign;
mod customer;
mod event;
mod publication;
mod voucher;
mod voucher_values;

pub use campaign::*;
pub use customer::*;
pub use event::*;
pub use publication::*;
pub use voucher::*;
pub use voucher_values::*;

use crate::error::ApiResult;
use crate::store::{directory, publications, queries};
use async_graphql::Context;

/// The deferred count behind a connection's `totalCount`.
pub enum Count {
    Events(queries::EventFilter),
    Publications(publications::PublicationFilter),
    Customers(directory::CustomerFilter),
    Vouchers(directory::VoucherFilter),
    Campaigns,
}

impl Count {
    /// Runs the count (only when `totalCount` is selected).
    pub async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let db = super::db(ctx);
        let n = match self {
            Count::Events(f) => queries::count_webhook_events(db, f).await?,
            Count::Publications(f) => publications::count(db, f).await?,
            Count::Customers(f) => directory::count_customers(db, f).await?,
            Count::Vouchers(f) => directory::count_vouchers(db, f).await?,
            Count::Campaigns => directory::count_campaigns(db).await?,
        };
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// Optional timestamp to the GraphQL scalar.
pub(crate) fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<super::scalars::DateTime> {
    t.map(super::scalars::DateTime)
}

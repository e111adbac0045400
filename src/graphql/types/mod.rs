//! GraphQL output and input types, converted from store rows (API types are not rows).

mod campaign;
mod customer;
mod details;
mod event;
pub mod lists;
mod node;
mod publication;
mod stats;
mod voucher;
mod voucher_values;

pub use campaign::*;
pub use customer::*;
pub use details::*;
pub use event::*;
pub use node::*;
pub use publication::*;
pub use stats::*;
pub use voucher::*;
pub use voucher_values::*;

/// Optional timestamp to the GraphQL scalar.
pub(crate) fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<super::scalars::DateTime> {
    t.map(super::scalars::DateTime)
}

//! A Voucherify customer (`cust_…`), newest facts only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub metadata: Json,
    /// `address` (`{line_1, line_2, city, state, postal_code, country}`).
    pub address: Option<Json>,
    pub created_at: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
    /// Microseconds since the epoch of the facts stored (their `updated_at`, else event time).
    pub facts_at: i64,
    /// The webhook event these facts came from.
    pub event_id: i64,
    /// When Voucherify deleted the customer (`customer.deleted`); null while it exists. Once set it
    /// stays: deletions are final.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

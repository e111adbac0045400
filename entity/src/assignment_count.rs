//! Assignment counts kept as publications are stored: how many publications were made in each
//! UTC minute, per voucher type, campaign and channel. Analytics and `totalCount` read whole
//! minutes here and count only the partial minutes at a range's edges from `publications`.
//!
//! `voucher_type` is `""` in the rows that count every publication once; a publication also
//! counts once in the row of each distinct type among its vouchers (a publication "includes a
//! voucher of this type", as the `voucherType` filter means). `campaign_id` and `channel` are
//! `""` when the publication has none (neither is ever empty when present).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assignment_counts")]
pub struct Model {
    /// Minutes since the Unix epoch (UTC) of the publications' `created_at`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub voucher_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel: String,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

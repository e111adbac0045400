//! Assignment counts kept as publications are stored: how many publications were made in each
//! UTC minute, ten minutes, hour and day (`width` 1, 10, 60 and 1440 minutes), per voucher type,
//! campaign and channel. Analytics and `totalCount` read a range's whole days, hours, ten minutes
//! and minutes here (so a day costs one row per combination, not 1,440) and count only the
//! partial minutes at its edges from `publications`.
//!
//! `voucher_type` is `""` in the rows that count every publication once; a publication also
//! counts once in the row of each distinct type among its vouchers (a publication "includes a
//! voucher of this type", as the `voucherType` filter means). `campaign_id` and `channel` are
//! `""` when the publication has none (neither is ever empty when present).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assignment_counts")]
pub struct Model {
    /// The span counted, in minutes: 1, 10, 60 or 1440.
    #[sea_orm(primary_key, auto_increment = false)]
    pub width: i32,
    /// The span's first minute since the Unix epoch (UTC; a multiple of `width`).
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

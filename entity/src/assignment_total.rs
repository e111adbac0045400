//! Assignment counts by one dimension at a time, kept beside `assignment_counts` in the same
//! transaction: per UTC minute, ten minutes, hour and day (`width` 1, 10, 60, 1440), the publications of each
//! voucher type (`dimension` "type"; `value` "" counts every publication once), of each campaign
//! ("campaign") and of each channel ("channel"; `value` "" for none). A count grouped or
//! filtered by at most one dimension reads a row per span and value here, where
//! `assignment_counts` would need one per combination of all three.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assignment_totals")]
pub struct Model {
    /// What `value` is: "type", "campaign" or "channel". First in the key, so that a count by
    /// one dimension reads only that dimension's rows.
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: String,
    /// The span counted, in minutes: 1, 10, 60 or 1440.
    #[sea_orm(primary_key, auto_increment = false)]
    pub width: i32,
    /// The span's first minute since the Unix epoch (UTC; a multiple of `width`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub minute: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

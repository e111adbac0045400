//! Changes to the assignment counts written by a batch and not yet added to `assignment_counts`
//! and `assignment_totals`: what a batch of deliveries writes in its own transaction (a row per
//! minute and combination it changed, appended, never updated), and what a fold later moves into
//! the kept counts, deleting them in the same transaction. Every read of the counts adds the rows
//! still here, so counts are exact whether or not a fold has run.
//!
//! A row has the shape of a per-minute `assignment_counts` row: `voucher_type` `""` for the
//! change to the "every type" count, `campaign_id` and `channel` `""` when there is none. The
//! totals by a single dimension follow from these rows as `assignment_totals`' own fill derives
//! them from `assignment_counts`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assignment_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The minute since the Unix epoch (UTC) whose counts change.
    pub minute: i64,
    pub voucher_type: String,
    pub campaign_id: String,
    pub channel: String,
    /// What to add (negative when publications move out of the combination).
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! How far reading Voucherify's publications list has got, per API source (`pubgate backfill`
//! and the reconciliation job of `serve`): a run resumes where the last one stopped.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backfill_progress")]
pub struct Model {
    /// The API read: its base URL and application id (never the token).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    /// Where the run that got this far started.
    pub since: DateTimeUtc,
    /// Every publication created from `since` up to this instant is stored.
    pub reached: DateTimeUtc,
    /// When the last run that read to its end finished.
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The single-row counter whose row lock orders every ingest commit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pubgate_sequence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// The last sequence number handed out.
    pub value: i64,
    /// This database's identity, made at its first migration.
    pub database_id: String,
    /// Moved by every change to stored rows that is not a new event (raw bodies removed by
    /// retention, rows re-derived by `pubgate renormalise`), so that what was read at an older revision is not taken for current.
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The vouchers of a publication, in payload order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publication_vouchers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub publication_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub voucher_id: String,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

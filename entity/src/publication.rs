//! A voucher assignment (`pub_…`); `seq` orders the assignment feed by commit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The id of the webhook event that first stored this publication (commit order).
    #[sea_orm(unique)]
    pub seq: i64,
    pub result: String,
    pub channel: Option<String>,
    pub source_id: Option<String>,
    pub tracking_id: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub customer_id: String,
    /// The first voucher assigned; `publication_vouchers` holds them all.
    pub voucher_id: String,
    pub campaign_id: Option<String>,
    /// The distinct types of its vouchers, as a JSON array of strings: the type rows of the
    /// assignment counts it is counted in, kept with them (a partial minute of a count by type
    /// is counted from these, without looking up each publication's vouchers).
    pub voucher_types: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// Joins only: the tables carry no foreign keys (a delivery may refer to a row that a later one
// completes), but a page of publications reads what it refers to in the same statement.
impl Related<super::customer::Entity> for Entity {
    fn to() -> RelationDef {
        Entity::belongs_to(super::customer::Entity)
            .from(Column::CustomerId)
            .to(super::customer::Column::Id)
            .into()
    }
}

impl Related<super::voucher::Entity> for Entity {
    fn to() -> RelationDef {
        Entity::belongs_to(super::voucher::Entity)
            .from(Column::VoucherId)
            .to(super::voucher::Column::Id)
            .into()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Entity::belongs_to(super::campaign::Entity)
            .from(Column::CampaignId)
            .to(super::campaign::Column::Id)
            .into()
    }
}

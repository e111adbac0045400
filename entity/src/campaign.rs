//! A Voucherify campaign (`camp_…`), newest facts only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub campaign_type: Option<String>,
    #[sea_orm(column_name = "type")]
    pub kind: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub is_referral_code: Option<bool>,
    /// The voucher template's type (`DISCOUNT_VOUCHER`, `GIFT_VOUCHER`, `LOYALTY_CARD`).
    pub voucher_type: Option<String>,
    pub metadata: Json,
    pub auto_join: Option<bool>,
    pub join_once: Option<bool>,
    /// `voucher`: the template its vouchers are made from (type, discount, gift or loyalty
    /// card, `code_config`, …).
    pub voucher_template: Option<Json>,
    pub start_date: Option<DateTimeUtc>,
    pub expiration_date: Option<DateTimeUtc>,
    pub created_at: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
    pub facts_at: i64,
    pub event_id: i64,
    /// When Voucherify deleted the campaign (`campaign.deleted`); null while it exists. Once set it
    /// stays: deletions are final.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! A Voucherify voucher (`v_…`), newest facts only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vouchers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub code: String,
    /// `DISCOUNT_VOUCHER`, `GIFT_VOUCHER` or `LOYALTY_CARD`.
    pub voucher_type: String,
    pub active: Option<bool>,
    pub campaign_id: Option<String>,
    pub holder_id: Option<String>,
    pub discount: Option<Json>,
    pub gift: Option<Json>,
    pub loyalty_card: Option<Json>,
    pub metadata: Json,
    /// `assets`: the QR code and barcode (`{qr: {id, url}, barcode: {id, url}}`).
    pub assets: Option<Json>,
    /// `validity_timeframe` (`{interval, duration}`, ISO 8601 durations).
    pub validity_timeframe: Option<Json>,
    /// `validity_day_of_week`: days it can be redeemed on (0 is Sunday).
    pub validity_day_of_week: Option<Json>,
    /// `validity_hours` (`{daily: [{start_time, expiration_time, days_of_week}]}`).
    pub validity_hours: Option<Json>,
    pub additional_info: Option<String>,
    /// `publish.count`: how many times it was published.
    pub publish_count: Option<i64>,
    pub redemption_quantity: Option<i64>,
    pub redemption_redeemed_quantity: Option<i64>,
    pub start_date: Option<DateTimeUtc>,
    pub expiration_date: Option<DateTimeUtc>,
    pub created_at: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
    pub facts_at: i64,
    pub event_id: i64,
    /// When Voucherify deleted the voucher (`voucher.deleted`); null while it exists. Once set it
    /// stays: deletions are final.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// A join only (no foreign key): a page of vouchers reads their campaigns in the same statement.
impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Entity::belongs_to(super::campaign::Entity)
            .from(Column::CampaignId)
            .to(super::campaign::Column::Id)
            .into()
    }
}

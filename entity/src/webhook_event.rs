//! A webhook delivery, kept verbatim; `id` is the commit-ordered sequence number.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// Commit-ordered sequence number: a later commit always has a larger id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// (`source.id`, `event.id`), else the envelope id, else the body's SHA-256.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// The envelope's `id` (`whs_…`): this send-out.
    pub delivery_id: Option<String>,
    /// `event.id` (`evcus_…`).
    pub event_id: Option<String>,
    /// `source.id` (`distr_…` or `wh_…`).
    pub source_id: Option<String>,
    pub project_id: Option<String>,
    /// The routing type: `event.type`, else the top-level `type`, else `unknown`.
    pub event_type: String,
    /// The envelope's free-text top-level `type`.
    pub event_name: Option<String>,
    pub occurred_at: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    pub signature_verified: bool,
    pub normalized: bool,
    pub normalization_note: Option<String>,
    /// The request body, byte for byte; `None` once removed by `--retain-raw-days`.
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    /// When the body was removed (`--retain-raw-days`); the row and what was normalised from
    /// it stay.
    pub payload_removed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `WebhookEvent`: a delivery as received.

use crate::graphql::connection::connection;
use crate::graphql::scalars::DateTime;
use crate::store::queries;
use async_graphql::{ID, InputObject, Json, SimpleObject};
use entity::webhook_event;

/// One webhook delivery as received, whatever its shape, with what pubgate made of it.
#[derive(SimpleObject, Clone)]
pub struct WebhookEvent {
    /// pubgate's id for this delivery. Ids grow in commit order.
    pub id: ID,
    /// The envelope's `id` (`whs_…`): Voucherify's id of this send-out.
    pub delivery_id: Option<String>,
    /// `event.id` (`evcus_…`): Voucherify's id of the event.
    pub event_id: Option<String>,
    /// The routing type: `event.type` (e.g. `customer.publication.succeeded`), else the
    /// top-level `type`, else `unknown`. The `type`/`types` filters match this.
    #[graphql(name = "type")]
    pub event_type: String,
    /// The free-text name the project gave this webhook (the envelope's top-level `type`).
    pub event_name: Option<String>,
    /// `source.id`: the distribution (`distr_…`) or project webhook (`wh_…`) that sent it.
    pub source_id: Option<String>,
    /// The Voucherify project (`proj_…`).
    pub project_id: Option<String>,
    /// When Voucherify says the event happened.
    pub occurred_at: Option<DateTime>,
    /// When pubgate received it.
    pub received_at: DateTime,
    /// True when the signature matched a configured secret; false when none is configured.
    pub signature_verified: bool,
    /// True when the event was understood and applied to customers, vouchers and publications.
    pub normalized: bool,
    /// Why the event was not (or not fully) normalised.
    pub normalization_note: Option<String>,
    /// The body exactly as received, parsed. Null once removed: pubgate keeps the bodies of
    /// normalised events for `--retain-raw-days` days when that is set (see `payloadRemovedAt`);
    /// bodies of events that were not normalised are always kept.
    pub payload: Option<Json<serde_json::Value>>,
    /// When the body was removed (`--retain-raw-days`); null while it is kept. The event and
    /// everything normalised from it stay.
    pub payload_removed_at: Option<DateTime>,
}

impl From<webhook_event::Model> for WebhookEvent {
    fn from(row: webhook_event::Model) -> Self {
        // The body was valid JSON when stored; a stored row that is not (edited by hand)
        // shows as its text rather than failing the whole page.
        let payload = row
            .body
            .map(|body| serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)));
        WebhookEvent {
            id: ID(row.id.to_string()),
            delivery_id: row.delivery_id,
            event_id: row.event_id,
            event_type: row.event_type,
            event_name: row.event_name,
            source_id: row.source_id,
            project_id: row.project_id,
            occurred_at: row.occurred_at.map(DateTime),
            received_at: DateTime(row.received_at),
            signature_verified: row.signature_verified,
            normalized: row.normalized,
            normalization_note: row.normalization_note,
            payload: payload.map(Json),
            payload_removed_at: row.payload_removed_at.map(DateTime),
        }
    }
}

/// Narrows a list of webhook events; every field given must match.
#[derive(InputObject, Default, Clone)]
pub struct WebhookEventFilter {
    /// Only events of this routing type (e.g. `customer.publication.succeeded`).
    #[graphql(name = "type")]
    pub event_type: Option<String>,
    /// Only events that were (true) or were not (false) normalised.
    pub normalized: Option<bool>,
    /// Only events received strictly after this instant.
    pub received_after: Option<DateTime>,
    /// Only events received strictly before this instant.
    pub received_before: Option<DateTime>,
}

impl From<WebhookEventFilter> for queries::EventFilter {
    fn from(f: WebhookEventFilter) -> Self {
        queries::EventFilter {
            types: f.event_type.map(|t| vec![t]),
            normalized: f.normalized,
            received_after: f.received_after.map(|t| t.0),
            received_before: f.received_before.map(|t| t.0),
        }
    }
}

connection!(
    WebhookEvent,
    webhook_event::Model,
    WebhookEventConnection,
    WebhookEventEdge,
    "webhook events"
);

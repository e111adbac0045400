//! What pubgate reads from a delivery's envelope: identity, routing type, time, idempotency key.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The envelope facts of one delivery, whatever its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The key that makes a repeated delivery a duplicate.
    pub idempotency_key: String,
    /// The envelope's `id` (`whs_…`).
    pub delivery_id: Option<String>,
    pub event_id: Option<String>,
    pub source_id: Option<String>,
    pub project_id: Option<String>,
    /// `event.type`, else the top-level `type`, else `unknown`.
    pub event_type: String,
    /// The top-level free-text `type`.
    pub event_name: Option<String>,
    /// `event.created_at`, else the envelope's `created_at`.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Envelope {
    /// Reads the envelope of `value`, the parsed form of `body`.
    pub fn read(body: &[u8], value: &Value) -> Self {
        let event = value.get("event");
        let event_id = string_at(event, "id");
        let source_id = string_at(value.get("source"), "id");
        let delivery_id = string_at(Some(value), "id");
        let event_name = string_at(Some(value), "type");
        let event_type = string_at(event, "type")
            .or_else(|| event_name.clone())
            .filter(|t| !t.is_empty())
            .map_or_else(|| "unknown".to_owned(), migration::bounds::event_type);
        let occurred_at = timestamp(event.and_then(|e| e.get("created_at")))
            .or_else(|| timestamp(value.get("created_at")));
        Envelope {
            idempotency_key: migration::bounds::idempotency_key(idempotency_key(
                body,
                &source_id,
                &event_id,
                &delivery_id,
            )),
            delivery_id,
            event_id,
            source_id,
            project_id: string_at(Some(value), "project_id"),
            event_type,
            event_name,
            occurred_at,
        }
    }
}

fn idempotency_key(
    body: &[u8],
    source_id: &Option<String>,
    event_id: &Option<String>,
    delivery_id: &Option<String>,
) -> String {
    match (event_id, delivery_id) {
        (Some(event), _) => format!(
            "event:{}:{}",
            source_id.as_deref().unwrap_or_default(),
            event
        ),
        (None, Some(delivery)) => format!("delivery:{delivery}"),
        (None, None) => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// A non-empty string member of an object, cleaned for storage.
pub fn string_at(object: Option<&Value>, key: &str) -> Option<String> {
    object?
        .get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(clean_text)
}

/// Text as the store can keep it: PostgreSQL rejects NUL characters in text and JSON.
pub fn clean_text(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_owned()
    }
}

/// The current instant at the store's precision (microseconds, as PostgreSQL keeps it), so that
/// what a cursor carries compares exactly with what is stored, on either database.
pub fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// An RFC 3339 timestamp (3- or 6-digit fractions); tolerant of stray spaces seen in examples.
pub fn timestamp(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = value?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc3339(&text.replace(' ', "")))
        .ok()
        .map(|t| micros(t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Envelope {
        let body = serde_json::to_vec(&value).expect("serialise");
        Envelope::read(&body, &value)
    }

    #[test]
    fn key_prefers_source_and_event() {
        let env = read(
            json!({"id": "whs_1", "source": {"id": "distr_1"}, "event": {"id": "ev_1", "type": "t"}}),
        );
        assert_eq!(env.idempotency_key, "event:distr_1:ev_1");
        assert_eq!(env.event_type, "t");
    }

    #[test]
    fn key_falls_back_to_envelope_then_hash() {
        assert_eq!(
            read(json!({"id": "whs_1"})).idempotency_key,
            "delivery:whs_1"
        );
        let raw = read(json!({"To": "x"}));
        assert!(raw.idempotency_key.starts_with("sha256:"));
        assert_eq!(raw.event_type, "unknown");
    }

    #[test]
    fn routing_type_falls_back_to_top_level() {
        let env = read(json!({"type": "voucher.published"}));
        assert_eq!(env.event_type, "voucher.published");
        let env = read(json!({"type": "", "event": {"type": ""}}));
        assert_eq!(env.event_type, "unknown");
    }

    #[test]
    fn timestamps_keep_microseconds() {
        let t = timestamp(Some(&json!("2024-01-18T15:19:26.501570Z"))).expect("parses");
        assert_eq!(t.timestamp_subsec_micros(), 501_570);
        assert!(timestamp(Some(&json!("2024-05-13T12: 25: 59.620Z"))).is_some());
        assert!(timestamp(Some(&json!("yesterday"))).is_none());
    }
}

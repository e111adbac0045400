//! A verified delivery on its way to the store (from a webhook, or an object read from
//! Voucherify's REST API), and what the store did with it.

use super::envelope::{Envelope, string_at, timestamp};
use super::normalise::{
    self, Normalised,
    rest::{self, API_CAMPAIGN, API_PUBLICATION, ApiObject},
};
use chrono::{DateTime, Utc};

/// One verified delivery, ready to store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    pub normalised: Normalised,
    /// The body exactly as received.
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub signature_verified: bool,
}

impl Delivery {
    /// A stored event's body read again with today's rules (`pubgate renormalise`): a webhook's
    /// body, or an object read from the REST API, which its idempotency key (`api:…`) marks.
    /// `None` when the body is not JSON (never stored so) or an API object without an id.
    pub fn reread(
        body: String,
        idempotency_key: &str,
        received_at: DateTime<Utc>,
        signature_verified: bool,
    ) -> Option<Delivery> {
        let api = if idempotency_key.starts_with("api:publication:") {
            Some(ApiObject::Publication)
        } else if idempotency_key.starts_with("api:campaign:") {
            Some(ApiObject::Campaign)
        } else {
            None
        };
        if let Some(object) = api {
            return Delivery::from_api(object, body, received_at);
        }
        let value: serde_json::Value = serde_json::from_str(&body).ok()?;
        let envelope = Envelope::read(body.as_bytes(), &value);
        let normalised = normalise::normalise(&value, &envelope, received_at);
        Some(Delivery {
            envelope,
            normalised,
            body,
            received_at,
            signature_verified,
        })
    }

    /// The delivery that stores `body`, a REST object of kind `object`, read at `received_at`.
    /// `None` when the body is not a JSON object with an id.
    pub fn from_api(
        object: ApiObject,
        body: String,
        received_at: DateTime<Utc>,
    ) -> Option<Delivery> {
        let value: serde_json::Value = serde_json::from_str(&body).ok()?;
        let id = string_at(Some(&value), "id")?;
        let created_at = timestamp(value.get("created_at"));
        let (event_type, idempotency_key, occurred_at, normalised) = match object {
            ApiObject::Publication => (
                API_PUBLICATION,
                // One event per publication however often it is read: never a second frame.
                format!("api:publication:{id}"),
                created_at,
                rest::publication(&value, received_at),
            ),
            ApiObject::Campaign => {
                let updated_at = timestamp(value.get("updated_at")).or(created_at);
                let version = updated_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                (
                    API_CAMPAIGN,
                    // A campaign read again with newer facts is a new event; unchanged, a duplicate.
                    format!("api:campaign:{id}:{version}"),
                    updated_at,
                    rest::campaign(&value, received_at),
                )
            }
        };
        Some(Delivery {
            envelope: Envelope {
                idempotency_key: migration::bounds::idempotency_key(idempotency_key),
                delivery_id: None,
                event_id: None,
                source_id: None,
                project_id: None,
                event_type: event_type.to_owned(),
                event_name: None,
                occurred_at,
            },
            normalised,
            body,
            received_at,
            signature_verified: false,
        })
    }
}

/// What the store did with a delivery; both carry the webhook event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored(i64),
    Duplicate(i64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_publication_read_twice_is_one_event() {
        let body = json!({"id": "pub_1", "object": "publication", "created_at": "2022-09-28T13:31:23.522Z", "customer_id": "cust_1", "result": "SUCCESS", "voucher": {"code": "A"}, "vouchers_id": ["v_1"]}).to_string();
        let a = Delivery::from_api(ApiObject::Publication, body.clone(), Utc::now())
            .expect("a delivery");
        let b = Delivery::from_api(ApiObject::Publication, body, Utc::now()).expect("a delivery");
        assert_eq!(a.envelope.idempotency_key, b.envelope.idempotency_key);
        assert_eq!(a.envelope.event_type, API_PUBLICATION);
        assert!(!a.signature_verified);
        assert!(Delivery::from_api(ApiObject::Publication, "[]".into(), Utc::now()).is_none());
    }
}

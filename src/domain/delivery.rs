//! A verified delivery on its way to the store, and what the store did with it.

use super::{envelope::Envelope, normalise::Normalised};
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

/// What the store did with a delivery; both carry the webhook event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored(i64),
    Duplicate(i64),
}

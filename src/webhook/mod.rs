//! Webhook in: `POST /webhooks/voucherify` verifies, parses and hands deliveries to the store.

pub mod signature;

use crate::domain::delivery::{Delivery, Outcome};
use crate::domain::{envelope, normalise};
use crate::metrics::Rejection;
use crate::{error::HttpError, state::AppState, store::ingest::IngestError};
use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, header},
    routing::post,
};
use envelope::Envelope;
use serde_json::{Value, json};

/// The header Voucherify signs with.
pub const SIGNATURE_HEADER: &str = "x-voucherify-signature";

/// The webhook edge's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/voucherify", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, HttpError> {
    let metrics = &state.metrics;
    metrics.webhooks_received.increment(1);
    let result = accept(&state, &headers, body).await;
    match &result {
        Ok(Outcome::Stored(_)) => metrics.webhooks_stored.increment(1),
        Ok(Outcome::Duplicate(_)) => metrics.webhooks_duplicate.increment(1),
        Err(error) => metrics.webhook_rejected(match error {
            HttpError::BadRequest(_) => Rejection::BadRequest,
            HttpError::Unauthorized(_) => Rejection::Signature,
            HttpError::PayloadTooLarge(_) => Rejection::TooLarge,
            HttpError::UnsupportedMediaType(_) => Rejection::ContentType,
            HttpError::Unavailable => Rejection::Unavailable,
            HttpError::Internal | HttpError::Status(..) => Rejection::Internal,
        }),
    }
    Ok(Json(match result? {
        Outcome::Stored(id) => json!({"status": "stored", "id": id.to_string()}),
        Outcome::Duplicate(id) => json!({"status": "duplicate", "id": id.to_string()}),
    }))
}

async fn accept(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Outcome, HttpError> {
    let config = &state.config;
    let bytes = crate::body::read(body, headers, config.max_body_bytes).await?;
    // Checked once the body is read, so the client is not cut off mid-send.
    check_content_type(headers)?;
    let signature_verified = check_signature(config, headers, &bytes)?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| HttpError::BadRequest(format!("the body is not JSON: {e}")))?;
    // Valid JSON is valid UTF-8, so this only fails on a serde_json bug.
    let body = String::from_utf8(bytes)
        .map_err(|_| HttpError::BadRequest("the body is not UTF-8".into()))?;
    let received_at = envelope::now();
    let envelope = Envelope::read(body.as_bytes(), &value);
    let normalised = normalise::normalise(&value, &envelope, received_at);
    let delivery = Delivery {
        envelope,
        normalised,
        body,
        received_at,
        signature_verified,
    };
    let started = std::time::Instant::now();
    let committed =
        tokio::time::timeout(config.ingest_timeout, state.ingest.submit(delivery)).await;
    state
        .metrics
        .ingest_seconds
        .record(started.elapsed().as_secs_f64());
    match committed {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(IngestError::Unavailable)) | Err(_) => Err(HttpError::Unavailable),
        Ok(Err(IngestError::Failed(_))) => Err(HttpError::Internal),
    }
}

/// A delivery that says it is something other than JSON is refused with 415. A missing
/// `Content-Type` is accepted: the body is checked as JSON either way.
fn check_content_type(headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(HttpError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)".into(),
        ))
    }
}

/// `Ok(true)` when signed by a configured secret, `Ok(false)` when no secret is configured.
fn check_signature(
    config: &crate::config::Config,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<bool, HttpError> {
    if config.unsigned_webhooks() {
        return Ok(false);
    }
    let given = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| {
            HttpError::Unauthorized(format!("the {SIGNATURE_HEADER} header is missing"))
        })?
        .to_str()
        .unwrap_or_default();
    if signature::verify(&config.webhook_secrets, body, given) {
        Ok(true)
    } else {
        Err(HttpError::Unauthorized(format!(
            "{SIGNATURE_HEADER} does not match the body under any configured secret"
        )))
    }
}

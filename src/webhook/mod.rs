//! Webhook in: `POST /webhooks/voucherify` verifies, parses and hands deliveries to the store.

pub mod envelope;
pub mod normalise;
pub mod signature;

use crate::{
    app::AppState,
    error::HttpError,
    store::ingest::{Delivery, IngestError, Outcome},
};
use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, header},
    routing::post,
};
use envelope::Envelope;
use futures::StreamExt;
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
    let result = accept(&state, &headers, body).await;
    let outcome = match &result {
        Ok(Outcome::Stored(_)) => "stored",
        Ok(Outcome::Duplicate(_)) => "duplicate",
        Err(HttpError::BadRequest(_)) => "bad_request",
        Err(HttpError::Unauthorized(_)) => "bad_signature",
        Err(HttpError::PayloadTooLarge(_)) => "too_large",
        Err(HttpError::Unavailable) => "unavailable",
        Err(HttpError::Internal) => "internal",
    };
    metrics::counter!("pubgate_webhooks_total", "outcome" => outcome).increment(1);
    Ok(Json(match result? {
        Outcome::Stored(id) => json!({"status": "stored", "id": id.to_string()}),
        Outcome::Duplicate(id) => json!({"status": "duplicate", "id": id.to_string()}),
    }))
}

async fn accept(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Outcome, HttpError> {
    let config = &state.config;
    let limit = config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = read_body(body, limit, declared).await?;
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
    match tokio::time::timeout(config.ingest_timeout, state.ingest.submit(delivery)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(IngestError::Unavailable)) | Err(_) => Err(HttpError::Unavailable),
        Ok(Err(IngestError::Failed(_))) => Err(HttpError::Internal),
    }
}

/// How much of an oversized body is still read (and thrown away) before answering 413: a client
/// that is still sending then reads the answer instead of a reset connection. Beyond this the
/// connection is simply cut.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;

/// The body, at most `limit` bytes, whether or not `Content-Length` announced its size.
async fn read_body(body: Body, limit: usize, declared: Option<u64>) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpError::PayloadTooLarge(limit);
    if declared.is_some_and(|n| n > DRAIN_CAP) {
        return Err(too_large());
    }
    let mut oversized = declared.is_some_and(|n| n > limit as u64);
    let (mut data, mut total) = (Vec::new(), 0u64);
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else {
            return Err(if oversized {
                too_large()
            } else {
                HttpError::BadRequest("the body could not be read".into())
            });
        };
        total = total.saturating_add(chunk.len() as u64);
        oversized = oversized || total > limit as u64;
        if total > DRAIN_CAP {
            break;
        }
        if !oversized {
            data.extend_from_slice(&chunk);
        }
    }
    if oversized {
        Err(too_large())
    } else {
        Ok(data)
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

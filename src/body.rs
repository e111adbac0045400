//! The request body reader shared by the webhook and GraphQL edges: a size limit that holds
//! with or without `Content-Length`, and an oversized body drained so the client hears 413.

use crate::error::HttpError;
use axum::{
    body::Body,
    http::{HeaderMap, header},
};
use futures::StreamExt;

/// How much of an oversized body is still read (and thrown away) before answering 413: a client
/// that is still sending then reads the answer instead of a reset connection. Beyond this the
/// connection is simply cut.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;

/// The body, at most `limit` bytes, whether or not `Content-Length` announced its size.
pub async fn read(body: Body, headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, HttpError> {
    let declared = content_length(headers);
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

/// The declared body length, if any.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

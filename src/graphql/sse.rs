//! GraphQL over Server-Sent Events (graphql-sse "distinct connections" mode): one operation per
//! request; `event: next` per result with `id:` set to the edge cursor, then `event: complete`.
//! A client that reconnects with `Last-Event-ID` resumes after that cursor with no gap.

use super::GraphqlState;
use super::loaders::Loaders;
use super::subscription::{CursorSlot, ResumeFrom};
use crate::error::ApiError;
use crate::metrics::{GaugeGuard, Transport};
use async_graphql::Request;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::{convert::Infallible, time::Duration};

/// Streams the results of `request` as server-sent events.
pub fn respond(state: GraphqlState, request: Request, last_event_id: Option<String>) -> Response {
    let Ok(permit) = state.subscriptions.clone().try_acquire_owned() else {
        state.metrics.subscriptions_refused.increment(1);
        return ApiError::response_with(
            StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManySubscriptions(
                "this server runs as many subscriptions as it allows; retry later or elsewhere"
                    .into(),
            ),
        );
    };
    let held = (
        permit,
        GaugeGuard::hold(state.metrics.active(Transport::Sse)),
    );
    let frames = state.metrics.frames(Transport::Sse).clone();
    let slot = CursorSlot::default();
    let mut request = request.data(Loaders::new(&state.db)).data(slot.clone());
    if let Some(id) = last_event_id {
        request = request.data(ResumeFrom(id));
    }
    let mut shutdown = state.shutdown.clone();
    let results = super::execute::execute_stream(&state, request).map(move |response| {
        let _held = &held;
        frames.increment(1);
        let response = super::execute::with_codes(response);
        let data = serde_json::to_string(&response).unwrap_or_default();
        let mut event = Event::default().event("next").data(data);
        if let Some(cursor) = slot.take() {
            event = event.id(cursor);
        }
        Ok::<_, Infallible>(event)
    });
    let complete = futures::stream::once(async { Ok(Event::default().event("complete").data("")) });
    let until_shutdown = async move {
        let _ = shutdown.changed().await;
    };
    let events = results.chain(complete).take_until(Box::pin(until_shutdown));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

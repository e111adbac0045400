//! Shared live subscriptions: subscribers that send the same live-only subscription (same
//! document, variables and operation, no `after`) share one execution; each event is executed
//! and serialised once per distinct subscription, not once per subscriber. What each subscriber
//! then costs is a queue slot and a socket write.

use super::GraphqlState;
use super::loaders::Loaders;
use super::subscription::CursorSlot;
use crate::domain::cursor;
use async_graphql::Request;
use async_graphql::parser::types::{OperationType, Selection};
use futures::StreamExt;
use metrics::Gauge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// One result of a shared execution.
#[derive(Debug)]
pub enum Frame {
    /// A result (GraphQL response JSON) and the cursor of its edge.
    Next {
        payload: String,
        cursor: Option<String>,
    },
    /// Errors with no data (JSON array); the operation ends.
    Error(String),
    Complete,
}

/// What identifies a shareable subscription.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    /// The (first) root field: what kind of cursor resumes it.
    field: String,
    query: String,
    variables: String,
    operation: Option<String>,
}

struct Shared {
    tx: broadcast::Sender<Arc<Frame>>,
    /// The newest cursor sent, or where the shared stream started.
    last_cursor: Arc<Mutex<String>>,
}

/// A subscriber's end of a shared subscription.
pub struct Joined {
    pub frames: broadcast::Receiver<Arc<Frame>>,
    /// Where a subscriber that has received nothing yet resumes from.
    pub resume: String,
}

/// The shared subscriptions of this instance.
#[derive(Clone)]
pub struct Hub {
    streams: Arc<Mutex<HashMap<Key, Shared>>>,
    /// `pubgate_shared_subscriptions`: kept equal to the number of streams.
    running: Gauge,
}

impl Hub {
    /// No shared subscription yet; `running` follows how many there are.
    pub fn new(running: Gauge) -> Self {
        Hub {
            streams: Arc::default(),
            running,
        }
    }

    /// Runs `change` on the streams under their lock, then updates the gauge.
    fn with_streams<T>(&self, change: impl FnOnce(&mut HashMap<Key, Shared>) -> T) -> T {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let result = change(&mut streams);
        self.running.set(streams.len() as f64);
        result
    }

    /// The key of `request` when it is a live-only subscription that can be shared.
    pub fn key(request: &Request) -> Option<Key> {
        // Parsed here before `guard::prepare` sees it, so the same nesting check comes first.
        if super::guard::too_deep(&request.query) {
            return None;
        }
        let document = async_graphql::parser::parse_query(&request.query).ok()?;
        let operation = super::guard::operation(&document, request.operation_name.as_deref())?;
        if operation.node.ty != OperationType::Subscription {
            return None;
        }
        // Only plain root fields without `after`: a resuming subscriber replays on its own.
        let mut root = None;
        for selection in &operation.node.selection_set.node.items {
            let Selection::Field(field) = &selection.node else {
                return None;
            };
            if field
                .node
                .arguments
                .iter()
                .any(|(name, _)| name.node.as_str() == "after")
            {
                return None;
            }
            root.get_or_insert_with(|| field.node.name.node.to_string());
        }
        Some(Key {
            field: root?,
            query: request.query.clone(),
            variables: serde_json::to_string(&request.variables).ok()?,
            operation: request.operation_name.clone(),
        })
    }

    /// Joins the shared execution of `key`, starting it with `request` if there is none.
    pub fn join(&self, state: &GraphqlState, key: Key, request: Request, queue: usize) -> Joined {
        self.with_streams(|streams| {
            if let Some(shared) = streams.get(&key) {
                let resume = shared
                    .last_cursor
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                return Joined {
                    frames: shared.tx.subscribe(),
                    resume,
                };
            }
            let (tx, frames) = broadcast::channel(queue.max(1));
            let (_, head) = state.feed.subscribe();
            // Before anything is sent, the shared stream starts at the feed head (or slightly
            // after it): resuming from here repeats nothing the subscriber saw and skips nothing.
            let start = if key.field == "webhookEventReceived" {
                cursor::event(head)
            } else {
                cursor::position(head)
            };
            let last_cursor = Arc::new(Mutex::new(start.clone()));
            streams.insert(
                key.clone(),
                Shared {
                    tx: tx.clone(),
                    last_cursor: last_cursor.clone(),
                },
            );
            tokio::spawn(run(
                self.clone(),
                state.clone(),
                key,
                request,
                tx,
                last_cursor,
            ));
            Joined {
                frames,
                resume: start,
            }
        })
    }

    /// Forgets `key` if no subscriber is left; true when it was forgotten.
    fn release_if_unused(&self, key: &Key, tx: &broadcast::Sender<Arc<Frame>>) -> bool {
        self.with_streams(|streams| {
            let unused = tx.receiver_count() == 0;
            if unused {
                streams.remove(key);
            }
            unused
        })
    }

    fn remove(&self, key: &Key) {
        self.with_streams(|streams| streams.remove(key));
    }
}

async fn run(
    hub: Hub,
    state: GraphqlState,
    key: Key,
    request: Request,
    tx: broadcast::Sender<Arc<Frame>>,
    last_cursor: Arc<Mutex<String>>,
) {
    let slot = CursorSlot::default();
    // Starts exactly where the first subscriber joined: an event committed between its
    // `subscribe` and this task's first poll is replayed, not missed.
    let start = last_cursor
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let request = request
        .data(Loaders::new(&state.db))
        .data(slot.clone())
        .data(super::subscription::ResumeFrom(start));
    let mut responses = super::execute::execute_stream(&state, request);
    while let Some(response) = responses.next().await {
        let response = super::execute::with_codes(response);
        let frame = if super::execute::is_failure(&response) {
            Frame::Error(serde_json::to_string(&response.errors).unwrap_or_default())
        } else {
            let cursor = slot.take();
            if let Some(cursor) = &cursor {
                *last_cursor.lock().unwrap_or_else(|e| e.into_inner()) = cursor.clone();
            }
            Frame::Next {
                payload: serde_json::to_string(&response).unwrap_or_default(),
                cursor,
            }
        };
        let ends = matches!(frame, Frame::Error(_));
        if ends {
            hub.remove(&key);
        }
        if tx.send(Arc::new(frame)).is_err() && hub.release_if_unused(&key, &tx) {
            return;
        }
        if ends {
            return;
        }
    }
    hub.remove(&key);
    let _ = tx.send(Arc::new(Frame::Complete));
}

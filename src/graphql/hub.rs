//! Shared live subscriptions: subscribers that send the same live-only subscription (same
//! document, variables and operation, no `after` or a null one) share one execution; each
//! event is executed and serialised once per distinct subscription, not once per subscriber.
//! What each subscriber then costs is a queue slot and a socket write. The execution ends when
//! its last subscriber leaves, however it leaves.

use super::GraphqlState;
use super::loaders::Loaders;
use super::subscription::CursorSlot;
use crate::domain::cursor;
use async_graphql::Request;
use async_graphql::parser::types::{OperationType, Selection};
use futures::StreamExt;
use metrics::Gauge;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

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
    /// Tells this execution from a later one under the same key.
    id: u64,
    tx: broadcast::Sender<Arc<Frame>>,
    /// The newest cursor sent, or where the shared stream started.
    last_cursor: Arc<Mutex<String>>,
    /// The execution's task, stopped when its last subscriber leaves.
    task: AbortHandle,
}

/// A subscriber's end of a shared subscription.
pub struct Joined {
    pub frames: broadcast::Receiver<Arc<Frame>>,
    /// Where a subscriber that has received nothing yet resumes from.
    pub resume: String,
    /// Declared after `frames`, so it is dropped after the receiver: the last one out stops
    /// the execution.
    _member: Member,
}

/// One subscriber's membership of a shared execution.
struct Member {
    hub: Hub,
    key: Key,
    id: u64,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.hub.leave(&self.key, self.id);
    }
}

/// The shared subscriptions of this instance.
#[derive(Clone)]
pub struct Hub {
    streams: Arc<Mutex<HashMap<Key, Shared>>>,
    next_id: Arc<AtomicU64>,
    /// `pubgate_shared_subscriptions`: kept equal to the number of streams.
    running: Gauge,
}

impl Hub {
    /// No shared subscription yet; `running` follows how many there are.
    pub fn new(running: Gauge) -> Self {
        Hub {
            streams: Arc::default(),
            next_id: Arc::default(),
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
        // Only plain root fields without an `after` (or with a null one): a resuming
        // subscriber replays on its own.
        let mut root = None;
        for selection in &operation.node.selection_set.node.items {
            let Selection::Field(field) = &selection.node else {
                return None;
            };
            let resumes = field.node.arguments.iter().any(|(name, value)| {
                name.node.as_str() == "after" && !is_null(&value.node, request)
            });
            if resumes {
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
                    _member: self.member(&key, shared.id),
                };
            }
            let (tx, frames) = broadcast::channel(queue.max(1));
            let (_, head) = state.feed.subscribe();
            let (database, _) = state.feed.version();
            // Before anything is sent, the shared stream starts at the feed head (or slightly
            // after it): resuming from here repeats nothing the subscriber saw and skips nothing.
            let start = if key.field == "webhookEventReceived" {
                cursor::event(head, &database)
            } else {
                cursor::position(head, &database)
            };
            let last_cursor = Arc::new(Mutex::new(start.clone()));
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let task = tokio::spawn(run(
                self.member(&key, id),
                state.clone(),
                request,
                tx.clone(),
                last_cursor.clone(),
            ));
            streams.insert(
                key.clone(),
                Shared {
                    id,
                    tx,
                    last_cursor,
                    task: task.abort_handle(),
                },
            );
            Joined {
                frames,
                resume: start,
                _member: self.member(&key, id),
            }
        })
    }

    fn member(&self, key: &Key, id: u64) -> Member {
        Member {
            hub: self.clone(),
            key: key.clone(),
            id,
        }
    }

    /// A subscriber of execution `id` left: when it was the last, the execution stops.
    fn leave(&self, key: &Key, id: u64) {
        self.with_streams(|streams| {
            if let Some(shared) = streams.get(key)
                && shared.id == id
                && shared.tx.receiver_count() == 0
            {
                shared.task.abort();
                streams.remove(key);
            }
        });
    }

    /// Forgets execution `id` of `key` (it ended by itself).
    fn forget(&self, key: &Key, id: u64) {
        self.with_streams(|streams| {
            if streams.get(key).is_some_and(|shared| shared.id == id) {
                streams.remove(key);
            }
        });
    }
}

/// True when an argument's value is null: the literal, or a variable that is null or absent.
fn is_null(value: &async_graphql_value::Value, request: &Request) -> bool {
    use async_graphql_value::Value;
    match value {
        Value::Null => true,
        Value::Variable(name) => request
            .variables
            .get(name)
            .is_none_or(|v| *v == async_graphql::Value::Null),
        _ => false,
    }
}

/// The shared execution: runs `request` and broadcasts each result. `me` is the execution's
/// own membership, so that it forgets itself when it ends (it is never counted as a receiver).
async fn run(
    me: Member,
    state: GraphqlState,
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
        if super::execute::is_failure(&response) {
            me.hub.forget(&me.key, me.id);
            let errors = serde_json::to_string(&response.errors).unwrap_or_default();
            let _ = tx.send(Arc::new(Frame::Error(errors)));
            return;
        }
        let cursor = slot.take();
        if let Some(cursor) = &cursor {
            *last_cursor.lock().unwrap_or_else(|e| e.into_inner()) = cursor.clone();
        }
        let payload = serde_json::to_string(&response).unwrap_or_default();
        // With no receiver left the last member's drop has stopped (or is stopping) this task.
        let _ = tx.send(Arc::new(Frame::Next { payload, cursor }));
    }
    me.hub.forget(&me.key, me.id);
    let _ = tx.send(Arc::new(Frame::Complete));
}

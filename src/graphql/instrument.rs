//! Times every GraphQL operation into `pubgate_graphql_request_duration_seconds{operation}`.
//!
//! Done by the transports around execution rather than as a schema extension: with any
//! extension installed, async-graphql sends every field of every result through the extension
//! chain (a registry lookup and several allocations per field), which cost a large share of
//! the CPU of a 50-row page.

use crate::metrics::{Metrics, OperationKind};
use async_graphql::Positioned;
use async_graphql::parser::types::{OperationDefinition, OperationType};
use std::sync::Arc;
use std::time::Instant;

/// Records the time from its start to its drop under the operation's kind: a query's whole
/// execution, a stream's whole lifetime (completed, failed or cancelled).
pub struct Timing {
    metrics: Arc<Metrics>,
    started: Instant,
    /// Stays `Invalid` unless the document parses.
    pub kind: OperationKind,
}

impl Timing {
    pub fn start(metrics: Arc<Metrics>) -> Self {
        Timing {
            metrics,
            started: Instant::now(),
            kind: OperationKind::Invalid,
        }
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.metrics
            .graphql_seconds(self.kind)
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// The kind of an operation (`Invalid` when the document has no such operation).
pub fn kind_of(operation: Option<&Positioned<OperationDefinition>>) -> OperationKind {
    match operation.map(|op| op.node.ty) {
        Some(OperationType::Query) => OperationKind::Query,
        Some(OperationType::Mutation) => OperationKind::Mutation,
        Some(OperationType::Subscription) => OperationKind::Subscription,
        None => OperationKind::Invalid,
    }
}

//! Times every GraphQL operation into `pubgate_graphql_request_duration_seconds{operation}`.

use crate::ops::{Metrics, OperationKind};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use futures::stream::{BoxStream, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The extension factory the schema is built with.
pub struct Instrument(pub Arc<Metrics>);

impl ExtensionFactory for Instrument {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Timed(Arc::new(Inner {
            metrics: self.0.clone(),
            kind: Mutex::new(OperationKind::Invalid),
        })))
    }
}

struct Inner {
    metrics: Arc<Metrics>,
    /// Set once the document parses; stays `Invalid` otherwise.
    kind: Mutex<OperationKind>,
}

impl Inner {
    fn record(&self, started: Instant) {
        let kind = *self.kind.lock().unwrap_or_else(|e| e.into_inner());
        self.metrics
            .graphql_seconds(kind)
            .record(started.elapsed().as_secs_f64());
    }
}

struct Timed(Arc<Inner>);

/// Records the stream's lifetime when it is dropped (completed, failed or cancelled).
struct Lifetime(Arc<Inner>, Instant);

impl Drop for Lifetime {
    fn drop(&mut self) {
        self.0.record(self.1);
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Timed {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        self.0.record(started);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let lifetime = Lifetime(self.0.clone(), Instant::now());
        next.run(ctx, stream)
            .map(move |response| {
                let _alive = &lifetime;
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *self.0.kind.lock().unwrap_or_else(|e| e.into_inner()) = kind_of(&document);
        Ok(document)
    }
}

/// The kind of the document's operation (the first one's, when it holds several).
fn kind_of(document: &ExecutableDocument) -> OperationKind {
    let ty = match &document.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => ops.values().next().map(|op| op.node.ty),
    };
    match ty {
        Some(OperationType::Query) => OperationKind::Query,
        Some(OperationType::Mutation) => OperationKind::Mutation,
        Some(OperationType::Subscription) => OperationKind::Subscription,
        None => OperationKind::Invalid,
    }
}

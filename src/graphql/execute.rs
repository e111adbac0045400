//! Executing an operation: the document checks, one parse, execution, timing; and the codes
//! every error carries.

use super::{GraphqlState, guard, instrument};
use crate::metrics::OperationKind;

/// Executes a query or mutation: the document checks, one parse, execution, timed. Returns the
/// response and the operation's kind.
pub(crate) async fn execute(
    state: &GraphqlState,
    mut request: async_graphql::Request,
) -> (async_graphql::Response, OperationKind) {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    match guard::prepare(
        &mut request,
        state.config.disable_introspection,
        &state.documents,
    ) {
        Ok(kind) => {
            timing.kind = kind;
            (state.schema.execute(request).await, kind)
        }
        Err(error) => (
            async_graphql::Response::from_errors(vec![error]),
            timing.kind,
        ),
    }
}

/// Executes any operation as a stream (subscriptions, and queries over WebSocket or SSE): the
/// document checks, one parse, execution; its lifetime is timed.
pub(crate) fn execute_stream(
    state: &GraphqlState,
    mut request: async_graphql::Request,
) -> futures::stream::BoxStream<'static, async_graphql::Response> {
    use futures::StreamExt;
    let mut timing = instrument::Timing::start(state.metrics.clone());
    let responses = match guard::prepare(
        &mut request,
        state.config.disable_introspection,
        &state.documents,
    ) {
        Ok(kind) => {
            timing.kind = kind;
            state.schema.execute_stream(request)
        }
        Err(error) => {
            futures::stream::once(async move { async_graphql::Response::from_errors(vec![error]) })
                .boxed()
        }
    };
    responses
        .map(move |response| {
            let _timing = &timing;
            response
        })
        .boxed()
}

/// Gives every error an `extensions.code`: errors from parsing and validation (syntax, unknown
/// fields, depth and complexity limits) are the client's and become `BAD_USER_INPUT`. An error
/// repeated word for word is sent once (validation reports a mutation on a schema without
/// mutations from two rules).
pub(crate) fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    response.errors.dedup();
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    response
}

/// True when `response` is errors without data: the operation failed and ends with them.
pub(crate) fn is_failure(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null && !response.errors.is_empty()
}

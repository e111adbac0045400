//! Executing an operation: the document checks, one parse, execution, timing; and the codes
//! every error carries.

use super::{GraphqlState, guard, instrument};
use crate::metrics::OperationKind;

/// An answer over plain HTTP: the resolvers' response, or the body direct execution wrote
/// (a query's data, without errors).
pub(crate) enum Answer {
    Resolved(async_graphql::Response),
    Written(Vec<u8>),
}

/// Executes a query or mutation: the document checks, one parse, validation, then direct
/// execution where it applies (see `direct`) or the resolvers; timed. Returns the answer and
/// the operation's kind.
pub(crate) async fn execute(
    state: &GraphqlState,
    mut request: async_graphql::Request,
) -> (Answer, OperationKind) {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    match guard::prepare(
        &mut request,
        state.config.disable_introspection,
        &state.documents,
    ) {
        Ok(kind) => {
            timing.kind = kind;
            let direct = kind == OperationKind::Query
                && !state.config.plain_execution
                && !state.config.resolver_execution;
            if !direct {
                return (Answer::Resolved(state.schema.execute(request).await), kind);
            }
            let prepared = match state.schema.prepare(request).await {
                Ok(prepared) => prepared,
                Err(errors) => {
                    return (
                        Answer::Resolved(async_graphql::Response::from_errors(errors)),
                        kind,
                    );
                }
            };
            let answer =
                match super::direct::answer(&state.db, &state.analytics_db, &state.feed, &prepared)
                    .await
                {
                    Some(body) => {
                        state.metrics.direct_written.increment(1);
                        Answer::Written(body)
                    }
                    None => {
                        state.metrics.direct_resolved.increment(1);
                        Answer::Resolved(state.schema.execute_prepared(prepared).await)
                    }
                };
            (answer, kind)
        }
        Err(error) => (
            Answer::Resolved(async_graphql::Response::from_errors(vec![error])),
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

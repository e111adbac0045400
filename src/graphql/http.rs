//! `/graphql` over plain HTTP, as the GraphQL-over-HTTP specification says: GET and POST, the
//! answer's media type and status by the request's `Accept`, persisted documents, GraphiQL for
//! browsers, the query cache, and the hand-over to SSE (an event stream accepted) or WebSocket
//! (an upgrade).

use super::execute::{Answer, execute, is_failure, with_codes};
use super::negotiate::{self, Accepted, Json};
use super::persisted::Sent;
use super::{
    GraphqlState,
    auth::{authorised, foreign_origin, origin_allowed},
    cache, graphiql, guard, instrument, loaders, sse, ws,
};
use crate::error::ApiError;
use crate::metrics::OperationKind;
use axum::{
    extract::{FromRequestParts, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

pub(super) async fn graphql(State(state): State<GraphqlState>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        let (mut parts, _) = request.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(State(state), parts.headers, upgrade).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    if request.method() == Method::GET && wants_graphiql(request.headers(), request.uri().query()) {
        return graphiql::page(request.headers());
    }
    let accepted = negotiate::accepted(request.headers());
    let json = accepted.json_or_default();
    let mut response = respond(&state, request, accepted).await;
    // Every JSON answer, errors included, in the type the client asked for.
    let headers = response.headers_mut();
    if json == Json::Legacy
        && headers.get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes()
                .starts_with(Json::GraphqlResponse.content_type().as_bytes())
        })
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Json::Legacy.content_type()),
        );
    }
    // The answer depends on these; an HTTP cache must keep one per value.
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    response
}

/// The answer to a GraphQL request over HTTP: a single result, or an event stream.
async fn respond(state: &GraphqlState, request: Request, accepted: Accepted) -> Response {
    if !authorised(&state.config, request.headers()) {
        return ApiError::response_with(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    }
    if accepted.nothing() {
        return ApiError::response_with(
            StatusCode::NOT_ACCEPTABLE,
            ApiError::bad_input(
                "this endpoint answers application/graphql-response+json, application/json or \
                 text/event-stream, and the Accept header allows none of them",
            ),
        );
    }
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_post = request.method() == Method::POST;
    let if_none_match: Vec<HeaderValue> = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .cloned()
        .collect();
    let origin_ok = origin_allowed(&state.config, request.headers());
    let parsed = if is_post {
        read_post(state, request).await
    } else {
        read_get(request.uri().query().unwrap_or_default()).map_err(|message| {
            ApiError::response_with(StatusCode::BAD_REQUEST, ApiError::bad_input(message))
        })
    };
    let (sent, key) = match parsed {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let json = accepted.json_or_default();
    let mut request = match state.persisted.resolve(sent) {
        Ok(request) => request,
        Err(error) => return reply(async_graphql::Response::from_errors(vec![error]), json),
    };
    if request.query.trim().is_empty() {
        let message = match is_post {
            true => "the request has no `query` (nor a persisted document's hash)",
            false => {
                "GET /graphql needs a `query` parameter (or the hash of a persisted document); \
                 open it in a browser for GraphiQL"
            }
        };
        return ApiError::response_with(StatusCode::BAD_REQUEST, ApiError::bad_input(message));
    }
    // Both a stream and JSON acceptable (urql's default): a subscription streams, the rest
    // get one result.
    let subscription = accepted.may_stream()
        && accepted.json.is_some()
        && guard::prepare(
            &mut request,
            state.config.disable_introspection,
            &state.documents,
        ) == Ok(OperationKind::Subscription);
    if accepted.stream(subscription) {
        if !origin_ok {
            return foreign_origin();
        }
        return sse::respond(state.clone(), request, last_event_id);
    }
    answer(state, request, key, json, if_none_match).await
}

/// Answers a query or mutation over plain HTTP, from the query cache when the committed head
/// has not moved since the same request (same bytes) was answered, or from an identical request
/// executing from the same head.
async fn answer(
    state: &GraphqlState,
    request: async_graphql::Request,
    key: Vec<u8>,
    json: Json,
    if_none_match: Vec<HeaderValue>,
) -> Response {
    use cache::Decision;
    let metrics = &state.metrics;
    // Read before executing: the answer is then at least as new as this head.
    let head = match state.query_cache.enabled() {
        true => crate::store::queries::head(&state.db)
            .await
            .ok()
            .map(|stored| cache::Version {
                database: stored.database,
                generation: state.feed.generation(),
                seq: stored.seq,
                revision: stored.revision,
            }),
        false => None,
    };
    let lookup = |head: &Option<cache::Version>| match head {
        Some(h) => state.query_cache.lookup(h, &key),
        None => Decision::Bypass,
    };
    // A GET names its answer by the head it was computed at: a client (or an HTTP cache) that
    // holds the answer for this head revalidates it without anything executing.
    let tag = head
        .as_ref()
        .filter(|_| key.first() == Some(&b'G'))
        .map(|head| entity_tag(state, head, &key, json));
    if let Some(tag) = &tag
        && crate::assets::none_match(&if_none_match, tag)
    {
        return not_modified(tag);
    }
    let mut decision = lookup(&head);
    let flight = loop {
        match decision {
            Decision::Hit(body) => return tagged(cached(state, body, json), tag.as_deref()),
            Decision::Follow(rx) => match cache::follow(rx).await {
                Some(body) => return tagged(cached(state, body, json), tag.as_deref()),
                // The request executing for us went away without an answer (its client
                // disconnected): look again, so that one of the waiting takes over.
                None => decision = lookup(&head),
            },
            Decision::Lead(flight) => break Some(flight),
            Decision::Bypass => break None,
        }
    };
    if state.query_cache.enabled() {
        metrics.query_cache_misses.increment(1);
    }
    let request = request.data(loaders::Loaders::new(&state.db));
    let (answer, kind) = execute(state, request).await;
    // The body, and whether it is an answer to keep for this head.
    let (body, keep) = match answer {
        // Direct execution writes only a query's data, without errors.
        Answer::Written(body) => (axum::body::Bytes::from(body), true),
        Answer::Resolved(response) => {
            let response = with_codes(response);
            let plain =
                response.http_headers.is_empty() && response.cache_control.value().is_none();
            if flight.is_none() || !plain || request_error(&response) {
                return reply(response, json);
            }
            let body = serde_json::to_vec(&response).unwrap_or_default();
            let keep = kind == OperationKind::Query && response.is_ok();
            (body.into(), keep)
        }
    };
    let Some(flight) = flight else {
        return json_response(body, json);
    };
    if keep {
        flight.land(body.clone());
        return tagged(json_response(body, json), tag.as_deref());
    }
    // Errors are not kept, but those already waiting get the same answer.
    flight.share(body.clone());
    json_response(body, json)
}

/// The entity tag of a GET's answer at `head`: the same request, media type and head give
/// the same answer (the query cache's rule). The instance's salt makes tags from before a
/// restart (or from another instance) simply miss, so a database restored to an earlier head
/// and written again can never match an old tag.
fn entity_tag(state: &GraphqlState, head: &cache::Version, key: &[u8], json: Json) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(state.etag_salt.as_bytes());
    hash.update(head.database.as_bytes());
    hash.update(head.generation.to_be_bytes());
    hash.update(head.seq.to_be_bytes());
    hash.update(head.revision.to_be_bytes());
    hash.update(json.content_type().as_bytes());
    hash.update(key);
    format!("\"{}\"", hex::encode(&hash.finalize()[..16]))
}

/// 304: the client's copy is the answer.
fn not_modified(tag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    tagged_headers(response.headers_mut(), tag);
    response
}

/// A successful answer with its entity tag, if it has one.
fn tagged(mut response: Response, tag: Option<&str>) -> Response {
    if let Some(tag) = tag {
        tagged_headers(response.headers_mut(), tag);
    }
    response
}

fn tagged_headers(headers: &mut HeaderMap, tag: &str) {
    if let Ok(value) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, value);
        // Kept by caches, but asked again each time: data changes with every commit.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}

/// Whether `response` is a request error: the operation was refused before it ran (parse,
/// validation, the document checks, a persisted document not found), so there is no data, and
/// no error has a path into it.
fn request_error(response: &async_graphql::Response) -> bool {
    is_failure(response) && response.errors.iter().all(|e| e.path.is_empty())
}

/// A single result as the GraphQL-over-HTTP specification says to send it in `json`: a request
/// error has no `data` entry, and is 4xx as `application/graphql-response+json` (a response
/// without `data` MUST be; 403 for a document `--only-trusted-documents` refuses, else 400) but
/// 200 as `application/json` (whose clients read errors from 200s only). Apollo's and urql's
/// persisted-query links read `PersistedQueryNotFound` from a 400 too, and resend the document.
fn reply(response: async_graphql::Response, json: Json) -> Response {
    let refused = request_error(&response);
    let has_code = |code: &str| {
        response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| *c == async_graphql::Value::from(code))
        })
    };
    let status = if !refused || json == Json::Legacy {
        StatusCode::OK
    } else if has_code("FORBIDDEN") {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = if refused {
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    let mut answer = json_response(body.unwrap_or_default().into(), json);
    *answer.status_mut() = status;
    answer.headers_mut().extend(response.http_headers);
    answer
}

/// An answer computed for an identical request at the same head.
fn cached(state: &GraphqlState, body: axum::body::Bytes, json: Json) -> Response {
    let mut timing = instrument::Timing::start(state.metrics.clone());
    timing.kind = OperationKind::Query;
    state.metrics.query_cache_hits.increment(1);
    json_response(body, json)
}

/// A GraphQL response body sent as `json`.
fn json_response(body: axum::body::Bytes, json: Json) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(json.content_type()),
        )],
        body,
    )
        .into_response()
}

/// A POSTed GraphQL request and its cache key (its bytes). The body must be JSON
/// (`Content-Type: application/json`; any other type, or none, is 415: a form a foreign page
/// posts cannot be one) and is read under `--max-body-bytes` (413 past it, with or without
/// `Content-Length`).
async fn read_post(state: &GraphqlState, request: Request) -> Result<(Sent, Vec<u8>), Response> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_json(content_type) {
        let message = match content_type {
            "" => "a POST to /graphql needs `Content-Type: application/json`".to_owned(),
            other => format!(
                "a POST to /graphql is JSON (`Content-Type: application/json`), not {other:?}"
            ),
        };
        return Err(ApiError::response_with(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::bad_input(message),
        ));
    }
    let bytes = crate::body::read(body, &parts.headers, state.config.max_body_bytes)
        .await
        .map_err(|e| match e {
            crate::error::HttpError::PayloadTooLarge(limit) => ApiError::response_with(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::bad_input(format!(
                    "the request body is larger than the {limit}-byte limit"
                )),
            ),
            other => other.into_response(),
        })?;
    let refuse = |message: String| {
        ApiError::response_with(StatusCode::BAD_REQUEST, ApiError::bad_input(message))
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(refuse(
            "batched requests are not supported; send one operation".into(),
        ));
    }
    let sent: Sent = serde_json::from_slice(&bytes).map_err(|e| {
        refuse(format!(
            "the body is not a GraphQL request (JSON with a `query`): {e}"
        ))
    })?;
    Ok((sent, [b"P", &bytes[..]].concat()))
}

/// A GET request's parameters (`query`, `operationName`, `variables` and `extensions` as
/// URL-encoded JSON, `documentId`) and its cache key (the query string), or what is wrong.
fn read_get(query: &str) -> Result<(Sent, Vec<u8>), String> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(default)]
        query: String,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
        #[serde(rename = "documentId")]
        document_id: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query)
        .map_err(|e| format!("the query string is not a GraphQL request: {e}"))?;
    let mut sent = Sent {
        query: params.query,
        operation_name: params.operation_name.filter(|n| !n.is_empty()),
        document_id: params.document_id,
        ..Sent::default()
    };
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        sent.variables = serde_json::from_str(&variables)
            .map_err(|e| format!("`variables` must be a JSON object, URL-encoded: {e}"))?;
    }
    if let Some(extensions) = params.extensions.filter(|v| !v.is_empty()) {
        sent.extensions = serde_json::from_str(&extensions)
            .map_err(|e| format!("`extensions` must be a JSON object, URL-encoded: {e}"))?;
    }
    Ok((sent, [b"G", query.as_bytes()].concat()))
}

/// `application/json`, with or without parameters (a `charset` other than UTF-8 is not JSON).
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// A browser asking for the page, not a client sending a request.
fn wants_graphiql(headers: &HeaderMap, query: Option<&str>) -> bool {
    let asks = query.is_some_and(|q| {
        q.split('&').any(|p| {
            ["query=", "extensions=", "documentId="]
                .iter()
                .any(|k| p.starts_with(k))
        })
    });
    negotiate::wants_html(headers) && !asks
}

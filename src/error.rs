//! Errors at the edges: one HTTP mapping for the webhook, one GraphQL mapping with codes.
//! Internal details are logged, never sent.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DbErr;
use serde_json::json;

/// A failed HTTP request, answered with `{"error": code, "message": text}`.
#[derive(Debug)]
pub enum HttpError {
    BadRequest(String),
    Unauthorized(String),
    PayloadTooLarge(usize),
    UnsupportedMediaType(String),
    Unavailable,
    Internal,
    /// A status some layer answered (404, 405, 408, …), with its reason.
    Status(StatusCode, String),
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            HttpError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            HttpError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m),
            HttpError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {limit}-byte limit"),
            ),
            HttpError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                m,
            ),
            HttpError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; nothing was stored, retry later".into(),
            ),
            HttpError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; nothing was stored".into(),
            ),
            HttpError::Status(status, reason) => (status, code_of(status), reason),
        };
        let mut response =
            (status, Json(json!({"error": code, "message": message}))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        response
    }
}

/// The contract's `error` code for a status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "client_error",
    }
}

/// A GraphQL error with `extensions.code`. It has no `Display` on purpose, so `?` on an
/// arbitrary error cannot slip its text to a client through async-graphql's blanket `From`.
#[derive(Debug, Clone)]
pub enum ApiError {
    BadUserInput(String),
    Unauthenticated,
    /// Refused whoever asks, e.g. a stream opened from a foreign page.
    Forbidden(String),
    /// A subscriber fell behind; it resumes with `after` set to the cursor.
    SlowConsumer(String),
    /// A subscription limit refused the operation.
    TooManySubscriptions(String),
    /// The database was replaced or restored under a live subscription.
    DatabaseChanged,
    /// A document named by a hash this instance does not know (the client sends it again with
    /// the document; Apollo's clients match the message).
    PersistedQueryNotFound,
    Internal,
}

impl ApiError {
    /// A client mistake, described for the client.
    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::BadUserInput(message.into())
    }

    /// The error as it is sent, for a request refused before execution: no `locations`
    /// (the spec's positions start at 1:1; there is no position in the document to name).
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let mut error =
            async_graphql::Error::from(self).into_server_error(async_graphql::Pos::default());
        error.locations.clear();
        error
    }

    /// A GraphQL-shaped HTTP answer (`{"errors": [...]}` with `extensions.code`) with `status`,
    /// for a request refused before execution.
    pub fn response_with(status: StatusCode, error: ApiError) -> Response {
        // No `data` entry: nothing was executed (GraphQL spec, "Response Format").
        let body = json!({"errors": [error.into_server_error()]});
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/graphql-response+json"),
            )],
            body.to_string(),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        response
    }
}

/// `Retry-After` on a 503: the client should try again in a few seconds.
fn retry_later(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        tracing::error!(error = %err, "database error in a GraphQL resolver");
        ApiError::Internal
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        use async_graphql::ErrorExtensions;
        let (code, message, cursor) = match err {
            ApiError::BadUserInput(m) => ("BAD_USER_INPUT", m, None),
            ApiError::Unauthenticated => (
                "UNAUTHENTICATED",
                "a valid API token is required".into(),
                None,
            ),
            ApiError::Forbidden(m) => ("FORBIDDEN", m, None),
            ApiError::SlowConsumer(cursor) => (
                "SLOW_CONSUMER",
                "this subscriber fell too far behind and was ended; subscribe again with `after` \
                 set to `extensions.lastCursor` to resume without a gap"
                    .into(),
                Some(cursor),
            ),
            ApiError::TooManySubscriptions(m) => ("TOO_MANY_SUBSCRIPTIONS", m, None),
            ApiError::DatabaseChanged => (
                "DATABASE_CHANGED",
                "the database behind this gateway was replaced or restored to an earlier point, \
                 so positions given out before mean nothing now; start again from a fresh page, \
                 without `after`"
                    .into(),
                None,
            ),
            ApiError::PersistedQueryNotFound => (
                "PERSISTED_QUERY_NOT_FOUND",
                "PersistedQueryNotFound".into(),
                None,
            ),
            ApiError::Internal => ("INTERNAL", "internal error".into(), None),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(cursor) = &cursor {
                ext.set("lastCursor", cursor.as_str());
            }
        })
    }
}

/// `Result` for GraphQL resolvers.
pub type ApiResult<T> = Result<T, ApiError>;

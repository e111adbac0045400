//! Which media type answers a `/graphql` request, from its `Accept` header (RFC 9110 12.5.1,
//! q-values honoured), as the GraphQL-over-HTTP specification asks: a single result as
//! `application/graphql-response+json` or `application/json`, a stream as `text/event-stream`.
//!
//! Written here rather than taken from a crate: the crates that parse `Accept` (headers,
//! mime, accept-header) either ignore q-values or pick one winner, where this needs a
//! quality for each of three types, the most specific range deciding each (`*/*;q=0.1,
//! application/json` rates JSON 1).

use axum::http::{HeaderMap, header};

/// The JSON media type a single result is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Json {
    /// `application/graphql-response+json`: request errors (parse, validation) are 4xx.
    GraphqlResponse,
    /// `application/json`, for clients that predate the former: every well-formed request
    /// gets 200.
    Legacy,
}

impl Json {
    pub fn content_type(self) -> &'static str {
        match self {
            Json::GraphqlResponse => "application/graphql-response+json",
            Json::Legacy => "application/json",
        }
    }
}

/// What the client accepts, and how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accepted {
    /// The JSON type for a single result, if any is acceptable.
    pub json: Option<Json>,
    /// The quality of that JSON type (0 when none).
    json_quality: f32,
    /// The quality of `text/event-stream` (0: not acceptable).
    stream_quality: f32,
}

impl Accepted {
    /// No `Accept` header: `application/graphql-response+json` (the specification's default
    /// since 2025-01-01), no stream.
    const DEFAULT: Accepted = Accepted {
        json: Some(Json::GraphqlResponse),
        json_quality: 1.0,
        stream_quality: 0.0,
    };

    /// Whether nothing this endpoint sends is acceptable (answer 406).
    pub fn nothing(&self) -> bool {
        self.json.is_none() && self.stream_quality <= 0.0
    }

    /// Whether to answer with an event stream: when only the stream is acceptable, when it is
    /// preferred to JSON, or for a subscription (which has no single result) when both are.
    pub fn stream(&self, subscription: bool) -> bool {
        self.stream_quality > 0.0
            && (self.json.is_none() || subscription || self.stream_quality > self.json_quality)
    }

    /// Whether a stream is acceptable at all (so the operation's kind may decide).
    pub fn may_stream(&self) -> bool {
        self.stream_quality > 0.0
    }

    /// The JSON type to use for an answer sent whatever the client accepts (errors, 406).
    pub fn json_or_default(&self) -> Json {
        self.json.unwrap_or(Json::GraphqlResponse)
    }
}

/// Reads every `Accept` header of a request.
pub fn accepted(headers: &HeaderMap) -> Accepted {
    let ranges = ranges(headers);
    if ranges.is_empty() {
        // No `Accept`, or one with nothing usable in it, says nothing.
        return Accepted::DEFAULT;
    }
    let quality = |kind: &str, sub: &str| {
        ranges
            .iter()
            .filter(|r| r.matches(kind, sub))
            .max_by_key(|r| r.specificity())
            .map_or(0.0, |r| r.quality)
    };
    let response = quality("application", "graphql-response+json");
    let legacy = quality("application", "json");
    let (json, json_quality) = if response <= 0.0 && legacy <= 0.0 {
        (None, 0.0)
    } else if response >= legacy {
        (Some(Json::GraphqlResponse), response)
    } else {
        (Some(Json::Legacy), legacy)
    };
    Accepted {
        json,
        json_quality,
        // Only a client that names the stream gets one: `*/*` is what curl and most HTTP
        // libraries send, and they expect one JSON result, also for a subscription's error.
        stream_quality: ranges
            .iter()
            .filter(|r| r.specificity() == 2 && r.matches("text", "event-stream"))
            .map(|r| r.quality)
            .fold(0.0, f32::max),
    }
}

/// Whether `text/html` is acceptable: a browser asking for a page.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let ranges = ranges(headers);
    // Only an explicit `text/html`: `*/*` is what scripts send too.
    ranges
        .iter()
        .any(|r| r.kind == "text" && r.sub == "html" && r.quality > 0.0)
}

/// The media ranges of every `Accept` header of a request.
fn ranges(headers: &HeaderMap) -> Vec<Range<'_>> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(Range::parse)
        .collect()
}

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Range<'a> {
    kind: &'a str,
    sub: &'a str,
    quality: f32,
}

impl<'a> Range<'a> {
    /// `type/subtype;param=value;q=0.5`; `None` for what is not a media range (ignored, as
    /// RFC 9110 lets a recipient do with a field it cannot parse).
    fn parse(text: &'a str) -> Option<Range<'a>> {
        let mut parts = text.split(';');
        let (kind, sub) = parts.next()?.trim().split_once('/')?;
        let (kind, sub) = (kind.trim(), sub.trim());
        if kind.is_empty() || sub.is_empty() || (kind == "*" && sub != "*") {
            return None;
        }
        let mut quality = 1.0;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                quality = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))?;
            }
        }
        Some(Range { kind, sub, quality })
    }

    fn matches(&self, kind: &str, sub: &str) -> bool {
        (self.kind == "*" || self.kind.eq_ignore_ascii_case(kind))
            && (self.sub == "*" || self.sub.eq_ignore_ascii_case(sub))
    }

    /// Exact ranges before `type/*` before `*/*` (RFC 9110 12.5.1).
    fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.sub != "*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(accept: &str) -> Accepted {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, accept.parse().expect("header"));
        accepted(&headers)
    }

    #[test]
    fn json_types_by_quality() {
        assert_eq!(
            accepted(&HeaderMap::new()).json,
            Some(Json::GraphqlResponse)
        );
        assert_eq!(of("application/json").json, Some(Json::Legacy));
        assert_eq!(
            of("application/json; charset=utf-8").json,
            Some(Json::Legacy)
        );
        assert_eq!(of("*/*").json, Some(Json::GraphqlResponse));
        assert_eq!(of("application/*").json, Some(Json::GraphqlResponse));
        assert_eq!(
            of("application/graphql-response+json, application/json").json,
            Some(Json::GraphqlResponse)
        );
        assert_eq!(
            of("application/graphql-response+json;q=0.5, application/json").json,
            Some(Json::Legacy)
        );
        assert_eq!(
            of("application/json, */*;q=0.1").json,
            Some(Json::Legacy),
            "*/* at 0.1 loses to application/json at 1"
        );
        assert_eq!(
            of("*/*, application/json;q=0").json,
            Some(Json::GraphqlResponse)
        );
        assert_eq!(
            of("application/graphql-response+json;q=0, application/json;q=0").json,
            None
        );
    }

    #[test]
    fn streams_only_when_preferred_or_for_subscriptions() {
        let urql = of(
            "application/graphql-response+json, application/graphql+json, \
                       application/json, text/event-stream, multipart/mixed",
        );
        assert!(!urql.stream(false) && urql.stream(true));
        let low = of("application/json, text/event-stream;q=0.1");
        assert!(!low.stream(false) && low.stream(true));
        let zero = of("application/json, text/event-stream;q=0");
        assert!(!zero.stream(false) && !zero.stream(true) && !zero.may_stream());
        let only = of("text/event-stream");
        assert!(only.stream(false) && only.stream(true) && only.json.is_none());
        let preferred = of("text/event-stream, application/json;q=0.5");
        assert!(preferred.stream(false));
        let any = of("*/*");
        assert!(!any.stream(true) && !of("text/*").stream(true));
    }

    #[test]
    fn unsupported_types_alone_are_nothing() {
        assert!(of("multipart/mixed").nothing());
        assert!(of("text/html").nothing());
        assert!(of("application/xml, text/plain;q=0.5").nothing());
        assert!(!of("multipart/mixed, */*;q=0.1").nothing());
        // Garbage is no header at all.
        assert!(!of("garbage").nothing());
        assert!(!of("application/json;q=2").nothing());
    }

    #[test]
    fn html_only_when_named() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "text/html,application/xhtml+xml,*/*;q=0.8"
                .parse()
                .expect("header"),
        );
        assert!(wants_html(&headers));
        headers.insert(header::ACCEPT, "*/*".parse().expect("header"));
        assert!(!wants_html(&headers));
        headers.insert(header::ACCEPT, "text/html;q=0".parse().expect("header"));
        assert!(!wants_html(&headers));
    }
}

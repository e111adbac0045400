//! Files embedded in the binary and served to browsers (the dashboard, GraphiQL): their content
//! types, ETags from their content, how long a browser keeps them, and the headers that keep a
//! page to this origin.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

pub const HTML: &str = "text/html; charset=utf-8";
pub const JS: &str = "text/javascript; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";

/// One embedded file.
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// Embedded files with their ETags, hashed once.
pub struct Tagged(Vec<(&'static Asset, HeaderValue)>);

impl Tagged {
    pub fn new(assets: impl IntoIterator<Item = &'static Asset>) -> Tagged {
        Tagged(assets.into_iter().map(|a| (a, etag(a.body))).collect())
    }

    /// The file served at `path`, and its ETag.
    pub fn find(&self, path: &str) -> Option<(&'static Asset, &HeaderValue)> {
        self.0
            .iter()
            .find_map(|(asset, tag)| (asset.path == path).then_some((*asset, tag)))
    }
}

/// A strong ETag from the content, so a new build never serves a stale file and an unchanged
/// one costs a 304.
pub fn etag(body: &str) -> HeaderValue {
    let digest = Sha256::digest(body.as_bytes());
    HeaderValue::try_from(format!("\"{}\"", hex::encode(&digest[..16])))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether `If-None-Match` values name `tag` (compared weakly, as RFC 9110 13.1.2 asks) or are
/// `*`: the client's copy is current.
pub fn none_match<'a>(values: impl IntoIterator<Item = &'a HeaderValue>, tag: &str) -> bool {
    values
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.trim_start_matches("W/") == tag)
}

/// How long a browser keeps a file.
#[derive(Debug, Clone, Copy)]
pub enum Caching {
    /// Asked for again every time: cheap with the ETag, and an upgrade is seen at once.
    Revalidate,
    /// Kept for a year without asking: its URL names its content, so a new build has new URLs.
    Immutable,
}

/// `asset` (or 304 when the browser already has this version), under `policy`.
pub fn respond(
    asset: &Asset,
    tag: &HeaderValue,
    caching: Caching,
    policy: &'static str,
    request: &HeaderMap,
) -> Response {
    let fresh = none_match(
        request.get_all(header::IF_NONE_MATCH),
        tag.to_str().unwrap_or(""),
    );
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    let cache = match caching {
        Caching::Revalidate => "no-cache",
        Caching::Immutable => "public, max-age=31536000, immutable",
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, tag.clone());
    secure(headers, policy, request);
    response
}

/// 404 for a file that is not embedded, with the same headers as one that is.
pub fn not_found(policy: &'static str, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NOT_FOUND.into_response();
    secure(response.headers_mut(), policy, request);
    response
}

fn secure(headers: &mut HeaderMap, policy: &'static str, request: &HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(policy, request),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// `policy`, whose `connect-src 'self'` covers same-origin WebSockets in current browsers;
/// older ones need the `ws:`/`wss:` origin spelt out, so it is added when the `Host` header is
/// a plain host name.
fn content_security_policy(policy: &'static str, request: &HeaderMap) -> HeaderValue {
    const SELF: &str = "connect-src 'self'";
    let host = request
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plain_host(h));
    host.filter(|_| policy.contains(SELF))
        .and_then(|host| {
            let spelt = format!("{SELF} ws://{host} wss://{host}");
            HeaderValue::try_from(policy.replacen(SELF, &spelt, 1)).ok()
        })
        .unwrap_or_else(|| HeaderValue::from_static(policy))
}

/// `name`, `name:port`, `1.2.3.4:port` or `[::1]:port`: nothing that could end the directive.
fn plain_host(host: &str) -> bool {
    (1..=255).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_hosts_reach_the_policy() {
        assert!(plain_host("127.0.0.1:8080"));
        assert!(plain_host("[::1]:8080"));
        assert!(plain_host("pubgate.example"));
        assert!(!plain_host("evil; script-src *"));
        assert!(!plain_host(""));
    }

    #[test]
    fn the_socket_origin_joins_connect_src() {
        let policy = "default-src 'none'; connect-src 'self'; base-uri 'none'";
        let mut request = HeaderMap::new();
        assert_eq!(content_security_policy(policy, &request), policy);
        request.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            content_security_policy(policy, &request),
            "default-src 'none'; connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080; \
             base-uri 'none'"
        );
        request.insert(header::HOST, HeaderValue::from_static("a; script-src *"));
        assert_eq!(content_security_policy(policy, &request), policy);
    }
}

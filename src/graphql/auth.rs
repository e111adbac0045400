//! Who may read the GraphQL API, on every transport: API tokens, and which browser pages may
//! open a stream (WebSocket, SSE) at all.

use crate::config::Config;
use crate::error::ApiError;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// True when no token is configured or the request carries one of them.
pub fn authorised(config: &Config, headers: &HeaderMap) -> bool {
    if config.api_tokens.is_empty() {
        return true;
    }
    token_matches(&config.api_tokens, bearer(headers).unwrap_or_default())
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// The token of an `Authorization` value `Bearer <token>` (the scheme in any case, RFC 9110
/// 11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Constant-time comparison against every configured token. Both sides are hashed first, so
/// neither the time taken nor an early length mismatch tells an attacker anything about a
/// token's length or content.
pub fn token_matches(tokens: &[String], given: &str) -> bool {
    use sha2::{Digest, Sha256};
    let given = Sha256::digest(given.as_bytes());
    let mut ok = subtle::Choice::from(0u8);
    for token in tokens {
        ok |= Sha256::digest(token.as_bytes()).ct_eq(&given);
    }
    ok.into()
}

/// True when the page a request comes from may open a stream here: no `Origin` (not a
/// browser: servers and CLIs send none), this gateway's own origin (the authority in `Host`),
/// or an origin `--cors-origin` allows. Browsers send WebSocket upgrades cross-site without
/// any CORS check, so without this any page open in the same browser could subscribe.
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    let listed = config.cors_origins.iter().any(|allowed| {
        allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin)
    });
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    listed || host.is_some_and(|host| same_origin(origin, host))
}

/// The answer to a stream opened from a page this gateway does not trust: 403, and the
/// connection is closed (it was offered for another protocol).
pub fn foreign_origin() -> axum::response::Response {
    let mut response = ApiError::response_with(
        axum::http::StatusCode::FORBIDDEN,
        ApiError::Forbidden(
            "this page's Origin may not open streams here; allow it with --cors-origin".into(),
        ),
    );
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// True when `origin` (`scheme://authority`) names the authority `host`, default ports aside.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let bare = |a: &str| {
        a.strip_suffix(default_port)
            .unwrap_or(a)
            .to_ascii_lowercase()
    };
    bare(authority) == bare(host)
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn same_origin_is_scheme_host_and_port() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("http://LocalHost", "localhost:80"));
        assert!(same_origin("https://shop.example", "shop.example"));
        assert!(!same_origin("http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:8080"));
        assert!(!same_origin("null", "127.0.0.1:8080"));
        assert!(!same_origin("file://", "127.0.0.1:8080"));
    }
}

//! API tokens: who may read the GraphQL API, on every transport.

use crate::config::Config;
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

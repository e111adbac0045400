//! The dashboard: a hand-written page and its ES modules, embedded in the binary and served at
//! `/` and `/dashboard` under a strict Content-Security-Policy. The page holds no data and needs
//! no token; it reads everything through the public GraphQL API, like any other client.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One embedded file of the dashboard.
pub struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page itself (served at `/` and at `/dashboard`).
pub const PAGE: Asset = Asset {
    path: "/dashboard",
    content_type: HTML,
    body: include_str!("index.html"),
};

/// The files the page loads.
pub const ASSETS: [Asset; 9] = [
    Asset {
        path: "/dashboard/app.css",
        content_type: CSS,
        body: include_str!("app.css"),
    },
    Asset {
        path: "/dashboard/app.js",
        content_type: JS,
        body: include_str!("app.js"),
    },
    Asset {
        path: "/dashboard/api.js",
        content_type: JS,
        body: include_str!("api.js"),
    },
    Asset {
        path: "/dashboard/feed.js",
        content_type: JS,
        body: include_str!("feed.js"),
    },
    Asset {
        path: "/dashboard/stats.js",
        content_type: JS,
        body: include_str!("stats.js"),
    },
    Asset {
        path: "/dashboard/chart.js",
        content_type: JS,
        body: include_str!("chart.js"),
    },
    Asset {
        path: "/dashboard/format.js",
        content_type: JS,
        body: include_str!("format.js"),
    },
    Asset {
        path: "/dashboard/documents.js",
        content_type: JS,
        body: include_str!("documents.js"),
    },
    Asset {
        path: "/dashboard/search.js",
        content_type: JS,
        body: include_str!("search.js"),
    },
];

/// The dashboard's routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard", get(page))
        // Relative, so it also works behind a path prefix; the page's own URLs are relative to
        // `/dashboard`, not to `/dashboard/`.
        .route(
            "/dashboard/",
            get(|| async { axum::response::Redirect::permanent("../dashboard") }),
        )
        .route("/dashboard/{file}", get(file))
}

async fn page(headers: HeaderMap) -> Response {
    respond(&PAGE, &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("/dashboard/{name}");
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => respond(asset, &headers),
        None => (StatusCode::NOT_FOUND, [security_headers(&headers)]).into_response(),
    }
}

/// ETags from the content, so a new build never serves a stale file and an unchanged one
/// costs a 304.
static ETAGS: LazyLock<Vec<(&'static str, HeaderValue)>> = LazyLock::new(|| {
    std::iter::once(&PAGE)
        .chain(ASSETS.iter())
        .filter_map(|a| {
            let digest = Sha256::digest(a.body.as_bytes());
            let tag = format!("\"{}\"", hex::encode(&digest[..16]));
            HeaderValue::from_str(&tag).ok().map(|v| (a.path, v))
        })
        .collect()
});

fn etag(asset: &Asset) -> Option<&'static HeaderValue> {
    ETAGS
        .iter()
        .find_map(|(path, tag)| (*path == asset.path).then_some(tag))
}

fn respond(asset: &Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset);
    let fresh = tag.is_some_and(|tag| {
        request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim() == "*" || v.trim().trim_start_matches("W/") == tag)
    });
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
    // Revalidate every time: cheap with the ETag, and an upgrade is seen at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(tag) = tag {
        headers.insert(header::ETAG, tag.clone());
    }
    let (name, value) = security_headers(request);
    headers.insert(name, value);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The Content-Security-Policy: this origin only, nothing inline, no frames. `'self'` covers
/// same-origin WebSockets in current browsers; older ones need the `ws:`/`wss:` origin spelt
/// out, so it is added when the `Host` header is a plain host name.
fn security_headers(request: &HeaderMap) -> (header::HeaderName, HeaderValue) {
    let host = request
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plain_host(h));
    let connect = match host {
        Some(host) => format!("'self' ws://{host} wss://{host}"),
        None => "'self'".to_owned(),
    };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let value = HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'")
    });
    (header::CONTENT_SECURITY_POLICY, value)
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
    fn every_asset_has_its_own_path_and_etag() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.push(PAGE.path);
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len() + 1, "two assets share a path");
        for asset in std::iter::once(&PAGE).chain(ASSETS.iter()) {
            assert!(etag(asset).is_some(), "{} has no ETag", asset.path);
        }
    }

    #[test]
    fn only_plain_hosts_reach_the_policy() {
        assert!(plain_host("127.0.0.1:8080"));
        assert!(plain_host("[::1]:8080"));
        assert!(plain_host("pubgate.example"));
        assert!(!plain_host("evil; script-src *"));
        assert!(!plain_host(""));
    }
}

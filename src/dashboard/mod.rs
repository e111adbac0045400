//! The dashboard: a hand-written page and its ES modules, embedded in the binary and served at
//! `/` and `/dashboard` under a strict Content-Security-Policy. The page holds no data and needs
//! no token; it reads everything through the public GraphQL API, like any other client.

use crate::assets::{self, Asset, CSS, Caching, HTML, JS, Tagged};
use axum::{Router, extract::Path, http::HeaderMap, response::Response, routing::get};
use std::sync::LazyLock;

/// The page itself (served at `/` and at `/dashboard`).
pub static PAGE: Asset = Asset {
    path: "/dashboard",
    content_type: HTML,
    body: include_str!("index.html"),
};

/// The files the page loads.
pub static ASSETS: [Asset; 9] = [
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

/// The GraphQL documents the page sends, by name (`documents.json`, printed from `documents.js`
/// by `tests/fixtures/dashboard-documents.mjs`; the client tests fail when it is out of date).
pub fn documents() -> Vec<(String, String)> {
    let all: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("documents.json")).unwrap_or_default();
    all.into_iter()
        .filter_map(|(name, text)| Some((name, text.as_str()?.to_owned())))
        .collect()
}

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

/// This origin only, nothing inline, no frames.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

static TAGGED: LazyLock<Tagged> =
    LazyLock::new(|| Tagged::new(std::iter::once(&PAGE).chain(&ASSETS)));

async fn page(headers: HeaderMap) -> Response {
    serve(PAGE.path, &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("/dashboard/{name}"), &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    match TAGGED.find(path) {
        Some((asset, tag)) => assets::respond(asset, tag, Caching::Revalidate, POLICY, headers),
        None => assets::not_found(POLICY, headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_own_path() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.push(PAGE.path);
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len() + 1, "two assets share a path");
        for asset in std::iter::once(&PAGE).chain(&ASSETS) {
            assert!(
                TAGGED.find(asset.path).is_some(),
                "{} is not served",
                asset.path
            );
        }
    }
}

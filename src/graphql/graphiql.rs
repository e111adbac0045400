//! GraphiQL, served from the binary: a small page of our own at `/graphql` (for browsers) and
//! its files at `/graphql/ide/<version>/<name>`. GraphiQL and React come from `vendor/graphiql`,
//! pinned by its `update.sh`, so the IDE works offline and nothing is fetched from another host.
//! Like the dashboard, the page and its files hold no data and need no token; the queries it
//! sends do, and carry one typed into its Headers editor.

use crate::assets::{self, Asset, CSS, Caching, HTML, JS, Tagged};
use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue},
    response::Response,
};
use std::sync::LazyLock;

/// Where the page finds its files: `graphql/ide/<version>/<name>`, the version from the content.
/// Relative to the page (`/graphql`), so it also works behind a path prefix.
const DIR: &str = "graphql/ide";

/// The files the page loads, by name.
static FILES: [Asset; 6] = [
    Asset {
        path: "react.production.min.js",
        content_type: JS,
        body: include_str!("../../vendor/graphiql/react.production.min.js"),
    },
    Asset {
        path: "react-dom.production.min.js",
        content_type: JS,
        body: include_str!("../../vendor/graphiql/react-dom.production.min.js"),
    },
    Asset {
        path: "graphiql.min.js",
        content_type: JS,
        body: include_str!("../../vendor/graphiql/graphiql.min.js"),
    },
    Asset {
        path: "graphiql.min.css",
        content_type: CSS,
        body: include_str!("../../vendor/graphiql/graphiql.min.css"),
    },
    Asset {
        path: "page.css",
        content_type: CSS,
        body: include_str!("graphiql/page.css"),
    },
    Asset {
        path: "init.js",
        content_type: JS,
        body: include_str!("graphiql/init.js"),
    },
];

/// GraphiQL's fonts and icons are `data:` URLs inside its CSS, hence `data:` for fonts and
/// images. Styles also allow `'unsafe-inline'` because GraphiQL's dialogs (settings, keyboard
/// shortcuts; Radix UI's) lock the page's scrolling by inserting a `<style>` element, which
/// `style-src 'self'` refuses. Its contents vary with the scrollbar's width, so no hash would
/// do. Scripts stay `'self'` only: no inline script, no `eval`.
const POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Ide {
    /// The page, its references to `FILES` carrying their versions.
    page: Asset,
    page_tag: HeaderValue,
    files: Tagged,
}

static IDE: LazyLock<Ide> = LazyLock::new(|| {
    let files = Tagged::new(&FILES);
    let mut page = include_str!("graphiql/index.html").to_owned();
    for file in &FILES {
        if let Some((_, tag)) = files.find(file.path) {
            let name = format!("\"{DIR}/{}\"", file.path);
            let versioned = format!("\"{DIR}/{}/{}\"", version(tag), file.path);
            page = page.replace(&name, &versioned);
        }
    }
    Ide {
        page_tag: assets::etag(&page),
        page: Asset {
            path: "/graphql",
            content_type: HTML,
            // Built once, for as long as the process runs.
            body: page.leak(),
        },
        files,
    }
});

/// The URL segment naming one version of a file: its ETag, unquoted.
fn version(tag: &HeaderValue) -> &str {
    tag.to_str().unwrap_or_default().trim_matches('"')
}

/// The page, for a browser's `GET /graphql`. It is asked for again on every visit (it is the
/// one that names the current files), which the ETag makes cheap.
pub(super) fn page(request: &HeaderMap) -> Response {
    assets::respond(
        &IDE.page,
        &IDE.page_tag,
        Caching::Revalidate,
        POLICY,
        request,
    )
}

/// One of the page's files, kept by the browser for good: a new build names new versions.
/// Another version than this build's is not served (the page that asked for it is stale).
pub(super) async fn file(
    Path((wanted, name)): Path<(String, String)>,
    request: HeaderMap,
) -> Response {
    match IDE.files.find(&name) {
        Some((asset, tag)) if version(tag) == wanted => {
            assets::respond(asset, tag, Caching::Immutable, POLICY, &request)
        }
        _ => assets::not_found(POLICY, &request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_file_at_its_version_and_nothing_else() {
        let page = IDE.page.body;
        for file in &FILES {
            let (_, tag) = IDE.files.find(file.path).expect("served");
            let url = format!("\"{DIR}/{}/{}\"", version(tag), file.path);
            assert_eq!(page.matches(&url).count(), 1, "{url} in {page}");
        }
        assert_eq!(page.matches(DIR).count(), FILES.len(), "{page}");
        assert!(
            !page.contains("<script>") && !page.contains("style="),
            "{page}"
        );
    }

    #[test]
    fn the_policy_is_a_header_value() {
        assert!(HeaderValue::from_str(POLICY).is_ok());
    }
}

//! The embedded dashboard: served at `/` and `/dashboard` with strict headers, every asset with
//! its content type and a revalidating ETag, nothing loaded from elsewhere, no token needed for
//! the page while the API keeps asking for one.

use crate::helpers::*;
use pubgate::dashboard::{ASSETS, PAGE};
use reqwest::{StatusCode, header};

async fn app_with(adjust: impl FnOnce(&mut pubgate::Config)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, adjust)
        .await
        .expect("SQLite is always available")
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("the gateway answers")
}

/// The headers every dashboard response carries.
fn assert_strict(response: &reqwest::Response) {
    let policy = header_of(response, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(!policy.contains('*'), "{policy}");
    assert_eq!(
        header_of(response, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert_eq!(header_of(response, header::CACHE_CONTROL), "no-cache");
    assert!(header_of(response, header::ETAG).starts_with('"'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_at_the_root_and_at_dashboard() {
    let app = app_with(|_| {}).await;
    for path in ["/", "/dashboard"] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_strict(&response);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        let policy = header_of(&response, header::CONTENT_SECURITY_POLICY).to_owned();
        // Same-origin WebSockets, spelt out for browsers whose 'self' does not cover them.
        assert!(
            policy.contains(&format!("ws://{}", app.addr)),
            "{policy} does not allow this origin's WebSocket"
        );
        let body = response.text().await.expect("body");
        assert_eq!(body, PAGE.body, "{path}");
        assert!(body.contains(r#"<script type="module" src="dashboard/app.js">"#));
    }
    // With a trailing slash the page's relative URLs would point elsewhere: redirected.
    let response = get(&app, "/dashboard/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), "/dashboard");
    assert_eq!(response.text().await.expect("body"), PAGE.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_have_their_content_types_and_revalidate_by_etag() {
    let app = app_with(|_| {}).await;
    for asset in ASSETS.iter() {
        let response = get(&app, asset.path).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
        assert_strict(&response);
        let want = if asset.path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header_of(&response, header::CONTENT_TYPE), want);
        let etag = header_of(&response, header::ETAG).to_owned();
        assert_eq!(response.text().await.expect("body"), asset.body);

        let again = app
            .client
            .get(app.url(asset.path))
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .expect("answers");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{}", asset.path);
        assert_eq!(header_of(&again, header::ETAG), etag);
        assert!(again.text().await.expect("body").is_empty());

        let changed = app
            .client
            .get(app.url(asset.path))
            .header(header::IF_NONE_MATCH, "\"an-older-build\"")
            .send()
            .await
            .expect("answers");
        assert_eq!(changed.status(), StatusCode::OK, "{}", asset.path);
    }
    let missing = get(&app, "/dashboard/missing.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Every file the page references is one the binary serves, and none points elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_loaded_from_elsewhere() {
    let app = app_with(|_| {}).await;
    for asset in std::iter::once(&PAGE).chain(ASSETS.iter()) {
        let body = get(&app, asset.path)
            .await
            .text()
            .await
            .expect("body")
            .to_lowercase();
        for external in ["http://", "https://", "//cdn"] {
            assert!(
                !body.contains(external),
                "{} mentions {external}",
                asset.path
            );
        }
        if asset.path.ends_with(".css") {
            assert!(!body.contains("url(") && !body.contains("@import"));
        }
        for reference in references(&body) {
            let path = format!("/dashboard/{}", reference.trim_start_matches("dashboard/"));
            let response = get(&app, &path).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{} refers to {reference}, which is not served",
                asset.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_page_loads_but_the_api_asks_for_it() {
    let app = app_with(|c| c.api_tokens = vec!["dashboard-token".into()]).await;
    for path in std::iter::once(PAGE.path)
        .chain(["/"])
        .chain(ASSETS.iter().map(|a| a.path))
    {
        assert_eq!(get(&app, path).await.status(), StatusCode::OK, "{path}");
    }
    app.assert_graphql_needs("dashboard-token").await;
}

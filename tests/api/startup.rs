//! Safe start-up, health and readiness, the schema artifact, GraphiQL (served from the binary,
//! under a strict Content-Security-Policy, nothing loaded from another host).

use crate::helpers::*;
use pubgate::{App, Config};
use std::process::Command;

#[tokio::test]
async fn non_loopback_without_secret_or_token_is_refused() {
    let test_db = TestDb::create(Backend::Sqlite).await.expect("sqlite");
    let config = Config::new("0.0.0.0:0".parse().expect("addr"), test_db.url.clone());
    let err = App::build(config).await.err().expect("refused").to_string();
    assert!(err.contains("--webhook-secret"), "{err}");
    // The binary says the same and exits non-zero.
    let output = Command::new(env!("CARGO_BIN_EXE_pubgate"))
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--webhook-secret",
            "s",
            "--database-url",
            &test_db.url,
        ])
        .env_remove("PUBGATE_API_TOKENS")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--api-token") && stderr.contains("--allow-anonymous-read"),
        "{stderr}"
    );
}

/// The binary's own words for a database it cannot open: where, and why, at once.
fn serve_error(database_url: &str, listen: &str) -> (String, std::time::Duration) {
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_pubgate"))
        .args(["serve", "--listen", listen, "--database-url", database_url])
        .env_remove("PUBGATE_API_TOKENS")
        .env_remove("PUBGATE_WEBHOOK_SECRETS")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (stderr, started.elapsed())
}

#[test]
fn a_refusing_postgres_is_named_at_once() {
    // Nothing listens on port 1: the connection is refused.
    let (stderr, took) = serve_error("postgres://postgres@127.0.0.1:1/shop", "localhost:0");
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1/shop")
            && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("Custom Error"), "{stderr}");
    // Into a pipe, log lines carry no colour codes.
    assert!(
        stderr.contains("INFO") && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(2),
        "took {took:?}: {stderr}"
    );
    let (stderr, _) = serve_error("mysql://x@127.0.0.1/shop", "127.0.0.1:0");
    assert!(
        stderr.contains("must start with sqlite: or postgres:"),
        "{stderr}"
    );
    assert!(!stderr.contains("Custom Error"), "{stderr}");
}

#[test]
fn a_missing_postgres_database_is_named() {
    let Some(url) = std::env::var("PUBGATE_TEST_POSTGRES_URL").ok() else {
        eprintln!("skipped: PUBGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let (base, _) = url.rsplit_once('/').expect("a database in the URL");
    let (stderr, _) = serve_error(&format!("{base}/pubgate_no_such_db"), "127.0.0.1:0");
    assert!(
        stderr.contains("/pubgate_no_such_db: the database does not exist"),
        "{stderr}"
    );
}

#[test]
fn an_unopenable_sqlite_file_is_named() {
    let (stderr, _) = serve_error("sqlite:///nonexistent-dir/x/pubgate.db", "127.0.0.1:0");
    assert!(
        stderr.contains("cannot open the SQLite database /nonexistent-dir/x/pubgate.db"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unsigned_webhooks_are_taken_on_loopback_without_a_secret() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| c.webhook_secrets.clear()).await
    else {
        return;
    };
    let (status, _) = app.post_raw(b"{\"To\":\"x\"}".to_vec(), &[]).await;
    assert_eq!(status, 200);
    let answer = app
        .graphql(
            "{ webhookEvents { nodes { signatureVerified } } }",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(
        answer["data"]["webhookEvents"]["nodes"][0]["signatureVerified"],
        false
    );
}

#[tokio::test]
async fn health_readiness_metrics_and_graphiql() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.client.get(app.url(path)).send().await.expect("answer");
        assert_eq!(response.status(), 200, "{path}");
    }
    app.post_webhook(b"{}".to_vec()).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    for name in [
        "pubgate_webhooks_total",
        "pubgate_feed_subscribers",
        "pubgate_sequence_head",
        "pubgate_sql_statements_total",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
    let page = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("answer");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("graphiql"));
    let get = app
        .client
        .get(app.url("/graphql?query=%7BwebhookEvents%7BtotalCount%7D%7D"))
        .send()
        .await
        .expect("answer");
    let json: serde_json::Value = get.json().await.expect("json");
    assert_eq!(json["data"]["webhookEvents"]["totalCount"], 1);
}

/// Hosts named in the vendored GraphiQL and React that a browser never contacts: XML namespace
/// names (`http://www.w3.org/2000/svg`) and documentation links inside error messages and
/// licence headers. A file naming any other host fails, so an update of `vendor/graphiql` that
/// brings one is looked at before it ships.
const NEVER_FETCHED: [&str; 6] = [
    "www.w3.org",
    "github.com",
    "reactjs.org",
    "codemirror.net",
    "commonmark.org",
    "en.wikipedia.org",
];

/// Where pages usually load GraphiQL, React and fonts from; none may be named at all.
const CDNS: [&str; 7] = [
    "unpkg.com",
    "jsdelivr.net",
    "cdnjs.",
    "esm.sh",
    "skypack",
    "googleapis.com",
    "gstatic.com",
];

/// The hosts of the `http://` and `https://` URLs in `body` (a bare scheme, as markdown-it
/// prefixes to links it finds in text, names none).
fn hosts(body: &str) -> Vec<&str> {
    body.match_indices("http")
        .filter_map(|(at, _)| {
            let rest = &body[at..];
            let rest = rest
                .strip_prefix("https://")
                .or_else(|| rest.strip_prefix("http://"))?;
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            Some(&rest[..end]).filter(|host| !host.is_empty())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_from_the_binary_under_a_strict_policy() {
    use reqwest::{StatusCode, header};
    let app = TestApp::spawn_with(Backend::Sqlite, |_| {})
        .await
        .expect("SQLite is always available");
    let page = graphiql_page(&app).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        header_of(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let policy = header_of(&page, header::CONTENT_SECURITY_POLICY).to_owned();
    for directive in [
        "default-src 'none';",
        "script-src 'self';",
        "img-src 'self' data:;",
        "font-src 'self' data:;",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    assert!(
        !policy.contains("unsafe-eval") && !policy.contains('*'),
        "{policy}"
    );
    assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");
    let etag = header_of(&page, header::ETAG).to_owned();
    let page_url = page.url().clone();
    let html = page.text().await.expect("html");
    let again = app
        .client
        .get(app.url("/graphql"))
        .header(header::ACCEPT, "text/html")
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("answer");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The page and the init script are ours: no URL, no CDN, no inline script.
    let lower = html.to_lowercase();
    for word in [
        "http://", "https://", "//cdn", "unpkg", "jsdelivr", "<script>",
    ] {
        assert!(!lower.contains(word), "the page mentions {word}: {html}");
    }
    let files = references(&html);
    assert!(
        files.iter().any(|f| f.ends_with("/graphiql.min.js"))
            && files.iter().any(|f| f.ends_with("/init.js")),
        "{files:?}"
    );
    for file in &files {
        let url = page_url.join(file).expect("a relative URL");
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{file}");
        assert!(url.path().starts_with("/graphql/ide/"), "{file}");
        let response = app.client.get(url.clone()).send().await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let want = if file.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else if file.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            panic!("the page loads {file}, neither a script nor a stylesheet")
        };
        assert_eq!(header_of(&response, header::CONTENT_TYPE), want, "{url}");
        // Each URL names its content, so the browser keeps it without asking again.
        assert!(
            header_of(&response, header::CACHE_CONTROL).contains("immutable"),
            "{url}"
        );
        assert!(
            header_of(&response, header::CONTENT_SECURITY_POLICY).contains("default-src 'none'")
        );
        let body = response.text().await.expect("body");
        assert!(!body.is_empty(), "{url}");
        let lower = body.to_lowercase();
        for cdn in CDNS {
            assert!(!lower.contains(cdn), "{url} names {cdn}");
        }
        for host in hosts(&lower) {
            assert!(NEVER_FETCHED.contains(&host), "{url} names {host}");
        }
        if file.ends_with(".css") {
            assert!(!lower.contains("@import"), "{url} imports a stylesheet");
            for (at, _) in lower.match_indices("url(") {
                let target = lower[at + 4..].trim_start_matches(['"', '\'', ' ']);
                assert!(
                    target.starts_with("data:"),
                    "{url} loads {}",
                    &target[..40.min(target.len())]
                );
            }
        }
        if file.ends_with("/init.js") {
            for word in ["http://", "https://", "cdn", "unpkg", "jsdelivr"] {
                assert!(!lower.contains(word), "init.js mentions {word}");
            }
        }
        // Another build's version of the same file is not served as this one.
        let stale = url
            .as_str()
            .replace("/graphql/ide/", "/graphql/ide/0")
            .to_owned();
        let stale = app.client.get(stale).send().await.expect("answer");
        assert_eq!(stale.status(), StatusCode::NOT_FOUND, "{url}");
    }
}

/// The page and its files hold no data and need no token; what GraphiQL asks does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_loads_without_a_token_its_queries_need_one() {
    use reqwest::StatusCode;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.api_tokens = vec!["ide-token".into()])
        .await
        .expect("SQLite is always available");
    let page = graphiql_page(&app).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page_url = page.url().clone();
    for file in references(&page.text().await.expect("html")) {
        let url = page_url.join(&file).expect("a relative URL");
        let response = app.client.get(url).send().await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "{file}");
    }
    app.assert_graphql_needs("ide-token").await;
}

#[test]
fn schema_graphql_is_the_generated_sdl() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .unwrap_or_default();
    assert!(
        committed == pubgate::graphql::sdl(),
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// With no `sslmode` in the URL, pubgate does not negotiate TLS with a PostgreSQL on loopback
/// (it protects nothing there and costs most of the ingest throughput), though the server
/// offers it: the test's own connection, made with the driver's default, does use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tls_to_postgres_on_loopback_by_default() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    if !app.database_url.contains("127.0.0.1") && !app.database_url.contains("localhost") {
        eprintln!("skipped: PUBGATE_TEST_POSTGRES_URL is not on loopback");
        return;
    }
    let answer = app
        .graphql(
            "{ publications(first: 1) { totalCount } }",
            serde_json::json!({}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let count = |ssl: bool| {
        format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = current_database() AND a.application_name = 'pubgate' \
             AND s.ssl = {ssl}"
        )
    };
    let offered = app
        .scalar("SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl")
        .await;
    if offered == 0 {
        eprintln!("skipped: this PostgreSQL does not offer TLS");
        return;
    }
    assert!(
        app.scalar(&count(false)).await >= 2,
        "pubgate is connected, its pool and its LISTEN connection"
    );
    assert_eq!(app.scalar(&count(true)).await, 0, "and not over TLS");
}

/// `GET /graphql` as a browser asks for it.
async fn graphiql_page(app: &TestApp) -> reqwest::Response {
    app.client
        .get(app.url("/graphql"))
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await
        .expect("answer")
}

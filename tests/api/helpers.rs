//! Test harness: a real `App` on 127.0.0.1:0 over SQLite or PostgreSQL, and the protocols.

use pubgate::{App, Config, webhook::signature};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use tokio::sync::oneshot;

pub const SECRET: &str = "test-webhook-secret";
/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// A database of its own for one test; dropped with it.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database, or `None` (with a notice) when PostgreSQL is not configured.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("pubgate.db");
                Some(TestDb {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    admin_url: None,
                    name: String::new(),
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("PUBGATE_TEST_POSTGRES_URL") else {
                    eprintln!(
                        "skipped: PUBGATE_TEST_POSTGRES_URL is not set (PostgreSQL tests run in CI)"
                    );
                    return None;
                };
                let name = format!("pubgate_test_{:016x}", rand::random::<u64>());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = replace_db_name(&admin_url, &name);
                Some(TestDb {
                    url,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside async; a short-lived runtime on its own thread drops the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// `postgres://host/db?x` with `db` replaced by `name`.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A running gateway and a handle on its database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A separate connection for assertions.
    pub db: DatabaseConnection,
    /// SQL statements the gateway has run.
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    // Held so the server and its database live exactly as long as the test's handle.
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _test_db: Option<TestDb>,
    /// The database URL the gateway uses.
    pub database_url: String,
}

impl TestApp {
    /// A gateway with one webhook secret, on a database of its own.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with the configuration adjusted first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let test_db = TestDb::create(backend).await?;
        let url = test_db.url.clone();
        Some(Self::spawn_on(backend, test_db, &url, adjust).await)
    }

    /// A gateway that reaches the database at `url` (e.g. through a proxy).
    pub async fn spawn_on(
        _backend: Backend,
        test_db: TestDb,
        url: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut app = Self::start(url, &test_db.url, adjust).await;
        app._test_db = Some(test_db);
        app
    }

    /// An instance on the database at `url`, which another test handle owns.
    pub async fn start_on(url: &str) -> TestApp {
        Self::start(url, url, |_| {}).await
    }

    /// Another instance on this one's database (several instances behind a load balancer).
    pub async fn sibling(&self) -> TestApp {
        Self::start(&self.database_url, &self.database_url, |_| {}).await
    }

    /// Like `sibling`, with the configuration adjusted first.
    pub async fn sibling_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(&self.database_url, &self.database_url, adjust).await
    }

    async fn start(url: &str, direct_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), url);
        config.webhook_secrets = vec![SECRET.into()];
        config.db_max_connections = 5;
        adjust(&mut config);
        let app = App::build(config).await.expect("the app builds");
        let addr = app.local_addr();
        let statements = app.state().sql_statements.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(app.serve(async move {
            let _ = stopped.await;
        }));
        let db = Database::connect(direct_url)
            .await
            .expect("assertion connection");
        TestApp {
            addr,
            client: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("client"),
            db,
            statements,
            stop: Some(stop),
            served: Some(served),
            _test_db: None,
            database_url: url.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts `body` signed with the test secret; returns the status and the JSON answer.
    pub async fn post_webhook(&self, body: impl Into<Vec<u8>>) -> (StatusCode, Value) {
        let body = body.into();
        let signature = signature::sign(SECRET.as_bytes(), &body);
        self.post_raw(body, &[("x-voucherify-signature", signature.as_str())])
            .await
    }

    /// Posts `body` with exactly these headers.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/webhooks/voucherify"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status();
        let json = response.json().await.unwrap_or(Value::Null);
        (status, json)
    }

    /// Runs a GraphQL query over HTTP POST; returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let text = self.graphql_text(query, &variables).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a JSON answer ({e}): {text}"))
    }

    /// The same, as the text sent (field order, numbers and escapes as they are).
    pub async fn graphql_text(&self, query: &str, variables: &Value) -> String {
        self.client
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("the gateway answers")
            .text()
            .await
            .expect("a text answer")
    }

    /// GraphQL refuses a query without `token` (401) and answers it with.
    pub async fn assert_graphql_needs(&self, token: &str) {
        let query = json!({"query": "{ publications { totalCount } }"});
        let post = |token: Option<&str>| {
            let request = self.client.post(self.url("/graphql")).json(&query);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
            .send()
        };
        let refused = post(None).await.expect("answers");
        assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
        let allowed = post(Some(token)).await.expect("answers");
        assert_eq!(allowed.status(), reqwest::StatusCode::OK);
    }

    /// Posts many deliveries, 16 at a time; each must be acknowledged.
    pub async fn post_all(&self, bodies: Vec<Vec<u8>>) {
        use futures::StreamExt;
        let answers: Vec<_> = futures::stream::iter(bodies)
            .map(|body| self.post_webhook(body))
            .buffer_unordered(16)
            .collect()
            .await;
        for (status, answer) in answers {
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    }

    /// Starts a graceful shutdown and waits (bounded) until the server has stopped.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(WAIT, served)
                .await
                .expect("the server stops in time")
                .expect("the server task")
                .expect("the server");
        }
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// The first column of the first row of `sql`, as an integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }

    /// Moves every change to the assignment counts that batches appended into the kept counts
    /// now, as the gateway's folder does a moment after each commit: for tests that read the
    /// kept counts' tables themselves.
    pub async fn fold_counts(&self) {
        pubgate::store::stats::fold(&self.db).await.expect("fold");
    }

    /// The first column of every row of `sql`, as text (NULL as `None`).
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        let backend = self.db.get_database_backend();
        self.db
            .query_all_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .expect("query")
            .into_iter()
            .map(|row| row.try_get_by_index::<Option<String>>(0).expect("text"))
            .collect()
    }

    /// Runs `sql` on the test's own connection (behind the gateway's back).
    pub async fn execute(&self, sql: &str) {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the first row of `sql`, as text.
    pub async fn text(&self, sql: &str) -> Option<String> {
        self.texts(sql).await.into_iter().next().flatten()
    }
}

/// A fixture file's bytes.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

/// A fixture file parsed as JSON.
pub fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture is JSON")
}

/// The documented `data` of `event_type`, wrapped in a v2024-01-01 distribution envelope.
pub fn envelope(event_type: &str, event_id: &str) -> Value {
    let data = fixture_json(&format!("data/{event_type}.data.openapi-events.json"));
    wrap(event_type, event_id, data)
}

/// `data` in a v2024-01-01 distribution envelope.
pub fn wrap(event_type: &str, event_id: &str, data: Value) -> Value {
    json!({
        "id": format!("whs_{event_id}"),
        "project_id": "proj_test",
        "created_at": "2024-03-13T13:45:59.600Z",
        "type": "Test-webhook",
        "data": data,
        "source": {"id": "distr_test", "object": "distribution", "target_url": "http://127.0.0.1/"},
        "event": {"id": event_id, "type": event_type, "created_at": "2024-03-13T13:45:59.492Z",
                  "entity_id": "x", "group_id": "g", "event_source": {"channel": "API"}},
    })
}

/// JSON as compact bytes.
pub fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialise")
}

/// The value of the header `name`, which `response` must have.
pub fn header_of(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("{} has no {name} header", response.url()))
        .to_str()
        .expect("a text header")
}

/// The local files `body` loads: `src="…"`/`href="…"` (not `data:` or `#…`) and module imports.
pub fn references(body: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"", "href=\"", "from './"] {
        for (start, _) in body.match_indices(marker) {
            let rest = &body[start + marker.len()..];
            let end = rest.find(['"', '\'']).unwrap_or(rest.len());
            let target = &rest[..end];
            if !(target.starts_with("data:") || target.starts_with('#')) {
                found.push(target.to_owned());
            }
        }
    }
    found
}

//! The query cache: a repeated query is answered without executing it again while nothing new
//! is committed, and never with a stale answer: every request checks the committed head first,
//! so a delivery committed on any instance is in the very next answer.

use crate::helpers::*;
use crate::security::metric;
use crate::subscriptions::assignment;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

// Two statements when it executes: the page with what it refers to, and the categories.
const LATEST: &str = "{ publications(first: 50) { totalCount nodes { id customer { id } \
                      voucher { code categories { name } } } } }";

const HITS: &str = r#"pubgate_query_cache_total{result="hit"}"#;
const MISSES: &str = r#"pubgate_query_cache_total{result="miss"}"#;

fn statements(app: &TestApp) -> u64 {
    app.statements.load(std::sync::atomic::Ordering::SeqCst)
}

fn ids(answer: &Value) -> Vec<String> {
    answer["data"]["publications"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The raw bytes of a POSTed query's answer, and its content type.
async fn raw(app: &TestApp, query: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    (response.text().await.expect("text"), content_type)
}

async fn repeated_queries_are_answered_from_the_cache_until_a_commit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let first = raw(&app, LATEST).await;
    let before = statements(&app);
    let second = raw(&app, LATEST).await;
    assert_eq!(first, second, "the same bytes and content type");
    assert_eq!(first.1, "application/graphql-response+json");
    assert_eq!(
        statements(&app) - before,
        1,
        "a hit runs only the head check"
    );
    assert_eq!(metric(&app, HITS).await, 1.0);
    assert_eq!(metric(&app, MISSES).await, 1.0);

    // A commit moves the head: the next answer is computed again and holds the new row.
    assert_eq!(app.post_webhook(assignment(2)).await.0, 200);
    let after = app.graphql(LATEST, json!({})).await;
    assert_eq!(ids(&after), ["pub_00002", "pub_00001"]);
    assert_eq!(metric(&app, MISSES).await, 2.0);
    // A duplicate delivery commits nothing new, so the answer stays cached.
    assert_eq!(app.post_webhook(assignment(2)).await.0, 200);
    assert_eq!(ids(&app.graphql(LATEST, json!({})).await).len(), 2);
    assert_eq!(metric(&app, HITS).await, 2.0);
}

async fn a_commit_on_another_instance_is_in_the_next_answer(backend: Backend) {
    let Some(a) = TestApp::spawn(backend).await else {
        return;
    };
    let b = a.sibling().await;
    assert_eq!(a.post_webhook(assignment(1)).await.0, 200);
    for _ in 0..3 {
        assert_eq!(ids(&b.graphql(LATEST, json!({})).await), ["pub_00001"]);
    }
    assert_eq!(metric(&b, HITS).await, 2.0, "b answers from its cache");
    for n in 2..6 {
        // Acknowledged by a, so committed: b's very next answer must show it.
        assert_eq!(a.post_webhook(assignment(n)).await.0, 200);
        let seen = ids(&b.graphql(LATEST, json!({})).await);
        assert_eq!(seen.len(), n, "{seen:?}");
        assert_eq!(seen[0], format!("pub_{n:05}"));
    }
}

async fn errors_and_variables_are_not_mixed_up(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    assert_eq!(app.post_webhook(assignment(2)).await.0, 200);
    let query = "query($n: Int) { publications(first: $n) { nodes { id } } }";
    for _ in 0..2 {
        assert_eq!(ids(&app.graphql(query, json!({"n": 1})).await).len(), 1);
        assert_eq!(ids(&app.graphql(query, json!({"n": 2})).await).len(), 2);
    }
    // An answer with errors is never kept: each is computed again.
    let bad = "{ publications(first: 100000) { nodes { id } } }";
    let hits = metric(&app, HITS).await;
    for _ in 0..2 {
        let answer = app.graphql(bad, json!({})).await;
        assert!(answer["errors"].is_array(), "{answer}");
    }
    assert_eq!(metric(&app, HITS).await, hits);
}

async fn the_token_is_checked_before_the_cache(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.api_tokens = vec!["t0ken".into()]).await
    else {
        return;
    };
    let ask = |token: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({"query": LATEST}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for _ in 0..2 {
        assert_eq!(ask(Some("t0ken")).await.expect("answers").status(), 200);
    }
    assert_eq!(metric(&app, HITS).await, 1.0);
    assert_eq!(ask(None).await.expect("answers").status(), 401);
    assert_eq!(ask(Some("wrong")).await.expect("answers").status(), 401);
}

async fn get_requests_are_cached_too(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let get = || async {
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", LATEST)])
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.expect("JSON")
    };
    assert_eq!(ids(&get().await), ["pub_00001"]);
    assert_eq!(ids(&get().await), ["pub_00001"]);
    assert_eq!(metric(&app, HITS).await, 1.0);
    // The same document POSTed is another request (its own entry), answered alike.
    assert_eq!(ids(&app.graphql(LATEST, json!({})).await), ["pub_00001"]);
    assert_eq!(metric(&app, MISSES).await, 2.0);
    assert_eq!(app.post_webhook(assignment(2)).await.0, 200);
    assert_eq!(ids(&get().await).len(), 2);
}

async fn a_zero_sized_cache_is_off(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let before = statements(&app);
    for _ in 0..3 {
        assert_eq!(ids(&app.graphql(LATEST, json!({})).await).len(), 1);
    }
    assert!(statements(&app) - before >= 6, "executed each time");
    assert_eq!(metric(&app, HITS).await, 0.0);
    assert_eq!(metric(&app, MISSES).await, 0.0);
}

async fn identical_misses_at_one_head_execute_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let before = statements(&app);
    assert_eq!(ids(&app.graphql(LATEST, json!({})).await).len(), 1);
    let one_execution = statements(&app) - before - 1; // less the head check
    assert!(one_execution >= 2, "{one_execution}");
    for round in 2..5 {
        assert_eq!(app.post_webhook(assignment(round)).await.0, 200);
        let before = statements(&app);
        let answers =
            futures::future::join_all((0..16).map(|_| app.graphql(LATEST, json!({})))).await;
        for answer in &answers {
            assert_eq!(ids(answer).len(), round, "{answer}");
        }
        assert_eq!(
            statements(&app) - before,
            16 + one_execution,
            "sixteen head checks and one execution"
        );
    }
    assert_eq!(metric(&app, MISSES).await, 4.0);
    assert_eq!(metric(&app, HITS).await, 45.0);
}

crate::on_both!(
    identical_misses_at_one_head_execute_once,
    repeated_queries_are_answered_from_the_cache_until_a_commit,
    a_commit_on_another_instance_is_in_the_next_answer,
    errors_and_variables_are_not_mixed_up,
    the_token_is_checked_before_the_cache,
    get_requests_are_cached_too,
    a_zero_sized_cache_is_off,
);

/// When the request executing for identical waiting ones is cancelled (its client went away),
/// one of the waiting requests takes over and the rest wait for it: one more execution, not one
/// each. The leader is held mid-execution by a table lock (PostgreSQL), its waiters gathered,
/// then its client disconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_is_replaced_by_one_waiting_request() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    assert_eq!(app.post_webhook(assignment(1)).await.0, 200);
    let before = statements(&app);
    assert_eq!(ids(&app.graphql(LATEST, json!({})).await).len(), 1);
    let one_execution = statements(&app) - before - 1;
    assert_eq!(app.post_webhook(assignment(2)).await.0, 200);
    let lock = app.db.begin().await.expect("transaction");
    lock.execute_unprepared("LOCK TABLE publications IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("locked");
    let before = statements(&app);
    // The leader, on a connection of its own that the test can cut.
    let body = serde_json::to_vec(&json!({"query": LATEST})).expect("json");
    let mut leader = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connects");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut leader, &[head.as_bytes(), &body].concat())
        .await
        .expect("sent");
    // Page reads waiting for the lock: the page read narrowly, its keys first (the feed reads
    // whole rows, in the table's column order). pg_stat_activity cuts long texts, so match
    // their start.
    let blocked = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND application_name = 'pubgate' AND wait_event_type = 'Lock' \
                   AND query LIKE 'SELECT \"publications\".\"id\", \"publications\".\"seq\", \
                   \"publications\".\"created_at\"%'";
    wait_until(|| async { app.scalar(blocked).await == 1 }).await;
    // Fifteen identical requests at the same head: each reads the head, then waits.
    let waiting = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/graphql"));
        async move {
            let ask = || client.post(&url).json(&json!({"query": LATEST})).send();
            futures::future::join_all((0..15).map(|_| ask())).await
        }
    });
    wait_until(|| async { statements(&app) >= before + 16 }).await;
    drop(leader);
    // One of them takes the lead: it executes, and blocks on the lock too (the cancelled
    // leader's statement still waits there: cancelling a request does not cancel its SQL).
    wait_until(|| async { app.scalar(blocked).await >= 2 }).await;
    lock.rollback().await.expect("released");
    let answers = tokio::time::timeout(WAIT, waiting)
        .await
        .expect("answered in time")
        .expect("joined");
    for answer in answers {
        let answer: Value = answer.expect("answers").json().await.expect("json");
        assert_eq!(ids(&answer).len(), 2, "{answer}");
    }
    let executed = statements(&app) - before - 16;
    assert!(
        executed < 2 * one_execution + 1,
        "{executed} statements after the head checks: more than the cancelled leader's and one \
         execution ({one_execution} each)"
    );
}

/// Waits (bounded) until `condition` holds.
async fn wait_until<F: std::future::Future<Output = bool>>(condition: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the condition never held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

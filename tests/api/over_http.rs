//! GraphQL over HTTP as the specification and real clients expect it: the media type and status
//! by `Accept` (q-values honoured), request errors without `data`, one clear line per parse
//! error, the selection order kept byte for byte, and persisted documents (automatic persisted
//! queries, trusted documents) over GET, POST, WebSocket and SSE.

use crate::helpers::*;
use crate::ws_client::{WsClient, sse_events};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const URQL_ACCEPT: &str = "application/graphql-response+json, application/graphql+json, \
                           application/json, text/event-stream, multipart/mixed";

/// One POST with `accept` (none when `None`); the status, the content type and the body text.
async fn post(app: &TestApp, accept: Option<&str>, body: &Value) -> (StatusCode, String, String) {
    let mut request = app.client.post(app.url("/graphql")).json(body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("answers");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.expect("body"))
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn accept_chooses_the_media_type_and_the_status_rules() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let query = json!({"query": "{ __typename }"});
    let subscription = json!({"query": "subscription { voucherAssigned { cursor } }"});
    let graphql_response = "application/graphql-response+json";
    for (accept, body, kind) in [
        (None, &query, graphql_response),
        (Some("application/json"), &query, "application/json"),
        (
            Some("application/json; charset=utf-8"),
            &query,
            "application/json",
        ),
        (Some("*/*"), &query, graphql_response),
        (Some("application/*"), &query, graphql_response),
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            &query,
            "application/json",
        ),
        // A stream accepted, but less than JSON or only as much: a query gets one result.
        (
            Some("application/json, text/event-stream;q=0.1"),
            &query,
            "application/json",
        ),
        (Some(URQL_ACCEPT), &query, graphql_response),
        (
            Some("application/json, text/event-stream;q=0"),
            &subscription,
            "application/json",
        ),
        // Only a named stream is a stream; `*/*` is what every HTTP library sends.
        (Some("*/*"), &subscription, graphql_response),
        (Some(URQL_ACCEPT), &subscription, "text/event-stream"),
        (
            Some("text/event-stream, application/json;q=0.5"),
            &query,
            "text/event-stream",
        ),
    ] {
        let mut request = app.client.post(app.url("/graphql")).json(body);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("answers");
        let got = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            got.starts_with(kind),
            "Accept {accept:?} on {body}: got {got}, wanted {kind}"
        );
        assert_eq!(
            response.headers()["vary"].to_str().expect("ascii"),
            "Accept, Authorization"
        );
        // Streams stay open; only read what is a single result.
        if !kind.starts_with("text/event-stream") {
            assert!(json_of(&response.text().await.expect("body")).is_object());
        }
    }

    // Nothing this endpoint sends is acceptable.
    for accept in [
        "multipart/mixed",
        "text/html",
        "application/xml, text/plain;q=0.5",
    ] {
        let (status, kind, text) = post(&app, Some(accept), &query).await;
        assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{accept}: {text}");
        assert!(kind.starts_with(graphql_response), "{kind}");
        let answer = json_of(&text);
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(answer.get("data").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn request_errors_have_no_data_and_their_status_follows_the_media_type() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let syntax = json!({"query": "{ customers(first: 1 { totalCount } }"});
    let unknown = json!({"query": "{ secrets }"});
    let mutation = json!({"query": "mutation { deleteEverything }"});
    for (accept, status) in [
        (None, StatusCode::BAD_REQUEST),
        (
            Some("application/graphql-response+json"),
            StatusCode::BAD_REQUEST,
        ),
        (Some("application/json"), StatusCode::OK),
    ] {
        for body in [&syntax, &unknown, &mutation] {
            let (got, _, text) = post(&app, accept, body).await;
            assert_eq!(got, status, "{accept:?} {body}: {text}");
            let answer = json_of(&text);
            assert!(answer.get("data").is_none(), "no data entry: {answer}");
            let errors = answer["errors"].as_array().expect("errors");
            assert_eq!(errors.len(), 1, "each error once: {answer}");
            assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT");
        }
    }
    // A parse error is one line, located where it is.
    let (_, _, text) = post(&app, None, &syntax).await;
    let error = &json_of(&text)["errors"][0];
    assert_eq!(
        error["message"],
        "syntax error at line 1, column 22: expected name"
    );
    assert_eq!(error["locations"], json!([{"line": 1, "column": 22}]));

    // A field error is not a request error: 200, with the data that could be had.
    let (status, _, text) = post(
        &app,
        None,
        &json!({"query": "{ publications(after: \"garbage\") { totalCount } }"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer = json_of(&text);
    assert!(answer.get("data").is_some(), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["publications"]));

    // Refusals before GraphQL: no locations (they start at 1:1; 0:0 is no position).
    let tokened = TestApp::spawn_with(Backend::Sqlite, |c| c.api_tokens = vec!["t".into()])
        .await
        .expect("sqlite");
    let (status, kind, text) = post(
        &tokened,
        Some("application/json"),
        &json!({"query": "{ __typename }"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(kind.starts_with("application/json"), "{kind}");
    let answer = json_of(&text);
    assert!(answer["errors"][0].get("locations").is_none(), "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
}

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_reason() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let body = r#"{"query": "{ __typename }"}"#;
    let form = "query=%7B__typename%7D";
    for (content_type, body, status, says) in [
        (
            None,
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/json",
        ),
        (
            Some("text/plain"),
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            form,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "x-www-form-urlencoded",
        ),
        (
            Some("application/json; charset=latin1"),
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "latin1",
        ),
        (
            Some("application/json"),
            "{}",
            StatusCode::BAD_REQUEST,
            "no `query`",
        ),
    ] {
        let mut request = app.client.post(app.url("/graphql")).body(body);
        if let Some(kind) = content_type {
            request = request.header("content-type", kind);
        }
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), status, "{content_type:?}");
        let answer: Value = response.json().await.expect("json");
        let message = answer["errors"][0]["message"].as_str().expect("message");
        assert!(message.contains(says), "{content_type:?}: {message}");
        assert!(answer.get("data").is_none(), "{answer}");
    }
    // A GET that is not a browser's and asks nothing.
    let response = app
        .client
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.expect("json");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`query`")),
        "{answer}"
    );
    // A GET query still works, and `variables` must be JSON.
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            (
                "query",
                "query($n: Int) { publications(first: $n) { totalCount } }",
            ),
            ("variables", r#"{"n": 1}"#),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }"), ("variables", "{not json")])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// The result map keeps the order of the selection (GraphQL spec, "Serialized Map Ordering"),
/// also where fields finish in another order: each of these reads the database.
#[tokio::test]
async fn answers_keep_the_selection_order_byte_for_byte() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    let mut generator = pubgate::simulate::Generator::new(3, 10, 3, 0.0);
    app.post_all((0..12).map(|_| generator.next_body()).collect())
        .await;
    let query = "{ z: publications(first: 3) { pageInfo { hasNextPage endCursor } totalCount \
                 edges { node { voucher { code id } customer { name id } id } } } \
                 y: customers(first: 2) { totalCount nodes { id } } \
                 x: campaigns(first: 2) { totalCount } \
                 w: __typename }";
    for round in 0..25 {
        let (status, _, text) = post(&app, None, &json!({"query": query})).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let order = |keys: &[&str]| {
            let at: Vec<usize> = keys
                .iter()
                .map(|k| {
                    text.find(&format!("\"{k}\":"))
                        .unwrap_or_else(|| panic!("{k} in {text}"))
                })
                .collect();
            assert!(
                at.windows(2).all(|w| w[0] < w[1]),
                "round {round}: {keys:?} out of order in {text}"
            );
        };
        order(&["z", "y", "x", "w"]);
        order(&[
            "pageInfo",
            "hasNextPage",
            "endCursor",
            "totalCount",
            "edges",
            "voucher",
            "code",
            "customer",
            "name",
        ]);
    }
}

/// An object whose every field is skipped is `{}` (GraphQL spec, ExecuteSelectionSet over an
/// empty grouped field set), not null: null would break a non-null field.
#[tokio::test]
async fn an_object_with_every_field_skipped_is_empty() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (status, _, text) = post(
        &app,
        None,
        &json!({"query": "{ publications(first: 1) { totalCount @skip(if: true) } \
                 stats: assignmentStats(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-01T02:00:00Z\") { \
                 buckets { count @include(if: false) } total } }"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        json_of(&text),
        json!({"data": {"publications": {}, "stats": {"buckets": [{}, {}], "total": 0}}})
    );
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn apq(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

#[tokio::test]
async fn automatic_persisted_queries_over_post_and_get() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let document = "query Apq { publications(first: 1) { totalCount } }";
    let hash = sha256(document);
    // Unknown: a request error (clients then send the document), with the message Apollo's and
    // urql's clients read; 200 for application/json clients.
    let (status, _, text) = post(&app, None, &json!({"extensions": apq(&hash)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, _, legacy) = post(
        &app,
        Some("application/json"),
        &json!({"extensions": apq(&hash)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{legacy}");
    let answer = json_of(&text);
    assert_eq!(answer["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert!(answer.get("data").is_none(), "{answer}");
    // A hash that is not the document's is refused, and registers nothing.
    let (status, _, text) = post(
        &app,
        None,
        &json!({"query": "{ __typename }", "extensions": apq(&hash)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (_, _, text) = post(&app, None, &json!({"extensions": apq(&hash)})).await;
    assert_eq!(
        json_of(&text)["errors"][0]["message"],
        "PersistedQueryNotFound"
    );
    // The document with its hash registers it; then the hash alone is enough, POST or GET.
    let (status, _, text) = post(
        &app,
        None,
        &json!({"query": document, "extensions": apq(&hash)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json_of(&text)["data"]["publications"]["totalCount"], 0);
    let (status, _, text) = post(
        &app,
        None,
        &json!({"extensions": apq(&hash.to_uppercase())}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json_of(&text)["data"]["publications"]["totalCount"], 0);
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("operationName", "Apq"),
            ("extensions", &apq(&hash).to_string()),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["data"]["publications"]["totalCount"], 0, "{answer}");
    // A version that does not exist is named.
    let (status, _, text) = post(
        &app,
        None,
        &json!({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": hash}}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("version"), "{text}");
}

#[tokio::test]
async fn only_trusted_documents_run_on_every_transport() {
    let query = "query Count { publications { totalCount } }";
    let subscription = "subscription Assigned { voucherAssigned { cursor node { id } } }";
    let manifest: pubgate::config::Manifest = [query, subscription]
        .into_iter()
        .map(|d| (sha256(d), Arc::from(d)))
        .collect();
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.trusted_documents = Arc::new(manifest);
        c.only_trusted_documents = true;
    })
    .await
    else {
        return;
    };
    let id = format!("sha256:{}", sha256(query));
    // By id, over POST and GET; by its text; by its APQ hash.
    for body in [
        json!({"documentId": id}),
        json!({"documentId": sha256(query)}),
        json!({"query": query}),
        json!({"extensions": apq(&sha256(query))}),
    ] {
        let (status, _, text) = post(&app, None, &body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {text}");
        assert_eq!(
            json_of(&text)["data"]["publications"]["totalCount"],
            0,
            "{text}"
        );
    }
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("documentId", id.as_str())])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    // The built-in dashboard's own documents are trusted too, so the page keeps working.
    let (name, latest) = pubgate::dashboard::documents()
        .into_iter()
        .find(|(name, _)| name == "LATEST")
        .expect("the dashboard's LATEST");
    let (status, _, text) = post(
        &app,
        None,
        &json!({"query": latest, "variables": {"first": 5}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{name}: {text}");
    // Anything else is refused, also when sent with its own hash (nothing registers).
    let other = "{ customers { totalCount } }";
    for body in [
        json!({"query": other}),
        json!({"query": other, "extensions": apq(&sha256(other))}),
        json!({"extensions": apq(&sha256(other))}),
        json!({"documentId": format!("sha256:{}", sha256(other))}),
    ] {
        let (status, _, text) = post(&app, None, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {text}");
        assert_eq!(
            json_of(&text)["errors"][0]["extensions"]["code"],
            "FORBIDDEN"
        );
        let (status, _, text) = post(&app, Some("application/json"), &body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {text}");
        assert_eq!(
            json_of(&text)["errors"][0]["extensions"]["code"],
            "FORBIDDEN"
        );
    }

    // WebSocket: the subscription by id runs; another document ends with FORBIDDEN.
    let mut ws = WsClient::ready(&app).await;
    ws.send(json!({"type": "subscribe", "id": "trusted", "payload": {"documentId": format!("sha256:{}", sha256(subscription))}}))
        .await;
    ws.send(json!({"type": "subscribe", "id": "other", "payload": {"query": "subscription { voucherAssigned { cursor } }"}}))
        .await;
    let refused = ws.recv().await;
    assert_eq!(refused["id"], "other", "{refused}");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "FORBIDDEN");
    // SSE: the same by id; another document is refused before any stream.
    let mut stream = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({"documentId": format!("sha256:{}", sha256(subscription))}))
        .send()
        .await
        .expect("answers");
    assert_eq!(stream.status(), StatusCode::OK);
    let (status, _, text) = post(
        &app,
        Some("text/event-stream"),
        &json!({"query": "subscription { voucherAssigned { cursor } }"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    // One delivery reaches both trusted subscriptions.
    let mut generator = pubgate::simulate::Generator::new(8, 3, 2, 0.0);
    app.post_all(vec![generator.next_body()]).await;
    let frames = ws.next_n("trusted", 1).await;
    let cursor = frames[0]["data"]["voucherAssigned"]["cursor"].clone();
    assert!(cursor.is_string(), "{frames:?}");
    let mut buffer = String::new();
    let events = tokio::time::timeout(WAIT, sse_events(&mut stream, &mut buffer, 1))
        .await
        .expect("an SSE frame in time");
    assert_eq!(
        json_of(&events[0].data)["data"]["voucherAssigned"]["cursor"],
        cursor
    );
}

#[tokio::test]
async fn a_bad_trusted_documents_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    // On a public address with no secret or token: were the manifest taken, the start would
    // still be refused (for those), so the run ends either way and the message tells which.
    let run = |manifest: &str| {
        let path = dir.path().join("documents.json");
        std::fs::write(&path, manifest).expect("write");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pubgate"));
        command.args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--database-url",
            "sqlite::memory:",
        ]);
        command.arg("--trusted-documents").arg(&path);
        let output = command
            .env_remove("PUBGATE_API_TOKENS")
            .env_remove("PUBGATE_WEBHOOK_SECRETS")
            .output()
            .expect("runs");
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let document = "{ __typename }";
    let wrong = json!({ sha256("{ other }"): document }).to_string();
    assert!(run(&wrong).contains("does not have that SHA-256"));
    let broken = json!({ sha256("{ oops"): "{ oops" }).to_string();
    assert!(run(&broken).contains("does not parse: syntax error at line 1"));
    assert!(run("[1, 2]").contains("is not a JSON object"));
    // The check itself: a good manifest gets past it, to the refusal for the address.
    let good = json!({ sha256(document): document }).to_string();
    assert!(run(&good).contains("--webhook-secret"));
}

/// A GET answer carries an entity tag for the committed head it was computed at: asked again
/// with `If-None-Match`, nothing executes and the answer is 304 until something is committed.
#[tokio::test]
async fn get_answers_revalidate_by_entity_tag_until_a_commit() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let mut generator = pubgate::simulate::Generator::new(4, 3, 2, 0.0);
    app.post_all(vec![generator.next_body()]).await;
    let document = "query Count { publications { totalCount } }";
    let get = |etag: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", document)]);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = get(None).await.expect("answers");
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let tag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    let before = app.statements.load(std::sync::atomic::Ordering::SeqCst);
    let again = get(Some(tag.clone())).await.expect("answers");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().expect("ascii"), tag);
    assert!(again.text().await.expect("body").is_empty());
    // Only the head was read.
    assert_eq!(
        app.statements.load(std::sync::atomic::Ordering::SeqCst) - before,
        1
    );
    let weak = get(Some(format!("\"other\", W/{tag}")))
        .await
        .expect("answers");
    assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
    // Another media type is another answer.
    let legacy = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", document)])
        .header("accept", "application/json")
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("answers");
    assert_eq!(legacy.status(), StatusCode::OK);
    // A commit moves the head: the old tag no longer matches, and the answer is new.
    app.post_all(vec![generator.next_body()]).await;
    let after = get(Some(tag.clone())).await.expect("answers");
    assert_eq!(after.status(), StatusCode::OK);
    assert_ne!(after.headers()["etag"].to_str().expect("ascii"), tag);
    let answer: Value = after.json().await.expect("json");
    assert_eq!(answer["data"]["publications"]["totalCount"], 2, "{answer}");
    // Errors carry no tag, and POSTs none either.
    let bad = app
        .client
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            "{ publications(after: \"garbage\") { totalCount } }",
        )])
        .send()
        .await
        .expect("answers");
    assert!(bad.headers().get("etag").is_none());
    let posted = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": document}))
        .send()
        .await
        .expect("answers");
    assert!(posted.headers().get("etag").is_none());
}

//! Webhook statuses and signatures.

use crate::helpers::*;
use crate::on_both;
use futures::stream;
use reqwest::StatusCode;
use serde_json::Value;

on_both!(
    signed_deliveries_with_huge_ids_and_types_are_stored_once,
    keys_stored_long_before_the_bound_still_find_their_duplicates,
    signed_delivery_is_stored_after_commit,
    missing_or_wrong_signature_is_401_and_stores_nothing,
    non_json_is_400_and_stores_nothing,
    oversized_body_is_413_with_and_without_content_length,
    pretty_body_verifies_by_its_compact_form,
    signature_test_vectors,
    any_configured_secret_verifies,
);

const CONSTRUCTED: &str =
    "envelopes/CONSTRUCTED.distribution.customer.publication.succeeded.full-envelope.json";

async fn signed_delivery_is_stored_after_commit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.post_webhook(fixture(CONSTRUCTED)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "stored");
    let id: i64 = body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("numeric id");
    // The 200 came after the commit: another connection sees the row at once.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM webhook_events WHERE id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(app.count("publications").await, 1);
    let raw: String = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT body FROM webhook_events WHERE id = {id}"),
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index(0).expect("body")
    };
    assert_eq!(
        raw.as_bytes(),
        fixture(CONSTRUCTED),
        "the body is kept byte for byte"
    );
}

async fn missing_or_wrong_signature_is_401_and_stores_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = fixture(CONSTRUCTED);
    let (status, answer) = app.post_raw(body.clone(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], "unauthorized");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing")),
        "{answer}"
    );
    let wrong = pubgate::webhook::signature::sign(b"another-secret", &body);
    for signature in [
        wrong.as_str(),
        "",
        "not-hex",
        &"0".repeat(64),
        &"a".repeat(10_000),
    ] {
        let (status, answer) = app
            .post_raw(body.clone(), &[("x-voucherify-signature", signature)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{signature:.20}: {answer}"
        );
        assert_eq!(answer["error"], "unauthorized");
    }
    assert_eq!(app.count("webhook_events").await, 0);
    assert_eq!(app.count("customers").await, 0);
}

async fn non_json_is_400_and_stores_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for body in [
        &b"not json"[..],
        b"{\"a\":",
        b"",
        b"\xff\xfe{}",
        b"{\"a\":1} trailing",
    ] {
        let (status, answer) = app.post_webhook(body.to_vec()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(answer["error"], "bad_request");
    }
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, _) = app.post_webhook(deep.into_bytes()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "nesting beyond serde_json's limit is refused"
    );
    assert_eq!(app.count("webhook_events").await, 0);
}

async fn oversized_body_is_413_with_and_without_content_length(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.max_body_bytes = 64 * 1024).await else {
        return;
    };
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024)).into_bytes();
    let (status, answer) = app.post_webhook(big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "payload_too_large");
    // Streamed in chunks: no Content-Length, the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    let signature = pubgate::webhook::signature::sign(SECRET.as_bytes(), &big);
    let (status, answer) = app
        .post_raw(
            reqwest::Body::wrap_stream(stream::iter(chunks)),
            &[("x-voucherify-signature", &signature)],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "payload_too_large");
    assert_eq!(app.count("webhook_events").await, 0);
    // Just under the limit is fine.
    let fits = format!("{{\"pad\":\"{}\"}}", "x".repeat(60 * 1024)).into_bytes();
    assert_eq!(app.post_webhook(fits).await.0, StatusCode::OK);
}

async fn pretty_body_verifies_by_its_compact_form(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let vectors = fixture_json("signature-test-vectors.json");
    let compact = vectors["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v.get("message_file").is_some())
        .expect("the compact-form vector");
    let signature = compact["expected_hex"].as_str().expect("hex");
    // The pretty-printed body differs from the signed compact bytes only by whitespace.
    let (status, answer) = app
        .post_raw(
            fixture(CONSTRUCTED),
            &[("x-voucherify-signature", signature)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = app
        .post_raw(
            fixture("envelopes/CONSTRUCTED.distribution.customer.publication.succeeded.full-envelope.compact.txt"),
            &[("x-voucherify-signature", signature)],
        )
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
}

async fn signature_test_vectors(backend: Backend) {
    let vectors = fixture_json("signature-test-vectors.json");
    for vector in vectors["vectors"].as_array().expect("vectors") {
        let Some(message) = vector["message"].as_str() else {
            continue;
        };
        let secret = vector["secret"].as_str().expect("secret").to_owned();
        let signature = vector["expected_hex"]
            .as_str()
            .or(vector["provided_signature"].as_str())
            .expect("a signature");
        let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_secrets = vec![secret]).await
        else {
            return;
        };
        let (status, answer) = app
            .post_raw(message.to_owned(), &[("x-voucherify-signature", signature)])
            .await;
        let is_json = serde_json::from_str::<Value>(message).is_ok();
        let expected = match (vector["valid"].as_bool(), is_json) {
            (Some(false), _) => StatusCode::UNAUTHORIZED,
            (_, true) => StatusCode::OK,
            (_, false) => StatusCode::BAD_REQUEST,
        };
        assert_eq!(status, expected, "{message}: {answer}");
        let stored = i64::from(expected == StatusCode::OK);
        assert_eq!(app.count("webhook_events").await, stored, "{message}");
    }
}

async fn any_configured_secret_verifies(backend: Backend) {
    let secrets = vec!["current-secret".to_owned(), "previous-secret".to_owned()];
    let Some(app) = TestApp::spawn_with(backend, |c| c.webhook_secrets = secrets).await else {
        return;
    };
    for (n, secret) in ["current-secret", "previous-secret"].iter().enumerate() {
        let body = bytes(&wrap(
            "customer.created",
            &format!("ev_{n}"),
            serde_json::json!({"customer": {"id": format!("cust_{n}")}}),
        ));
        let signature = pubgate::webhook::signature::sign(secret.as_bytes(), &body);
        let (status, answer) = app
            .post_raw(body, &[("x-voucherify-signature", &signature)])
            .await;
        assert_eq!(status, StatusCode::OK, "{secret}: {answer}");
    }
    assert_eq!(app.count("customers").await, 2);
}

/// Whoever answers a failure on the webhook (the router, a layer or the handler), the body is
/// the contract's `{"error", "message"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_on_the_webhook_carries_the_contract_body() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let cases = [
        ("GET", "/webhooks/voucherify", 405, "method_not_allowed"),
        ("PUT", "/webhooks/voucherify", 405, "method_not_allowed"),
        ("POST", "/webhooks/elsewhere", 404, "not_found"),
        ("POST", "/webhooks/voucherify", 401, "unauthorized"),
    ];
    for (method, path, status, code) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let allow = response.headers().get("allow").cloned();
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], code, "{method} {path}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        if status == 405 {
            assert!(allow.is_some_and(|a| a.to_str().is_ok_and(|a| a.contains("POST"))));
        }
    }
}

/// Any signed JSON body under the size limit is stored, whatever the length of the texts that
/// are indexed (PostgreSQL refuses btree entries over ~2.7 KB): 100 KB in the delivery id, the
/// event id, the source id, the event type or the free-text type. A repeat is a duplicate.
async fn signed_deliveries_with_huge_ids_and_types_are_stored_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Incompressible (PostgreSQL compresses index entries, so a repeated letter would fit).
    let huge = |seed: u64| {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..100 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect::<String>()
    };
    let data = serde_json::json!({"customer": {"id": "cust_huge", "name": "Huge"}});
    let with = |pointer: &str, value: String| {
        let mut body = wrap("customer.created", &format!("ev_{pointer}"), data.clone());
        *body.pointer_mut(pointer).expect("a field of the envelope") = Value::String(value);
        body
    };
    let mut no_event = wrap("customer.created", "ev_plain", data.clone());
    no_event.as_object_mut().expect("object").remove("event");
    no_event["type"] = Value::String(huge(5));
    let bodies = [
        with("/id", huge(1)),
        with("/event/id", huge(2)),
        with("/source/id", huge(3)),
        with("/event/type", huge(4)),
        no_event,
    ];
    for (n, body) in bodies.iter().enumerate() {
        let bytes = bytes(body);
        let (status, answer) = app.post_webhook(bytes.clone()).await;
        assert_eq!(status, StatusCode::OK, "body {n}: {answer}");
        assert_eq!(answer["status"], "stored", "body {n}: {answer}");
        let (status, again) = app.post_webhook(bytes).await;
        assert_eq!(status, StatusCode::OK, "body {n} again: {again}");
        assert_eq!(again["status"], "duplicate", "body {n} again: {again}");
        assert_eq!(again["id"], answer["id"]);
    }
    // Stored verbatim, and the normalised facts are there.
    assert_eq!(app.count("webhook_events").await, 5);
    let longest = app
        .scalar("SELECT CAST(MAX(length(body)) AS BIGINT) FROM webhook_events")
        .await;
    assert!(longest > 100 * 1024, "{longest}");
    assert_eq!(app.count("customers").await, 1);
}

/// An event stored with a long idempotency key before keys were bounded is rewritten by the
/// migration to the bounded form, so its redelivery is still a duplicate.
async fn keys_stored_long_before_the_bound_still_find_their_duplicates(backend: Backend) {
    use migration::MigratorTrait;
    use sea_orm::{ConnectionTrait, Statement};
    let Some(test_db) = TestDb::create(backend).await else {
        return;
    };
    let event_id = format!("ev_{}", "k".repeat(400));
    let body = bytes(&wrap(
        "customer.created",
        &event_id,
        serde_json::json!({"customer": {"id": "cust_old"}}),
    ));
    {
        let db = pubgate::store::connect(&test_db.url, 1)
            .await
            .expect("connects");
        migration::Migrator::up(&db, Some(1))
            .await
            .expect("the first migration");
        let key = format!("event:distr_test:{event_id}");
        let insert = format!(
            "INSERT INTO webhook_events (id, idempotency_key, event_id, event_type, received_at, \
             signature_verified, normalized, body) VALUES (7, '{key}', '{event_id}', \
             'customer.created', CURRENT_TIMESTAMP, true, false, '{{}}')"
        );
        let backend = db.get_database_backend();
        db.execute_raw(Statement::from_string(backend, insert))
            .await
            .expect("inserted");
        db.execute_raw(Statement::from_string(
            backend,
            "UPDATE pubgate_sequence SET value = 7",
        ))
        .await
        .expect("moved");
    }
    let url = test_db.url.clone();
    let app = TestApp::spawn_on(backend, test_db, &url, |_| {}).await;
    let (status, answer) = app.post_webhook(body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "duplicate", "{answer}");
    assert_eq!(answer["id"], "7");
}

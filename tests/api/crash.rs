//! kill -9 and SIGTERM under load: every delivery that got a 200 is there after a restart,
//! normalised; SIGTERM also exits cleanly, and its JSON logs carry request ids and no secrets.

use crate::helpers::*;
use pubgate::simulate::{Generator, post};
use std::{collections::HashMap, process::Stdio, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::Mutex,
};

const API_TOKEN: &str = "log-check-api-token";

/// The real binary, started on port 0, logging JSON to `log` (or nowhere); returns the child
/// and its address.
async fn start(database_url: &str, log: Option<&std::path::Path>) -> (Child, String) {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
        None => Stdio::null(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_pubgate"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-secret",
            SECRET,
            "--api-token",
            API_TOKEN,
            "--database-url",
            database_url,
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("starts in time")
        .expect("reads")
        .expect("prints its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address")
        .to_owned();
    (child, addr)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    Kill,
    Terminate,
}

async fn sigkill_mid_load_loses_no_acknowledged_delivery(backend: Backend) {
    stopped_mid_load(backend, Stop::Kill).await;
}

async fn sigterm_mid_load_exits_cleanly_and_loses_no_acknowledged_delivery(backend: Backend) {
    stopped_mid_load(backend, Stop::Terminate).await;
}

async fn stopped_mid_load(backend: Backend, stop: Stop) {
    let Some(test_db) = TestDb::create(backend).await else {
        return;
    };
    let logs = tempfile::tempdir().expect("tempdir");
    let log = logs.path().join("pubgate.log");
    let (mut child, addr) = start(&test_db.url, Some(&log)).await;
    let url = format!("http://{addr}/webhooks/voucherify");
    let client = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client");
    let generator = Arc::new(Mutex::new(Generator::new(7, 50, 6, 0.0)));
    let acked: Arc<Mutex<HashMap<Vec<u8>, String>>> = Arc::default();
    let senders: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, generator, acked) = (
                client.clone(),
                url.clone(),
                generator.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let body = generator.lock().await.next_body();
                    let Ok(response) = post(&client, &url, Some(SECRET), body.clone()).await else {
                        break;
                    };
                    if response.status() == 200 {
                        let answer: serde_json::Value = response.json().await.unwrap_or_default();
                        let id = answer["id"].as_str().unwrap_or_default().to_owned();
                        acked.lock().await.insert(body, id);
                    }
                }
            })
        })
        .collect();
    // Kill once a few hundred deliveries are acknowledged, mid-stream.
    tokio::time::timeout(WAIT, async {
        while acked.lock().await.len() < 300 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("load is acknowledged");
    match stop {
        Stop::Kill => {
            child.start_kill().expect("SIGKILL");
            let _ = child.wait().await;
        }
        Stop::Terminate => {
            let pid = child.id().expect("running").to_string();
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill runs");
            assert!(sent.success());
            let status = tokio::time::timeout(WAIT, child.wait())
                .await
                .expect("exits in time after SIGTERM")
                .expect("exit status");
            assert!(status.success(), "SIGTERM ends with exit code 0: {status}");
        }
    }
    for sender in senders {
        let _ = tokio::time::timeout(WAIT, sender).await;
    }
    if stop == Stop::Terminate {
        check_logs(&std::fs::read_to_string(&log).expect("log"));
    }
    let acked = acked.lock().await.clone();
    assert!(acked.len() >= 300);

    let (_child, addr) = start(&test_db.url, None).await;
    let url = format!("http://{addr}/webhooks/voucherify");
    let mut publication_ids = vec![];
    for (body, id) in &acked {
        // Re-sending an acknowledged delivery must find it stored, under the same id.
        let response = post(&client, &url, Some(SECRET), body.clone())
            .await
            .expect("answer");
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = response.json().await.expect("json");
        assert_eq!(
            (answer["status"].as_str(), answer["id"].as_str()),
            (Some("duplicate"), Some(id.as_str()))
        );
        let value: serde_json::Value = serde_json::from_slice(body).expect("json");
        if let Some(id) = value["data"]["publication"]["id"].as_str() {
            publication_ids.push(format!("'{id}'"));
        }
    }
    let db = sea_orm::Database::connect(&test_db.url)
        .await
        .expect("connect");
    let publications = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT COUNT(*) FROM publications WHERE id IN ({})",
                    publication_ids.join(",")
                ),
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index::<i64>(0).expect("count")
    };
    assert_eq!(
        publications as usize,
        publication_ids.len(),
        "every acknowledged publication is normalised"
    );
}

/// Every line is JSON; every request's lines carry its id; no secret, token or signature shows.
fn check_logs(text: &str) {
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["span"]["name"] == "request")
        .collect();
    assert!(requests.len() >= 300, "one line per request at least");
    for line in &requests {
        let id = line["span"]["request_id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 16, "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "shutting down: finishing in-flight requests"),
        "the shutdown is logged"
    );
    for secret in [SECRET, API_TOKEN, "x-voucherify-signature", "authorization"] {
        assert!(!text.contains(secret), "{secret} appears in the logs");
    }
}

crate::on_both!(
    sigkill_mid_load_loses_no_acknowledged_delivery,
    sigterm_mid_load_exits_cleanly_and_loses_no_acknowledged_delivery,
);

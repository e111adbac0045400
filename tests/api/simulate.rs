//! `pubgate simulate` as a Voucherify project sends: names and codes unique across runs, and
//! deliveries retried after 5xx, 408, 429 (honouring Retry-After) and connection errors, up to
//! `--max-retries`; other refusals are final at once, and the run then fails.

use crate::helpers::*;
use crate::on_both;
use axum::{body::Bytes, extract::State, http::StatusCode, response::IntoResponse};
use clap::Parser;
use pubgate::simulate::{self, Cause, SimulateArgs};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `pubgate simulate FLAGS` (space-separated) run to its end (bounded): exit status and
/// standard output.
async fn simulate_binary(flags: &str) -> (std::process::ExitStatus, String) {
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_pubgate"))
            .arg("simulate")
            .args(flags.split_whitespace())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("simulate ends in time")
    .expect("simulate runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    args: SimulateArgs,
}

/// The library's run with these flags (space-separated), to its summary.
async fn simulate_run(flags: &str) -> simulate::Summary {
    let flags = Flags::parse_from(std::iter::once("simulate").chain(flags.split_whitespace()));
    tokio::time::timeout(WAIT, simulate::run(&flags.args))
        .await
        .expect("simulate ends in time")
        .expect("simulate runs")
}

/// Every id under `list` by the value of its `key` field.
async fn ids_by(app: &TestApp, list: &str, key: &str) -> BTreeMap<String, BTreeSet<String>> {
    let query = format!("{{ {list}(first: 500) {{ totalCount nodes {{ id {key} }} }} }}");
    let answer = app.graphql(&query, Value::Null).await;
    let page = &answer["data"][list];
    let nodes = page["nodes"].as_array().expect("nodes");
    assert_eq!(
        page["totalCount"].as_u64(),
        Some(nodes.len() as u64),
        "one page holds all"
    );
    let mut by = BTreeMap::<String, BTreeSet<String>>::new();
    for node in nodes {
        let value = node[key].as_str().expect("a value").to_owned();
        let id = node["id"].as_str().expect("an id").to_owned();
        by.entry(value).or_default().insert(id);
    }
    by
}

/// Category ids by name, as the stored vouchers carry them.
async fn categories_by_name(app: &TestApp) -> BTreeMap<String, BTreeSet<String>> {
    let query = "{ vouchers(first: 500) { nodes { categories { id name } } } }";
    let answer = app.graphql(query, Value::Null).await;
    let mut by = BTreeMap::<String, BTreeSet<String>>::new();
    for voucher in answer["data"]["vouchers"]["nodes"]
        .as_array()
        .expect("nodes")
    {
        for category in voucher["categories"].as_array().expect("categories") {
            let name = category["name"].as_str().expect("a name").to_owned();
            let id = category["id"].as_str().expect("an id").to_owned();
            by.entry(name).or_default().insert(id);
        }
    }
    by
}

fn shared(by: &BTreeMap<String, BTreeSet<String>>) -> Vec<(&String, &BTreeSet<String>)> {
    by.iter().filter(|(_, ids)| ids.len() > 1).collect()
}

async fn two_runs_share_no_campaign_name_voucher_code_or_category(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let target = app.url("");
    let run = |seed: u64, events: u64, campaigns: u64| {
        let flags = format!(
            "--target {target} --secret {SECRET} --events {events} --seed {seed} \
             --campaigns {campaigns} --quiet"
        );
        async move {
            let (status, stdout) = simulate_binary(&flags).await;
            assert!(status.success(), "{stdout}");
        }
    };
    run(1, 60, 12).await;
    run(2, 60, 12).await;
    let campaigns = ids_by(&app, "campaigns", "name").await;
    let codes = ids_by(&app, "vouchers", "code").await;
    let categories = categories_by_name(&app).await;
    assert!(campaigns.len() > 12, "both runs' campaigns: {campaigns:?}");
    assert!(codes.len() > 60, "both runs' vouchers: {}", codes.len());
    assert_eq!(shared(&campaigns), vec![], "campaign names shared by ids");
    assert_eq!(shared(&codes), vec![], "voucher codes shared by ids");
    assert_eq!(shared(&categories), vec![], "category names shared by ids");
    // The first run's seed again, over fewer campaigns: other deliveries under the same ids,
    // naming the same campaigns. Every id keeps the name or code it had.
    run(1, 90, 5).await;
    let (campaigns_after, codes_after) = (
        ids_by(&app, "campaigns", "name").await,
        ids_by(&app, "vouchers", "code").await,
    );
    assert!(
        by_id(&codes_after).len() > by_id(&codes).len(),
        "new vouchers"
    );
    for (before, after) in [(&campaigns, &campaigns_after), (&codes, &codes_after)] {
        assert_eq!(shared(after), vec![]);
        let after = by_id(after);
        for (id, value) in by_id(before) {
            assert_eq!(after.get(&id), Some(&value), "{id}");
        }
    }
}

/// Value by id, from ids by value.
fn by_id(by: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, String> {
    by.iter()
        .flat_map(|(value, ids)| ids.iter().map(move |id| (id.clone(), value.clone())))
        .collect()
}

on_both!(two_runs_share_no_campaign_name_voucher_code_or_category);

/// A webhook target that answers the n-th attempt of each body with `script[n]`, and every
/// later one with `then`, as pubgate words its answers; it notes when each attempt came.
struct Mock {
    addr: std::net::SocketAddr,
    attempts: Arc<Mutex<HashMap<Bytes, Vec<Instant>>>>,
    served: tokio::task::JoinHandle<()>,
}

type Step = (u16, Option<&'static str>);

#[derive(Clone)]
struct Script {
    steps: Arc<[Step]>,
    then: Step,
    attempts: Arc<Mutex<HashMap<Bytes, Vec<Instant>>>>,
}

async fn scripted(State(script): State<Script>, body: Bytes) -> axum::response::Response {
    let n = {
        let mut attempts = script.attempts.lock().expect("lock");
        let times = attempts.entry(body).or_default();
        times.push(Instant::now());
        times.len() - 1
    };
    let (status, retry_after) = script.steps.get(n).copied().unwrap_or(script.then);
    let status = StatusCode::from_u16(status).expect("a status");
    let answer = match status {
        StatusCode::OK => serde_json::json!({"status": "stored", "id": "1"}),
        _ => serde_json::json!({"error": "scripted", "message": "scripted"}),
    };
    let mut response = (status, axum::Json(answer)).into_response();
    if let Some(seconds) = retry_after {
        let value = seconds.parse().expect("a header value");
        response.headers_mut().insert("retry-after", value);
    }
    response
}

impl Mock {
    async fn start(steps: &[Step], then: Step) -> Mock {
        let attempts = Arc::new(Mutex::new(HashMap::new()));
        let script = Script {
            steps: steps.into(),
            then,
            attempts: attempts.clone(),
        };
        let router = axum::Router::new()
            .route("/webhooks/voucherify", axum::routing::post(scripted))
            .with_state(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Mock {
            addr,
            attempts,
            served,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// When each body's attempts came.
    fn attempts(&self) -> Vec<Vec<Instant>> {
        self.attempts
            .lock()
            .expect("lock")
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.served.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried_until_delivered() {
    // Each delivery: 503 "now", 429 "in a second", 500, then 200.
    let steps = [(503, Some("0")), (429, Some("1")), (500, None)];
    let mock = Mock::start(&steps, (200, None)).await;
    let started = Instant::now();
    let summary = simulate_run(&format!(
        "--target {} --events 20 --duplicate-ratio 0 --max-retries 3 \
         --retry-base-ms 1 --retry-max-ms 2000 --quiet",
        mock.url()
    ))
    .await;
    assert_eq!((summary.sent, summary.stored), (20, 20), "{summary}");
    assert!(!summary.failed(), "{summary}");
    let each = |status| (Cause::Status(status), 20);
    assert_eq!(
        summary.retries,
        BTreeMap::from([each(429), each(500), each(503)]),
        "{summary}"
    );
    let attempts = mock.attempts();
    assert_eq!(attempts.len(), 20);
    for times in &attempts {
        assert_eq!(times.len(), 4, "three refusals, then delivered");
        // The 429's Retry-After: 1 was waited for.
        assert!(times[2] - times[1] >= Duration::from_secs(1));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the waits are bounded"
    );
    let text = summary.to_string();
    assert!(text.contains("retries     60"), "{text}");
    assert!(
        text.contains("HTTP 429: 20, HTTP 500: 20, HTTP 503: 20"),
        "{text}"
    );
    assert!(text.contains("failed      0"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_retries_the_delivery_fails() {
    let mock = Mock::start(&[], (503, Some("0"))).await;
    let summary = simulate_run(&format!(
        "--target {} --events 5 --duplicate-ratio 0 --max-retries 2 \
         --retry-base-ms 1 --retry-max-ms 5 --quiet",
        mock.url()
    ))
    .await;
    assert_eq!(summary.retries, BTreeMap::from([(Cause::Status(503), 10)]));
    assert_eq!(summary.failed, BTreeMap::from([(Cause::Status(503), 5)]));
    assert_eq!((summary.gave_up, summary.stored), (5, 0), "{summary}");
    assert!(mock.attempts().iter().all(|times| times.len() == 3));
    // Nothing listening: connection errors are retried the same way.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let nowhere = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let summary = simulate_run(&format!(
        "--target {nowhere} --events 4 --max-retries 2 --retry-base-ms 1 \
         --retry-max-ms 5 --quiet"
    ))
    .await;
    assert_eq!(summary.retries, BTreeMap::from([(Cause::Unreachable, 8)]));
    assert_eq!(summary.failed, BTreeMap::from([(Cause::Unreachable, 4)]));
    assert_eq!(summary.gave_up, 4, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_at_once_and_the_run_fails() {
    let mock = Mock::start(&[], (400, None)).await;
    let (status, stdout) = simulate_binary(&format!(
        "--target {} --events 10 --duplicate-ratio 0 --retry-base-ms 1 --quiet",
        mock.url()
    ))
    .await;
    assert!(
        !status.success(),
        "a run with failed deliveries fails: {stdout}"
    );
    for line in [
        "retries     0",
        "failed      10",
        "HTTP 400: 10",
        "gave up   0",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }
    let attempts = mock.attempts();
    assert_eq!(attempts.len(), 10);
    assert!(
        attempts.iter().all(|times| times.len() == 1),
        "never retried"
    );
}

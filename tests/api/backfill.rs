//! Backfill and reconciliation from Voucherify's REST API, against an in-process mock of it:
//! what the gateway holds afterwards equals what the API lists, through 429s, 5xx, a slow page,
//! an outage in the middle and a second run; never a second publication, frame or count; the
//! background job of `serve`; the command's answers.

use crate::helpers::{Backend, TestApp, WAIT, bytes, wrap};
use crate::on_both;
use crate::security::{metric, metric_reaches};
use crate::voucherify_mock::{
    self as mock, APP_ID, APP_TOKEN, Fault, Mock, campaign_id, campaign_of, failed, listing,
    several,
};
use crate::ws_client::WsClient;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use pubgate::backfill::{Backfill, BackfillError, Credentials, Patience, Reconcile, Summary};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

on_both!(
    backfill_stores_exactly_what_the_api_lists,
    a_webhook_after_the_backfill_adds_no_publication_frame_or_count,
    an_api_that_ignores_the_window_is_read_newest_first,
    serve_reconciles_in_the_background,
);

fn credentials(url: &str) -> Credentials {
    Credentials {
        url: url.to_owned(),
        app_id: APP_ID.into(),
        app_token: APP_TOKEN.into(),
    }
}

/// Quick to give up and to retry, so that the faults cost milliseconds.
const PATIENCE: Patience = Patience {
    retries: 3,
    backoff: Duration::from_millis(5),
    timeout: Duration::from_millis(1500),
};

async fn backfill(app: &TestApp, url: &str, window_pages: u32) -> Backfill {
    let mut run = Backfill::open(
        &app.database_url,
        credentials(url),
        PATIENCE,
        indicatif::ProgressBar::hidden(),
    )
    .await
    .expect("the backfill opens");
    run.window_pages = window_pages;
    run
}

async fn run(
    run: &Backfill,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    resume: bool,
) -> Result<Summary, BackfillError> {
    tokio::time::timeout(WAIT * 2, run.run(since, until, resume))
        .await
        .expect("the backfill ends")
}

/// The `customer.publication.succeeded` webhook Voucherify would have sent for publication `i`
/// of `listed` (same ids, codes, customer and channel; the campaign with its id).
fn webhook_for(i: usize, listed: &Value) -> Vec<u8> {
    let mut voucher = listed["voucher"].clone();
    voucher["id"] = listed["vouchers_id"][0].clone();
    // Webhook vouchers carry their campaign's id, except here for the one the API no longer
    // has: that name stays unlinked, as the backfill leaves it.
    if let Some(name) = campaign_of(i).filter(|n| *n != mock::CAMPAIGNS[3]) {
        voucher["campaign_id"] = json!(campaign_id(name));
    }
    let publication = json!({
        "id": listed["id"], "object": "publication", "created_at": listed["created_at"],
        "customer_id": listed["customer_id"], "tracking_id": listed["tracking_id"],
        "metadata": listed["metadata"], "channel": listed["channel"], "result": "SUCCESS",
        "vouchers_id": listed["vouchers_id"],
    });
    let data = json!({"publication": publication, "voucher": voucher,
                      "customer": listed["customer"]});
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("evcus_backfill_{i}"),
        data,
    ))
}

const EVERY_PUBLICATION: &str = "query($after: String) {
  publications(first: 500, after: $after, orderBy: {field: CREATED_AT, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    nodes { id createdAt channel customer { id name email } campaign { id name }
            vouchers { id code type campaign { name } } }
  }
}";

/// Every stored publication as GraphQL gives it, by id.
async fn stored(app: &TestApp) -> BTreeMap<String, Value> {
    let (mut out, mut after) = (BTreeMap::new(), Value::Null);
    loop {
        let answer = app
            .graphql(EVERY_PUBLICATION, json!({"after": after}))
            .await;
        let page = &answer["data"]["publications"];
        for node in page["nodes"].as_array().expect("nodes") {
            let mut node = node.clone();
            let at = DateTime::parse_from_rfc3339(node["createdAt"].as_str().expect("createdAt"))
                .expect("an instant");
            node["createdAt"] = json!(at.timestamp_millis());
            out.insert(node["id"].as_str().expect("id").to_owned(), node);
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// What GraphQL must give for the successful publications of `listed`.
fn expected(listed: &[Value], known_campaigns: &[&str]) -> BTreeMap<String, Value> {
    listed
        .iter()
        .filter(|p| p["result"] == "SUCCESS")
        .map(|p| {
            let id = p["id"].as_str().expect("id");
            let i: usize = id["pub_".len()..].parse().expect("a number");
            let campaign = campaign_of(i)
                .filter(|name| known_campaigns.contains(name))
                .map_or(
                    Value::Null,
                    |name| json!({"id": campaign_id(name), "name": name}),
                );
            let kind = ["LOYALTY_CARD", "DISCOUNT_VOUCHER", "GIFT_VOUCHER"][i % 3];
            let vouchers: Vec<Value> = match several(i) {
                // Codes only: nothing says their type, and no campaign to ask.
                true => ["a", "b"]
                    .iter()
                    .map(|s| {
                        json!({"id": format!("v_{i:06}_{s}"),
                               "code": format!("CODE-{i:06}-{}", s.to_uppercase()),
                               "type": "DISCOUNT_VOUCHER", "campaign": null})
                    })
                    .collect(),
                false => vec![
                    json!({"id": format!("v_{i:06}"), "code": format!("CODE-{i:06}"),
                                     "type": kind,
                                     "campaign": campaign.get("name").map(|n| json!({"name": n}))}),
                ],
            };
            let at = DateTime::parse_from_rfc3339(p["created_at"].as_str().expect("created_at"))
                .expect("an instant");
            let node = json!({
                "id": id, "createdAt": at.timestamp_millis(), "channel": p["channel"],
                "customer": {"id": p["customer_id"], "name": p["customer"]["name"],
                             "email": p["customer"]["email"]},
                "campaign": campaign, "vouchers": vouchers,
            });
            (id.to_owned(), node)
        })
        .collect()
}

async fn backfill_stores_exactly_what_the_api_lists(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let since = Utc::now() - TimeDelta::days(40);
    let until = Utc::now();
    // The first publication is created in the very millisecond the run starts from (`since`
    // has finer digits than the API's filter takes).
    let listed = listing(2500, since);
    let mock = Mock::new(listed.clone(), mock::campaigns(), 4);
    let url = mock.serve().await;
    // Some assignments arrived by webhook first, among them the first, whose campaign the
    // store then knows by id: the backfill must not ask the API for it.
    let mut webhooked = vec![];
    for (i, p) in listed.iter().enumerate().step_by(97) {
        if !failed(i) && !several(i) {
            let (status, _) = app.post_webhook(webhook_for(i, p)).await;
            assert_eq!(status, 200);
            webhooked.push(i);
        }
    }
    assert!(webhooked.contains(&0));

    // The first run meets a 429, two 5xx, a page slower than the client waits, another 429,
    // then an outage that outlasts its retries.
    mock.fail_next([
        Fault::TooMany,
        Fault::ServerError(500),
        Fault::Pass,
        Fault::Slow(Duration::from_secs(3)),
        Fault::ServerError(502),
        Fault::Pass,
        Fault::TooMany,
    ]);
    mock.go_down_after_pages(6);
    let first = backfill(&app, &url, 2).await;
    let stopped = run(&first, since, until, true).await;
    assert!(
        matches!(stopped, Err(BackfillError::Api(_))),
        "the outage stops the run: {stopped:?}"
    );
    let stored_before_restart = app.count("publications").await;
    assert!(
        stored_before_restart > webhooked.len() as i64,
        "six pages were committed before the outage"
    );
    let reached = app
        .text("SELECT CAST(reached AS TEXT) FROM backfill_progress")
        .await
        .expect("progress was saved");

    // Restarted (a new process would open it the same way), it resumes where it stopped.
    mock.come_back();
    let served_before = mock.served.lock().expect("lock").len();
    let second = backfill(&app, &url, 2).await;
    let summary = run(&second, since, until, true)
        .await
        .expect("the run ends");
    let first_window = mock.served.lock().expect("lock")[served_before].clone();
    assert_eq!(first_window.1, 1);
    let resumed_at = DateTime::parse_from_rfc3339(&first_window.0).expect("an instant");
    assert!(
        resumed_at > since + TimeDelta::hours(1),
        "resumed at {resumed_at}, saved {reached}, not from the start"
    );
    assert_eq!(summary.failed, 0, "{summary}");
    assert_eq!(
        summary.reached.map(|t| t.timestamp_millis()),
        Some(until.timestamp_millis())
    );

    // Everything the API lists, exactly, whatever came by webhook first.
    let known = ["Loyalty Campaign", "Gift Cards", "Spring Discounts"];
    let want = expected(&listed, &known);
    let got = stored(&app).await;
    assert_eq!(got.len(), want.len());
    for (id, want) in &want {
        assert_eq!(got.get(id), Some(want), "publication {id}");
    }
    let api_events = app
        .scalar("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'api.publication'")
        .await;
    assert_eq!(
        api_events as usize,
        want.len() - webhooked.len(),
        "one event per publication the webhooks had not brought"
    );
    // A campaign the store knows is not read; another is read at most once a run.
    let requested = mock.campaign_requests.lock().expect("lock").clone();
    assert!(
        !requested.iter().any(|n| n == "Loyalty Campaign"),
        "{requested:?}"
    );
    for name in mock::CAMPAIGNS {
        let times = requested.iter().filter(|n| *n == name).count();
        assert!(times <= 2, "{name} read {times} times");
    }
    assert!(
        requested.iter().any(|n| n == "Gone Campaign"),
        "{requested:?}"
    );
    // Windows kept every query within the API's page limit (the mock refuses page 5).
    let served = mock.served.lock().expect("lock").clone();
    assert!(served.iter().all(|(_, page)| *page <= 2));
    let windows: std::collections::HashSet<_> = served.iter().map(|(from, _)| from).collect();
    assert!(windows.len() >= 12, "{} windows", windows.len());

    // Run again from the start: nothing new, nothing failed; every publication counted once.
    let again = backfill(&app, &url, 2).await;
    let summary = run(&again, since, until, false)
        .await
        .expect("the run ends");
    let failures = (0..listed.len()).filter(|i| failed(*i)).count() as u64;
    assert_eq!(
        (
            summary.new,
            summary.known,
            summary.not_assigned,
            summary.failed
        ),
        (0, want.len() as u64, failures, 0),
        "{summary}"
    );
    assert_eq!(summary.seen, listed.len() as u64);
    assert_eq!(stored(&app).await, got);
    let total = app
        .graphql(
            "{ assignmentStats(from: \"1970-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\", \
             bucket: DAY) { total } }",
            json!({}),
        )
        .await;
    assert_eq!(
        total["data"]["assignmentStats"]["total"],
        json!(want.len()),
        "{total}"
    );
}

const ASSIGNED: &str = "subscription { voucherAssigned { node { id } } }";

async fn a_webhook_after_the_backfill_adds_no_publication_frame_or_count(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let since = Utc::now() - TimeDelta::days(2);
    let listed = listing(60, since + TimeDelta::minutes(5));
    let mock = Mock::new(listed.clone(), mock::campaigns(), 1000);
    let url = mock.serve().await;
    let mut client = WsClient::ready(&app).await;
    client.subscribe("1", ASSIGNED, json!({})).await;
    // The subscription is live once a first assignment (by webhook) reaches it. Its customer's
    // name differs from the one the list gives: the list's summary never overwrites a webhook's
    // facts.
    let mut hooked = listed[0].clone();
    hooked["customer"]["name"] = json!("Named by webhook");
    app.post_webhook(webhook_for(0, &hooked)).await;
    assert_eq!(
        client.next_n("1", 1).await[0]["data"]["voucherAssigned"]["node"]["id"],
        "pub_000000"
    );
    let summary = run(&backfill(&app, &url, 100).await, since, Utc::now(), true)
        .await
        .expect("the run ends");
    let assigned: Vec<usize> = (0..listed.len()).filter(|i| !failed(*i)).collect();
    assert_eq!(summary.new as usize, assigned.len() - 1, "{summary}");
    let frames = client.next_n("1", assigned.len() - 1).await;
    let mut ids: Vec<&str> = frames
        .iter()
        .map(|f| {
            f["data"]["voucherAssigned"]["node"]["id"]
                .as_str()
                .expect("an id")
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        assigned.len() - 1,
        "each backfilled assignment once"
    );
    let customer = app
        .graphql("{ customer(id: \"cust_0000\") { name } }", json!({}))
        .await;
    assert_eq!(customer["data"]["customer"]["name"], "Named by webhook");

    // Their webhooks arrive late: stored as events, but no publication, frame or count. A new
    // assignment after them is the next frame.
    for i in [3, 4, 5, 8] {
        let (status, body) = app.post_webhook(webhook_for(i, &listed[i])).await;
        assert_eq!((status.as_u16(), &body["status"]), (200, &json!("stored")));
    }
    let mut fresh = listed[1].clone();
    fresh["id"] = json!("pub_999999");
    fresh["vouchers_id"] = json!(["v_999999"]);
    app.post_webhook(webhook_for(1, &fresh)).await;
    let next = client.next_n("1", 1).await;
    assert_eq!(
        next[0]["data"]["voucherAssigned"]["node"]["id"],
        "pub_999999"
    );
    assert_eq!(app.count("publications").await, assigned.len() as i64 + 1);
    let total = app
        .graphql("{ publications { totalCount } }", json!({}))
        .await;
    assert_eq!(
        total["data"]["publications"]["totalCount"],
        json!(assigned.len() + 1)
    );
}

async fn an_api_that_ignores_the_window_is_read_newest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let start = Utc::now() - TimeDelta::days(3);
    let listed = listing(450, start);
    let mock = Mock::new(listed.clone(), mock::campaigns(), 1000);
    mock.ignore_window();
    let url = mock.serve().await;
    let at = |i: usize| {
        DateTime::parse_from_rfc3339(listed[i]["created_at"].as_str().expect("at"))
            .expect("an instant")
            .with_timezone(&Utc)
    };
    // A window in the middle: the first page the API sends begins before it, so nothing of it
    // is stored, and the run reads newest first down to the window's start.
    let (since, until) = (at(120), at(330));
    let summary = run(&backfill(&app, &url, 100).await, since, until, true)
        .await
        .expect("the run ends");
    let inside: Vec<usize> = (0..listed.len())
        .filter(|i| (since..until).contains(&at(*i)))
        .collect();
    let assigned = inside.iter().filter(|i| !failed(**i)).count();
    assert_eq!(
        (summary.new as usize, summary.seen as usize),
        (assigned, inside.len()),
        "{summary}"
    );
    let mut want: Vec<String> = inside
        .iter()
        .filter(|i| !failed(**i))
        .map(|i| format!("pub_{i:06}"))
        .collect();
    want.sort();
    let got: Vec<String> = stored(&app).await.into_keys().collect();
    assert_eq!(got, want);
    // Page 1 asked with the window, then newest first from page 1 until past the start.
    let served = mock.served.lock().expect("lock").clone();
    assert_eq!(served.len(), 1 + 4, "{served:?}");

    // When the newest-first pages end before the window's start, the run says so.
    let few = Mock::new(listed.clone(), mock::campaigns(), 2);
    few.ignore_window();
    let url = few.serve().await;
    let stopped = run(&backfill(&app, &url, 100).await, at(10), at(20), false).await;
    let Err(e) = stopped else {
        panic!("the run must stop: {stopped:?}");
    };
    assert!(e.to_string().contains("Page over limit"), "{e}");
    assert_eq!(
        stored(&app).await.len(),
        want.len(),
        "nothing outside a window"
    );
}

async fn serve_reconciles_in_the_background(backend: Backend) {
    let listed = listing(40, Utc::now() - TimeDelta::hours(5));
    let mock = Mock::new(listed.clone(), mock::campaigns(), 1000);
    let url = mock.serve().await;
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.reconcile = Some(Reconcile {
            credentials: credentials(&url),
            patience: PATIENCE,
            every: Duration::from_millis(200),
        });
    })
    .await
    else {
        return;
    };
    let assigned = (0..listed.len()).filter(|i| !failed(*i)).count();
    metric_reaches(
        &app,
        "pubgate_reconcile_publications_found_total",
        assigned as f64,
    )
    .await;
    assert_eq!(app.count("publications").await, assigned as i64);
    assert!(metric(&app, "pubgate_reconcile_last_success_timestamp_seconds").await > 0.0);
    // Later runs read again from a little before where the last one got to and find nothing.
    let served = mock.served.lock().expect("lock").len();
    let deadline = tokio::time::Instant::now() + WAIT;
    while mock.served.lock().expect("lock").len() < served + 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        metric(&app, "pubgate_reconcile_publications_found_total").await,
        assigned as f64
    );
    assert_eq!(metric(&app, "pubgate_reconcile_failures_total").await, 0.0);
}

/// `pubgate backfill` as a user runs it: refused credentials name the flag and exit non-zero;
/// a run prints its summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_command_names_the_flag_and_prints_a_summary() {
    let listed = listing(25, Utc::now() - TimeDelta::days(1));
    let mock = Mock::new(listed, mock::campaigns(), 1000);
    let url = mock.serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let command = |token: Option<&str>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pubgate"));
        command
            .args(["backfill", "--since", "2020-01-01", "--quiet"])
            .args(["--database-url", &database, "--voucherify-url", &url])
            .args(["--voucherify-app-id", APP_ID])
            .env_remove("PUBGATE_VOUCHERIFY_APP_TOKEN")
            .kill_on_drop(true);
        if let Some(token) = token {
            command.args(["--voucherify-app-token", token]);
        }
        command
    };
    let output = |mut command: tokio::process::Command| async move {
        tokio::time::timeout(WAIT, command.output())
            .await
            .expect("the command ends")
            .expect("it runs")
    };
    let missing = output(command(None)).await;
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--voucherify-app-token"), "{stderr}");

    let refused = output(command(Some("wrong"))).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused the credentials") && stderr.contains("--voucherify-app-token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong"),
        "the token is never printed: {stderr}"
    );

    let ran = output(command(Some(APP_TOKEN))).await;
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let assigned = (0..25).filter(|i| !failed(*i)).count();
    assert!(
        stdout.contains(&format!(
            "25 publications seen: {assigned} new, 0 already known"
        )),
        "{stdout}"
    );
}

/// How long a backfill of many publications from the mock takes (not a test: a measurement,
/// run by hand, e.g. `PUBGATE_BACKFILL_N=100000 cargo test --release --test api
/// backfill_measure -- --ignored --nocapture`, with PUBGATE_TEST_POSTGRES_URL for PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn backfill_measure() {
    let n: usize = std::env::var("PUBGATE_BACKFILL_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let since = Utc::now() - TimeDelta::days(400);
        let mock = Mock::new(listing(n, since), mock::campaigns(), 1000);
        let url = mock.serve().await;
        let started = std::time::Instant::now();
        let run = backfill(&app, &url, pubgate::backfill::WINDOW_PAGES).await;
        let summary = run
            .run(since, Utc::now(), true)
            .await
            .expect("the run ends");
        let took = started.elapsed();
        eprintln!(
            "{backend:?}: {n} publications in {took:.1?} ({:.0}/s): {summary}",
            n as f64 / took.as_secs_f64()
        );
    }
}

//! `pubgate simulate`: posts generated, signed deliveries to a running gateway and reports.

mod generate;

pub use generate::Generator;

use crate::webhook::{SIGNATURE_HEADER, signature};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::{collections::BTreeMap, fmt, time::Duration};
use tokio::time::Instant;

/// `pubgate simulate` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// The gateway's base URL (or the full webhook URL).
    #[arg(
        long,
        env = "PUBGATE_SIMULATE_TARGET",
        default_value = "http://127.0.0.1:8080"
    )]
    pub target: String,
    /// Webhook secret to sign with; without it, deliveries go unsigned.
    #[arg(long, env = "PUBGATE_SIMULATE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Deliveries to post.
    #[arg(long, default_value_t = 1000)]
    pub events: u64,
    /// Deliveries per second overall (default: as fast as the gateway answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Distinct customers.
    #[arg(long, default_value_t = 200)]
    pub customers: u64,
    /// Distinct campaigns (cycling through discount, gift and loyalty kinds).
    #[arg(long, default_value_t = 12)]
    pub campaigns: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Share of deliveries that re-send an earlier one byte for byte.
    #[arg(long, default_value_t = 0.02)]
    pub duplicate_ratio: f64,
    /// Seed for a reproducible run (default: random, so reruns add new data).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What happened to one posted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Stored,
    Duplicate,
    Status(u16),
    Transport,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Non-200 answers by status code.
    pub rejected: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Summary {
    /// True when any delivery was not acknowledged.
    pub fn failed(&self) -> bool {
        !self.rejected.is_empty() || self.transport_errors > 0
    }

    /// Acknowledged deliveries per second.
    pub fn throughput(&self) -> f64 {
        (self.stored + self.duplicates) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sent        {}", self.sent)?;
        writeln!(f, "stored      {}", self.stored)?;
        writeln!(f, "duplicates  {}", self.duplicates)?;
        for (status, n) in &self.rejected {
            writeln!(f, "rejected    {n} with HTTP {status}")?;
        }
        if self.transport_errors > 0 {
            writeln!(f, "unreachable {}", self.transport_errors)?;
        }
        writeln!(f, "elapsed     {:.2} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "throughput  {:.0} deliveries/s", self.throughput())?;
        write!(
            f,
            "latency     p50 {:.2} ms, p99 {:.2} ms",
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// The webhook URL for a target given as a base URL or as the full URL.
pub fn webhook_url(target: &str) -> String {
    let trimmed = target.trim_end_matches('/');
    if trimmed.ends_with("/webhooks/voucherify") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/webhooks/voucherify")
    }
}

/// Posts `body`, signed with `secret` when given.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, signature::sign(secret.as_bytes(), &body));
    }
    request.body(body).send().await
}

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let Ok(response) = post(client, url, secret, body).await else {
        return Answer::Transport;
    };
    let status = response.status().as_u16();
    let Ok(json) = response.json::<serde_json::Value>().await else {
        return Answer::Status(status);
    };
    match (status, json["status"].as_str()) {
        (200, Some("stored")) => Answer::Stored,
        (200, Some("duplicate")) => Answer::Duplicate,
        _ => Answer::Status(status),
    }
}

/// Runs a whole simulation and summarises it.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<Summary> {
    let url = webhook_url(&args.target);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut generator = Generator::new(seed, args.customers, args.campaigns, args.duplicate_ratio);
    let bar = progress(args);
    let started = Instant::now();
    let rate = args.rate.filter(|r| *r > 0.0);
    let secret = args.secret.as_deref();
    let answers: Vec<(Answer, Duration)> = futures::stream::iter(0..args.events)
        .map(|i| {
            let body = generator.next_body();
            let (client, url, bar) = (&client, &url, &bar);
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                let sent = Instant::now();
                let answer = deliver(client, url, secret, body).await;
                bar.inc(1);
                (answer, sent.elapsed())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    Ok(summarise(answers, started.elapsed()))
}

fn progress(args: &SimulateArgs) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(args.events);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} deliveries ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn summarise(mut answers: Vec<(Answer, Duration)>, elapsed: Duration) -> Summary {
    let mut summary = Summary {
        sent: answers.len() as u64,
        elapsed,
        ..Summary::default()
    };
    for (answer, _) in &answers {
        match answer {
            Answer::Stored => summary.stored += 1,
            Answer::Duplicate => summary.duplicates += 1,
            Answer::Status(code) => *summary.rejected.entry(*code).or_default() += 1,
            Answer::Transport => summary.transport_errors += 1,
        }
    }
    answers.sort_by_key(|(_, latency)| *latency);
    let at = |q: f64| {
        let index = ((answers.len() as f64 * q).ceil() as usize).saturating_sub(1);
        answers.get(index).map(|(_, l)| *l).unwrap_or_default()
    };
    summary.p50 = at(0.50);
    summary.p99 = at(0.99);
    summary
}

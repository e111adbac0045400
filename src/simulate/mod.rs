//! `pubgate simulate`: posts generated, signed deliveries to a running gateway, retrying as
//! Voucherify does, and reports.

mod generate;
mod summary;

pub use crate::retry::{Backoff, Cause};
pub use generate::Generator;
pub use summary::Summary;

use crate::webhook::{SIGNATURE_HEADER, signature};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use summary::{Delivery, Ending};
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
    /// Times a delivery is tried again after a 5xx, 408 or 429 answer or none at all, as
    /// Voucherify does (0: never). Any other answer is final at once.
    #[arg(long, env = "PUBGATE_SIMULATE_MAX_RETRIES", default_value_t = 5)]
    pub max_retries: u32,
    /// Milliseconds before the first retry; each further retry waits twice as long (half of it
    /// random), unless the answer's Retry-After says how long.
    #[arg(long, env = "PUBGATE_SIMULATE_RETRY_BASE_MS", default_value_t = 500)]
    pub retry_base_ms: u64,
    /// Longest wait before a retry, in milliseconds, Retry-After included.
    #[arg(long, env = "PUBGATE_SIMULATE_RETRY_MAX_MS", default_value_t = 30_000)]
    pub retry_max_ms: u64,
}

impl SimulateArgs {
    /// The retry policy these flags describe.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            max_retries: self.max_retries,
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms),
        }
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

/// One attempt: delivered (`Ok`) or why not, with the answer's Retry-After.
async fn attempt(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> Result<Ending, (Cause, Option<Duration>)> {
    let response = post(client, url, secret, body)
        .await
        .map_err(|_| (Cause::Unreachable, None))?;
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::retry_after(v, chrono::Utc::now()));
        return Err((Cause::Status(status.as_u16()), retry_after));
    }
    // Like Voucherify, any 2xx delivers; pubgate's answer also says whether it was new.
    let answer = response.json::<serde_json::Value>().await.ok();
    Ok(match answer.as_ref().and_then(|a| a["status"].as_str()) {
        Some("stored") => Ending::Stored,
        Some("duplicate") => Ending::Duplicate,
        _ => Ending::Accepted,
    })
}

/// Posts `body` until it is delivered, refused for good, or out of retries.
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
    backoff: Backoff,
    retried: &AtomicU64,
) -> Delivery {
    let (mut retries, mut latencies) = (Vec::new(), Vec::new());
    loop {
        let sent = Instant::now();
        let result = attempt(client, url, secret, body.clone()).await;
        latencies.push(sent.elapsed());
        let (cause, retry_after) = match result {
            Ok(ending) => {
                break Delivery {
                    ending,
                    retries,
                    latencies,
                };
            }
            Err(failure) => failure,
        };
        let retry = retries.len() as u32;
        if !cause.retryable() || retry >= backoff.max_retries {
            let ending = Ending::Failed(cause);
            break Delivery {
                ending,
                retries,
                latencies,
            };
        }
        retries.push(cause);
        retried.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff.delay(retry, retry_after, rand::random())).await;
    }
}

/// Runs a whole simulation and summarises it.
pub async fn run(args: &SimulateArgs) -> anyhow::Result<Summary> {
    let url = webhook_url(&args.target);
    reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("--target {url:?}: {e}"))?;
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
    let (backoff, retried) = (args.backoff(), AtomicU64::new(0));
    let deliveries: Vec<Delivery> = futures::stream::iter(0..args.events)
        .map(|i| {
            let body = generator.next_body();
            let (client, url, bar, retried) = (&client, &url, &bar, &retried);
            async move {
                if let Some(rate) = rate {
                    tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                let delivery = deliver(client, url, secret, body, backoff, retried).await;
                bar.set_message(format!("{} retries", retried.load(Ordering::Relaxed)));
                bar.inc(1);
                delivery
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    Ok(summary::summarise(deliveries, started.elapsed()))
}

fn progress(args: &SimulateArgs) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(args.events);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} deliveries ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

//! What a run did: deliveries stored, duplicates, retries and failures apart, speed and latency.

use crate::retry::Cause;
use std::{collections::BTreeMap, fmt, time::Duration};

/// How one delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// pubgate stored it.
    Stored,
    /// pubgate had it already.
    Duplicate,
    /// Another 2xx: the target took it without saying more (it is not pubgate).
    Accepted,
    /// Not delivered: the last attempt's cause (retried as often as allowed, if retryable).
    Failed(Cause),
}

/// One delivery: how it ended, what each retry was for, and how long each attempt took.
#[derive(Debug)]
pub(super) struct Delivery {
    pub ending: Ending,
    pub retries: Vec<Cause>,
    pub latencies: Vec<Duration>,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Deliveries (each counted once, however many attempts it took).
    pub sent: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Deliveries taken with another 2xx than pubgate's (the target is not pubgate).
    pub accepted: u64,
    /// Retries, by what the attempt before each got.
    pub retries: BTreeMap<Cause, u64>,
    /// Deliveries that were never delivered, by what their last attempt got.
    pub failed: BTreeMap<Cause, u64>,
    /// Of the failed, those that used every retry allowed (the rest were refused for good).
    pub gave_up: u64,
    pub elapsed: Duration,
    /// Latency of an attempt (every attempt, retries included).
    pub p50: Duration,
    pub p99: Duration,
}

impl Summary {
    /// True when any delivery was not delivered.
    pub fn failed(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Deliveries that failed.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Retries made, whatever they were for.
    pub fn retried(&self) -> u64 {
        self.retries.values().sum()
    }

    /// Delivered deliveries per second.
    pub fn throughput(&self) -> f64 {
        (self.stored + self.duplicates + self.accepted) as f64
            / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `HTTP 503: 4, unreachable: 1`.
fn by_cause(counts: &BTreeMap<Cause, u64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    parts.join(", ")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sent        {}", self.sent)?;
        writeln!(f, "stored      {}", self.stored)?;
        writeln!(f, "duplicates  {}", self.duplicates)?;
        if self.accepted > 0 {
            writeln!(f, "accepted    {} (a 2xx not from pubgate)", self.accepted)?;
        }
        writeln!(f, "retries     {}", self.retried())?;
        if !self.retries.is_empty() {
            writeln!(f, "  after     {}", by_cause(&self.retries))?;
        }
        writeln!(f, "failed      {}", self.failures())?;
        if !self.failed.is_empty() {
            writeln!(f, "  last      {}", by_cause(&self.failed))?;
            writeln!(f, "  gave up   {} after every retry", self.gave_up)?;
        }
        writeln!(f, "elapsed     {:.2} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "throughput  {:.0} deliveries/s", self.throughput())?;
        // Benchmark scripts read the line as it ends: `p99 <ms> ms`.
        write!(
            f,
            "latency     p50 {:.2} ms, p99 {:.2} ms",
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// Counts `deliveries` into a summary of a run that took `elapsed`.
pub(super) fn summarise(deliveries: Vec<Delivery>, elapsed: Duration) -> Summary {
    let mut summary = Summary {
        sent: deliveries.len() as u64,
        elapsed,
        ..Summary::default()
    };
    let mut latencies = Vec::new();
    for delivery in deliveries {
        match delivery.ending {
            Ending::Stored => summary.stored += 1,
            Ending::Duplicate => summary.duplicates += 1,
            Ending::Accepted => summary.accepted += 1,
            Ending::Failed(cause) => {
                *summary.failed.entry(cause).or_default() += 1;
                summary.gave_up += u64::from(cause.retryable());
            }
        }
        for cause in delivery.retries {
            *summary.retries.entry(cause).or_default() += 1;
        }
        latencies.extend(delivery.latencies);
    }
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(index).copied().unwrap_or_default()
    };
    summary.p50 = at(0.50);
    summary.p99 = at(0.99);
    summary
}

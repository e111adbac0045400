//! Trying an HTTP request again as Voucherify does with its webhooks: after a 5xx, 408 or 429
//! answer or no answer at all, with exponential backoff and jitter (or after the answer's
//! `Retry-After`), up to a bound. `simulate` delivers this way; the backfill reads Voucherify's
//! API with the same rule for what is worth another try and the same `Retry-After` reading.

use chrono::{DateTime, Utc};
use std::{fmt, time::Duration};

/// Why an attempt did not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The target answered with this status (not a 2xx).
    Status(u16),
    /// No answer: the connection failed, was cut or timed out.
    Unreachable,
}

impl Cause {
    /// True when a later attempt may succeed: a server error, 408, 429 or no answer. Any other
    /// answer (400, 401, 413…) would be the same the next time.
    pub fn retryable(self) -> bool {
        match self {
            Cause::Status(status) => status >= 500 || status == 408 || status == 429,
            Cause::Unreachable => true,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Status(status) => write!(f, "HTTP {status}"),
            Cause::Unreachable => f.write_str("unreachable"),
        }
    }
}

/// When, and how often, a failed delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts after the first.
    pub max_retries: u32,
    /// The wait before the first retry; each further retry doubles it.
    pub base: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry `retry` (0 for the first): what the answer's `Retry-After` asks,
    /// else `base` doubled `retry` times with "equal jitter" (half of it fixed, half random, so
    /// that deliveries refused together do not all come back together); never over `max`.
    /// `jitter` is a random number in [0, 1].
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max);
        }
        let doubled = self.base.saturating_mul(1 << retry.min(30)).min(self.max);
        doubled.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// A `Retry-After` value as a wait from `now`: delay-seconds or an HTTP date (a date already
/// past is no wait). `None` when it is neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        max_retries: 5,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };

    #[test]
    fn server_errors_timeouts_throttling_and_silence_are_retried_nothing_else() {
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(Cause::Status(status).retryable(), "{status}");
        }
        assert!(Cause::Unreachable.retryable());
        for status in [400, 401, 404, 405, 413, 415, 422] {
            assert!(!Cause::Status(status).retryable(), "{status}");
        }
    }

    #[test]
    fn waits_double_with_jitter_up_to_the_bound() {
        let ms = |retry, jitter| BACKOFF.delay(retry, None, jitter).as_millis();
        assert_eq!((ms(0, 0.0), ms(0, 1.0)), (50, 100));
        assert_eq!((ms(1, 0.0), ms(1, 1.0)), (100, 200));
        assert_eq!((ms(3, 0.0), ms(3, 1.0)), (400, 800));
        assert_eq!(
            (ms(4, 0.0), ms(4, 1.0)),
            (500, 1000),
            "capped, then jittered"
        );
        assert_eq!(ms(u32::MAX, 1.0), 1000, "no overflow");
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_bound() {
        let asked = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(BACKOFF.delay(0, asked(0), 1.0), Duration::ZERO);
        assert_eq!(BACKOFF.delay(3, asked(1), 0.0), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(0, asked(3600), 0.0), BACKOFF.max);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Thu, 03 Dec 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Thu, 03 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }
}

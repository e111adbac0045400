//! A client of the two Voucherify REST endpoints the backfill reads: `GET /v1/publications`
//! (one page of a time window, oldest first) and `GET /v1/campaigns/{name}`. It retries what
//! may pass (429 after its `Retry-After`, 408, 5xx, a timeout, a dropped connection) with
//! exponential backoff, and gives up at once on what will not (refused credentials, a refused
//! request).

pub use crate::config::{Credentials, Patience};
use crate::retry::{Cause, retry_after};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// Publications per page: the endpoint's maximum.
pub const LIMIT: usize = 100;
/// The last page the endpoint serves of one query (`page_over_limit` beyond).
pub const LAST_PAGE: u32 = 1000;
/// The longest wait between two attempts, whatever `Retry-After` asks for.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Voucherify refused the credentials ({status}: {message}); check --voucherify-app-id and \
         --voucherify-app-token (PUBGATE_VOUCHERIFY_APP_ID, PUBGATE_VOUCHERIFY_APP_TOKEN) and that \
         --voucherify-url is the project's region"
    )]
    Unauthorized { status: StatusCode, message: String },
    #[error("Voucherify refused {what} ({status}: {message})")]
    Refused {
        what: String,
        status: StatusCode,
        message: String,
    },
    #[error("Voucherify did not answer {what} after {attempts} attempts: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        last: String,
    },
}

/// One page of publications: each one's JSON text exactly as sent.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub publications: Vec<Box<RawValue>>,
    /// How many publications the window holds in all (absent: unknown).
    #[serde(default)]
    pub total: Option<u64>,
}

/// What happened to one attempt.
enum Attempt {
    Done(Option<String>),
    /// Worth another try, after at least this long.
    Again(String, Option<Duration>),
    Failed(ApiError),
}

/// A Voucherify API client; cheap to clone.
#[derive(Clone)]
pub struct Voucherify {
    http: reqwest::Client,
    credentials: Credentials,
    patience: Patience,
    /// Retried attempts so far (429, 5xx, timeouts, dropped connections).
    retried: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Voucherify {
    pub fn new(credentials: Credentials, patience: Patience) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(patience.timeout)
            .user_agent(concat!("pubgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Voucherify {
            http,
            credentials,
            patience,
            retried: Default::default(),
        })
    }

    /// The API this client reads, for progress records: its URL and application id.
    pub fn source(&self) -> String {
        format!(
            "{} app {}",
            self.credentials.url.trim_end_matches('/'),
            self.credentials.app_id
        )
    }

    /// Attempts that were retried so far.
    pub fn retried(&self) -> u64 {
        self.retried.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Page `page` (from 1) of the publications created in `[from, until)`, oldest first.
    pub async fn publications(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        page: u32,
    ) -> Result<Page, ApiError> {
        let instant = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let query = [
            ("limit", LIMIT.to_string()),
            ("page", page.to_string()),
            ("order", "created_at".into()),
            ("filters[junction]", "and".into()),
            (
                "filters[created_at][conditions][$more_than_equal][0]",
                instant(from),
            ),
            (
                "filters[created_at][conditions][$less_than][0]",
                instant(until),
            ),
        ];
        let what = format!("publications page {page} from {}", instant(from));
        self.list(&query, what).await
    }

    /// Page `page` (from 1) of every publication, newest first (no filter).
    pub async fn newest_publications(&self, page: u32) -> Result<Page, ApiError> {
        let query = [
            ("limit", LIMIT.to_string()),
            ("page", page.to_string()),
            ("order", "-created_at".into()),
        ];
        self.list(&query, format!("publications page {page}, newest first"))
            .await
    }

    async fn list(&self, query: &[(&str, String)], what: String) -> Result<Page, ApiError> {
        let text = self
            .get("/v1/publications", query, &what)
            .await?
            .ok_or_else(|| ApiError::Refused {
                what: what.clone(),
                status: StatusCode::NOT_FOUND,
                message: "no such endpoint: is --voucherify-url right?".into(),
            })?;
        serde_json::from_str(&text).map_err(|e| ApiError::Refused {
            what,
            status: StatusCode::OK,
            message: format!("the answer is not a publications list: {e}"),
        })
    }

    /// The campaign named `name` as JSON text, or `None` when there is none.
    pub async fn campaign(&self, name: &str) -> Result<Option<String>, ApiError> {
        let path = format!("/v1/campaigns/{}", urlencode(name));
        self.get(&path, &[], &format!("campaign {name:?}")).await
    }

    /// A GET with retries; `None` for a 404.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Option<String>, ApiError> {
        let url = format!("{}{path}", self.credentials.url.trim_end_matches('/'));
        let mut attempt = 0;
        loop {
            let sent = self
                .http
                .get(&url)
                .query(query)
                .header("X-App-Id", &self.credentials.app_id)
                .header("X-App-Token", &self.credentials.app_token)
                .header("Accept", "application/json")
                .send()
                .await;
            let (last, asked) = match self.read(sent, what).await {
                Attempt::Done(text) => return Ok(text),
                Attempt::Failed(e) => return Err(e),
                Attempt::Again(last, asked) => (last, asked),
            };
            if attempt >= self.patience.retries {
                return Err(ApiError::GaveUp {
                    what: what.to_owned(),
                    attempts: attempt + 1,
                    last,
                });
            }
            let backoff = self.patience.backoff.saturating_mul(1 << attempt.min(16));
            let wait = asked.unwrap_or(backoff).min(MAX_WAIT);
            tracing::warn!(what, %last, attempt = attempt + 1, ?wait, "Voucherify: trying again");
            self.retried
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn read(&self, sent: reqwest::Result<reqwest::Response>, what: &str) -> Attempt {
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Attempt::Again(transport(e), None),
        };
        let status = response.status();
        let asked = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, Utc::now()));
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return Attempt::Again(transport(e), None),
        };
        match status {
            s if s.is_success() => Attempt::Done(Some(text)),
            StatusCode::NOT_FOUND => Attempt::Done(None),
            s if Cause::Status(s.as_u16()).retryable() => {
                Attempt::Again(format!("{status}"), asked)
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Attempt::Failed(ApiError::Unauthorized {
                    status,
                    message: message(&text),
                })
            }
            _ => Attempt::Failed(ApiError::Refused {
                what: what.to_owned(),
                status,
                message: message(&text),
            }),
        }
    }
}

/// What a transport error was, without the URL (which holds nothing secret, but is long).
fn transport(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    format!("{kind}: {}", e.without_url())
}

/// Voucherify's error `message` (and `details`), else the start of the body.
fn message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |key: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(key)?.as_str().map(str::to_owned))
    };
    match (field("message"), field("details")) {
        (Some(m), Some(d)) => format!("{m}: {d}"),
        (Some(m), None) => m,
        _ => body.chars().take(200).collect(),
    }
}

/// A path segment, percent-encoded (campaign names hold spaces and more).
fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_as_one_segment() {
        assert_eq!(urlencode("Spring 2024/ü"), "Spring%202024%2F%C3%BC");
    }

    #[test]
    fn the_token_is_never_printed() {
        let credentials = Credentials {
            url: "https://api.voucherify.io".into(),
            app_id: "id".into(),
            app_token: "very-secret".into(),
        };
        assert!(!format!("{credentials:?}").contains("very-secret"));
    }
}

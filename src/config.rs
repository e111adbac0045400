//! Validated configuration. Only `main` reads the environment (through clap); tests build it.

use std::{fmt, net::SocketAddr, time::Duration};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `pubgate serve` needs.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Current and previous webhook signing secrets; any may match.
    pub webhook_secrets: Vec<String>,
    /// Bearer tokens that may read the GraphQL API.
    pub api_tokens: Vec<String>,
    pub allow_unsigned_webhooks: bool,
    pub allow_anonymous_read: bool,
    pub max_body_bytes: usize,
    pub db_max_connections: u32,
    /// Longest a webhook waits for its commit before answering 503.
    pub ingest_timeout: Duration,
    pub query_depth: usize,
    pub query_complexity: usize,
    /// How long a WebSocket client has to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// How often the server pings a WebSocket client.
    pub ws_ping_interval: Duration,
    /// Feed batches a subscriber may fall behind before its stream ends with a resumable error.
    pub subscriber_queue: usize,
}

impl Config {
    /// Defaults for `database_url` on `listen`; the rest as documented in API.md.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Config {
            listen,
            database_url: database_url.into(),
            webhook_secrets: vec![],
            api_tokens: vec![],
            allow_unsigned_webhooks: false,
            allow_anonymous_read: false,
            max_body_bytes: 1024 * 1024,
            db_max_connections: 10,
            ingest_timeout: Duration::from_secs(10),
            query_depth: 16,
            query_complexity: 50_000,
            ws_init_timeout: Duration::from_secs(10),
            subscriber_queue: 256,
            ws_ping_interval: Duration::from_secs(15),
        }
    }

    /// Refuses unsafe combinations: on a non-loopback address both the webhook and the GraphQL
    /// API must be guarded, or explicitly opened.
    pub fn validate(&self) -> Result<(), String> {
        if self
            .webhook_secrets
            .iter()
            .chain(&self.api_tokens)
            .any(String::is_empty)
        {
            return Err("webhook secrets and API tokens must not be empty".into());
        }
        if self.subscriber_queue == 0 {
            return Err("--subscriber-queue must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            return Err("--max-body-bytes must be at least 1".into());
        }
        if self.listen.ip().is_loopback() {
            return Ok(());
        }
        if self.webhook_secrets.is_empty() && !self.allow_unsigned_webhooks {
            return Err(format!(
                "refusing to listen on {} without --webhook-secret (PUBGATE_WEBHOOK_SECRETS): \
                 anyone could post webhooks; pass --allow-unsigned-webhooks to accept that",
                self.listen
            ));
        }
        if self.api_tokens.is_empty() && !self.allow_anonymous_read {
            return Err(format!(
                "refusing to listen on {} without --api-token (PUBGATE_API_TOKENS): anyone could \
                 read customers and vouchers; pass --allow-anonymous-read to accept that",
                self.listen
            ));
        }
        Ok(())
    }

    /// True when unsigned webhooks are taken (no secret configured).
    pub fn unsigned_webhooks(&self) -> bool {
        self.webhook_secrets.is_empty()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "webhook_secrets",
                &format!("{} redacted", self.webhook_secrets.len()),
            )
            .field("api_tokens", &format!("{} redacted", self.api_tokens.len()))
            .field("allow_unsigned_webhooks", &self.allow_unsigned_webhooks)
            .field("allow_anonymous_read", &self.allow_anonymous_read)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("db_max_connections", &self.db_max_connections)
            .field("ingest_timeout", &self.ingest_timeout)
            .field("query_depth", &self.query_depth)
            .field("query_complexity", &self.query_complexity)
            .field("ws_init_timeout", &self.ws_init_timeout)
            .field("subscriber_queue", &self.subscriber_queue)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .finish()
    }
}

/// The URL with any password replaced, fit for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(addr: &str) -> Config {
        Config::new(addr.parse().expect("addr"), "sqlite::memory:")
    }

    #[test]
    fn loopback_needs_nothing() {
        assert!(on("127.0.0.1:0").validate().is_ok());
        assert!(on("[::1]:0").validate().is_ok());
    }

    #[test]
    fn public_address_names_the_missing_flag() {
        let err = on("0.0.0.0:8080").validate().expect_err("refused");
        assert!(err.contains("--webhook-secret"), "{err}");
        let mut config = on("0.0.0.0:8080");
        config.webhook_secrets = vec!["s".into()];
        let err = config.validate().expect_err("refused");
        assert!(err.contains("--api-token"), "{err}");
        config.allow_anonymous_read = true;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut config = on("127.0.0.1:0");
        config.database_url = "postgres://app:hunter2@db/x".into();
        config.webhook_secrets = vec!["topsecret".into()];
        let text = format!("{config:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("topsecret"),
            "{text}"
        );
    }
}

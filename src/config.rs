//! Validated configuration. Only `main` reads the environment (through clap); tests build it.

use std::{fmt, net::SocketAddr, time::Duration};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Trusted documents: document text by the lowercase hex SHA-256 of that text.
pub type Manifest = std::collections::HashMap<String, std::sync::Arc<str>>;

/// When text log lines carry ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogColor {
    /// Only when stderr is a terminal and `NO_COLOR` is not set (not into journald, a pipe or
    /// a file, where escape codes are noise).
    Auto,
    Always,
    Never,
}

impl LogColor {
    /// Whether lines written to stderr get colours.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            LogColor::Always => true,
            LogColor::Never => false,
            LogColor::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Where and as whom to read.
#[derive(Clone)]
pub struct Credentials {
    /// `https://api.voucherify.io` or a regional cluster.
    pub url: String,
    pub app_id: String,
    pub app_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("app_id", &self.app_id)
            .field("app_token", &"<redacted>")
            .finish()
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Attempts after the first, for what may pass.
    pub retries: u32,
    /// The first backoff; it doubles with each retry.
    pub backoff: Duration,
    /// Longest a request may take, body included.
    pub timeout: Duration,
}

/// `serve --reconcile-every`: the backfill, run again and again in the background.
#[derive(Debug, Clone)]
pub struct Reconcile {
    pub credentials: Credentials,
    pub patience: Patience,
    pub every: Duration,
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
    /// Longest a plain HTTP request may take, body included (408 after). Streams (WebSocket,
    /// SSE) are not cut by it once their response has started.
    pub request_timeout: Duration,
    /// Operations one WebSocket connection may run at once.
    pub max_subscriptions_per_connection: usize,
    /// Subscriptions (WebSocket operations and SSE streams) this instance runs at once.
    pub max_subscriptions: usize,
    /// Refuse `__schema` / `__type` queries.
    pub disable_introspection: bool,
    /// Origins browsers may call the API from (`*` for any); none means same-origin only.
    pub cors_origins: Vec<String>,
    /// Host names (beyond loopback ones) requests may name while the gateway listens on
    /// loopback with a route left open (no API token, or no webhook secret): the guard against
    /// DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// How long shutdown waits for open requests and streams before closing them anyway.
    pub shutdown_timeout: Duration,
    /// Commit every delivery in a transaction of its own instead of grouping them (the hidden
    /// `--ingest-one-by-one`: benchmarks measure what group commit gains with it).
    pub ingest_one_by_one: bool,
    /// Bytes of answers to repeated queries kept while nothing new is committed (0: off).
    pub query_cache_bytes: usize,
    /// Resolve every reference on its own through the batch loaders, without look-ahead (the
    /// hidden `--plain-execution`: the differential test compares both paths' answers, and
    /// benchmarks measure what look-ahead gains).
    pub plain_execution: bool,
    /// Answer every query through the resolvers, never by direct execution (the hidden
    /// `--resolver-execution`: the differential test compares both, and benchmarks measure
    /// what direct execution gains). Implied by `plain_execution`.
    pub resolver_execution: bool,
    /// Documents a request may name by hash (`--trusted-documents FILE`).
    pub trusted_documents: std::sync::Arc<Manifest>,
    /// Run no document but the trusted ones (and the built-in dashboard's own).
    pub only_trusted_documents: bool,
    /// Read Voucherify's publications list now and then for what the webhooks missed
    /// (`--reconcile-every`).
    pub reconcile: Option<Reconcile>,
    /// Remove the raw bodies of normalised events received more than this many days ago
    /// (`--retain-raw-days`; none: keep every body).
    pub retain_raw_days: Option<u32>,
    /// How often the removal runs (it also runs at start); the hidden
    /// `--raw-retention-every-secs`, for tests.
    pub raw_retention_every: Duration,
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
            request_timeout: Duration::from_secs(30),
            max_subscriptions_per_connection: 100,
            max_subscriptions: 20_000,
            disable_introspection: false,
            cors_origins: vec![],
            allowed_hosts: vec![],
            shutdown_timeout: Duration::from_secs(30),
            ingest_one_by_one: false,
            plain_execution: false,
            resolver_execution: false,
            query_cache_bytes: 32 * 1024 * 1024,
            trusted_documents: Default::default(),
            only_trusted_documents: false,
            reconcile: None,
            retain_raw_days: None,
            raw_retention_every: Duration::from_secs(3600),
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
        if self.max_subscriptions == 0 || self.max_subscriptions_per_connection == 0 {
            return Err("subscription limits must be at least 1".into());
        }
        if self.reconcile.as_ref().is_some_and(|r| r.every.is_zero()) {
            return Err("--reconcile-every must be longer than zero".into());
        }
        if self.request_timeout.is_zero() {
            return Err("--request-timeout-secs must be at least 1".into());
        }
        if self.retain_raw_days == Some(0) {
            return Err(
                "--retain-raw-days must be at least 1 (leave it out to keep every body)".into(),
            );
        }
        if self.raw_retention_every.is_zero() {
            return Err("--raw-retention-every-secs must be at least 1".into());
        }
        for origin in &self.cors_origins {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .map(|rest| rest.trim_end_matches('/'));
            let valid = origin == "*"
                || (host.is_some_and(|h| !h.is_empty() && !h.contains('/'))
                    && axum::http::HeaderValue::from_str(origin).is_ok());
            if !valid {
                return Err(format!(
                    "--cors-origin {origin:?} is not an origin like https://shop.example or *"
                ));
            }
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

    /// True when a request on `path` must name a host this gateway knows (see `allowed_hosts`):
    /// the gateway listens on loopback, and that route has no credential of its own.
    pub fn checks_host(&self, path: &str) -> bool {
        let open = if path.starts_with("/webhooks/") {
            self.unsigned_webhooks()
        } else {
            self.api_tokens.is_empty()
        };
        open && self.listen.ip().is_loopback()
    }

    /// True when `host` (a `Host` header: name or address, with or without a port) is a
    /// loopback name or address, or one of `allowed_hosts`.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = match host.rsplit_once(':') {
            Some((name, port))
                if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => host,
        };
        let name = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let loopback = name == "localhost"
            || name.ends_with(".localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        loopback
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name))
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
            .field("request_timeout", &self.request_timeout)
            .field(
                "max_subscriptions_per_connection",
                &self.max_subscriptions_per_connection,
            )
            .field("max_subscriptions", &self.max_subscriptions)
            .field("disable_introspection", &self.disable_introspection)
            .field("cors_origins", &self.cors_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("ingest_one_by_one", &self.ingest_one_by_one)
            .field("plain_execution", &self.plain_execution)
            .field("resolver_execution", &self.resolver_execution)
            .field("query_cache_bytes", &self.query_cache_bytes)
            .field("trusted_documents", &self.trusted_documents.len())
            .field("reconcile", &self.reconcile)
            .field("only_trusted_documents", &self.only_trusted_documents)
            .field("retain_raw_days", &self.retain_raw_days)
            .field("raw_retention_every", &self.raw_retention_every)
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
    fn loopback_hosts_and_allowed_names_only() {
        let mut config = on("127.0.0.1:8080");
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "127.1.2.3",
            "a.localhost",
        ] {
            assert!(config.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil",
            "",
            "[::2]:80",
        ] {
            assert!(!config.host_allowed(bad), "{bad}");
        }
        config.allowed_hosts = vec!["Shop.Internal".into()];
        assert!(config.host_allowed("shop.internal:8080"));
        assert!(config.checks_host("/graphql") && config.checks_host("/webhooks/voucherify"));
        config.api_tokens = vec!["t".into()];
        config.webhook_secrets = vec!["s".into()];
        assert!(!config.checks_host("/graphql") && !config.checks_host("/webhooks/voucherify"));
        assert!(!on("0.0.0.0:8080").checks_host("/graphql"));
    }

    #[test]
    fn retention_keeps_at_least_a_day() {
        let mut config = on("127.0.0.1:0");
        config.retain_raw_days = Some(0);
        let err = config.validate().expect_err("refused");
        assert!(err.contains("--retain-raw-days"), "{err}");
        config.retain_raw_days = Some(1);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn cors_origins_are_checked() {
        let mut config = on("127.0.0.1:0");
        config.cors_origins = vec!["https://shop.example".into(), "*".into()];
        assert!(config.validate().is_ok());
        for bad in ["shop.example", "https://", "https://a\nb", "ftp://x"] {
            config.cors_origins = vec![bad.into()];
            let err = config.validate().expect_err(bad);
            assert!(err.contains("--cors-origin"), "{err}");
        }
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

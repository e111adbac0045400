//! The command line: `serve`, `schema`, `migrate`, `simulate`. Every serve flag has an env var.

use crate::{
    App, Config, backfill,
    config::{LogColor, LogFormat},
    simulate,
};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use migration::{Migrator, MigratorTrait};
use std::{net::SocketAddr, time::Duration};

const DEFAULT_DATABASE: &str = "sqlite://pubgate.db?mode=rwc";

/// Voucherify webhooks in, GraphQL out.
#[derive(Parser, Debug)]
#[command(name = "pubgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "PUBGATE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Colours in text log lines: `auto` only when stderr is a terminal (and `NO_COLOR` is unset).
    #[arg(
        long,
        global = true,
        env = "PUBGATE_LOG_COLOR",
        value_enum,
        default_value = "auto"
    )]
    pub log_color: LogColor,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway: webhook ingestion and GraphQL.
    Serve(Box<ServeArgs>),
    /// Print the GraphQL SDL (what schema.graphql holds).
    Schema,
    /// Apply or show migrations without serving.
    Migrate(MigrateArgs),
    /// Post realistic, signed Voucherify publication events to a running gateway.
    Simulate(simulate::SimulateArgs),
    /// Read Voucherify's publications list and store every publication not stored yet.
    Backfill(BackfillArgs),
    /// Read every stored raw body again with this version's rules and apply what it says
    /// (safe while `serve` runs).
    Renormalise(RenormaliseArgs),
}

/// `pubgate renormalise`.
#[derive(clap::Args, Debug)]
pub struct RenormaliseArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `pubgate serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on: `host:port`, the host an IP address or a name (`localhost:8080`).
    #[arg(long, env = "PUBGATE_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Webhook signing secret; repeat for rotation (current and previous).
    #[arg(
        long = "webhook-secret",
        env = "PUBGATE_WEBHOOK_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_secrets: Vec<String>,
    /// API token for GraphQL readers; repeatable.
    #[arg(
        long = "api-token",
        env = "PUBGATE_API_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Vec<String>,
    /// Accept unsigned webhooks on a non-loopback address.
    #[arg(long, env = "PUBGATE_ALLOW_UNSIGNED_WEBHOOKS")]
    pub allow_unsigned_webhooks: bool,
    /// Serve GraphQL without API tokens on a non-loopback address.
    #[arg(long, env = "PUBGATE_ALLOW_ANONYMOUS_READ")]
    pub allow_anonymous_read: bool,
    /// Largest accepted request body.
    #[arg(long, env = "PUBGATE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Database connections per instance.
    #[arg(long, env = "PUBGATE_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Seconds a webhook waits for its commit before answering 503.
    #[arg(long, env = "PUBGATE_INGEST_TIMEOUT_SECS", default_value_t = 10)]
    pub ingest_timeout_secs: u64,
    /// Deepest GraphQL query accepted.
    #[arg(long, env = "PUBGATE_QUERY_DEPTH", default_value_t = 16)]
    pub query_depth: usize,
    /// Most complex GraphQL query accepted.
    #[arg(long, env = "PUBGATE_QUERY_COMPLEXITY", default_value_t = 50_000)]
    pub query_complexity: usize,
    /// Seconds a WebSocket client has to send `connection_init` (else closed with 4408).
    #[arg(long, env = "PUBGATE_WS_INIT_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_init_timeout_secs: u64,
    /// Feed batches a subscriber may fall behind before its stream ends with a resumable error.
    #[arg(long, env = "PUBGATE_SUBSCRIBER_QUEUE", default_value_t = 256)]
    pub subscriber_queue: usize,
    /// Seconds between the server's pings to WebSocket clients.
    #[arg(long, env = "PUBGATE_WS_PING_SECS", default_value_t = 15)]
    pub ws_ping_secs: u64,
    /// Seconds a plain HTTP request may take, body included (408 after).
    #[arg(long, env = "PUBGATE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Operations one WebSocket connection may run at once.
    #[arg(
        long,
        env = "PUBGATE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 100
    )]
    pub max_subscriptions_per_connection: usize,
    /// Subscriptions this instance runs at once (WebSocket operations and SSE streams).
    #[arg(long, env = "PUBGATE_MAX_SUBSCRIPTIONS", default_value_t = 20_000)]
    pub max_subscriptions: usize,
    /// Refuse introspection queries (`__schema`, `__type`).
    #[arg(long, env = "PUBGATE_DISABLE_INTROSPECTION")]
    pub disable_introspection: bool,
    /// An origin browsers may call the API from (`*` for any); repeatable.
    #[arg(
        long = "cors-origin",
        env = "PUBGATE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// A host name this gateway may be reached by while it listens on loopback without a token
    /// or secret (loopback names and addresses always may); repeatable.
    #[arg(
        long = "allowed-host",
        env = "PUBGATE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Seconds shutdown waits for open requests before closing them anyway.
    #[arg(long, env = "PUBGATE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Bytes of answers to repeated GraphQL queries kept while nothing new is committed; every
    /// answer is checked against the committed sequence first, so none is ever stale (0: off).
    #[arg(long, env = "PUBGATE_QUERY_CACHE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub query_cache_bytes: usize,
    /// Commit each delivery in a transaction of its own, without group commit (for benchmarks).
    #[arg(long, hide = true)]
    pub ingest_one_by_one: bool,
    /// Resolve references one field at a time, without look-ahead (for tests and benchmarks).
    #[arg(long, hide = true)]
    pub plain_execution: bool,
    /// Answer every query through the resolvers, never directly (for tests and benchmarks).
    #[arg(long, hide = true)]
    pub resolver_execution: bool,
    /// A JSON manifest `{ "<sha256 hex>": "<document>" }` (graphql-codegen's persisted
    /// documents) of documents requests may name by `documentId: "sha256:<hex>"`.
    #[arg(long, env = "PUBGATE_TRUSTED_DOCUMENTS", value_name = "FILE")]
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Run only the documents in --trusted-documents and the built-in dashboard's own; refuse
    /// any other (FORBIDDEN).
    #[arg(long, env = "PUBGATE_ONLY_TRUSTED_DOCUMENTS")]
    pub only_trusted_documents: bool,
    /// Remove the raw bodies of normalised events received more than this many days ago
    /// (their rows and everything normalised from them stay; bodies of events that were not
    /// normalised are kept). Default: keep every body.
    #[arg(long, env = "PUBGATE_RETAIN_RAW_DAYS", value_name = "DAYS")]
    pub retain_raw_days: Option<u32>,
    /// Seconds between two runs of the --retain-raw-days removal (for tests).
    #[arg(long, hide = true, default_value_t = 3600)]
    pub raw_retention_every_secs: u64,
    /// Read Voucherify's publications list this often (e.g. `15m`, `1h`) and store what the
    /// webhooks missed; needs the --voucherify-* credentials. Off by default.
    #[arg(long, env = "PUBGATE_RECONCILE_EVERY", value_parser = humantime::parse_duration)]
    pub reconcile_every: Option<Duration>,
    #[command(flatten)]
    pub voucherify: VoucherifyArgs,
}

/// Voucherify's REST API: where it is and an API key that may read publications and campaigns.
#[derive(clap::Args, Clone)]
pub struct VoucherifyArgs {
    /// The project's API base URL (its region: `https://us1.api.voucherify.io`, …).
    #[arg(
        long,
        env = "PUBGATE_VOUCHERIFY_URL",
        default_value = "https://api.voucherify.io"
    )]
    pub voucherify_url: String,
    /// Application ID of the API key (`X-App-Id`).
    #[arg(long, env = "PUBGATE_VOUCHERIFY_APP_ID", hide_env_values = true)]
    pub voucherify_app_id: Option<String>,
    /// Secret key of the API key (`X-App-Token`); never logged.
    #[arg(long, env = "PUBGATE_VOUCHERIFY_APP_TOKEN", hide_env_values = true)]
    pub voucherify_app_token: Option<String>,
    /// Retries of a request that may pass later (429, 408, 5xx, a timeout) before giving up.
    #[arg(long, env = "PUBGATE_VOUCHERIFY_RETRIES", default_value_t = 8)]
    pub voucherify_retries: u32,
    /// Seconds one request to Voucherify may take.
    #[arg(long, env = "PUBGATE_VOUCHERIFY_TIMEOUT_SECS", default_value_t = 60)]
    pub voucherify_timeout_secs: u64,
    /// The first wait before a retry, doubled at each (a 429's `Retry-After` wins).
    #[arg(long, hide = true, default_value_t = 1000)]
    pub voucherify_backoff_ms: u64,
}

impl std::fmt::Debug for VoucherifyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoucherifyArgs")
            .field("voucherify_url", &self.voucherify_url)
            .field("voucherify_app_id", &self.voucherify_app_id)
            .field("voucherify_app_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl VoucherifyArgs {
    /// The credentials, or an error naming the flag that is missing.
    pub fn credentials(&self) -> anyhow::Result<backfill::Credentials> {
        let named = |value: &Option<String>, flag: &str, env: &str| match value {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            _ => Err(anyhow::anyhow!(
                "reading Voucherify's API needs {flag} ({env}): an API key's {} from the \
                 project's settings",
                if flag.ends_with("id") {
                    "application ID"
                } else {
                    "secret key"
                }
            )),
        };
        Ok(backfill::Credentials {
            url: self.voucherify_url.trim_end_matches('/').to_owned(),
            app_id: named(
                &self.voucherify_app_id,
                "--voucherify-app-id",
                "PUBGATE_VOUCHERIFY_APP_ID",
            )?,
            app_token: named(
                &self.voucherify_app_token,
                "--voucherify-app-token",
                "PUBGATE_VOUCHERIFY_APP_TOKEN",
            )?,
        })
    }

    pub fn patience(&self) -> backfill::Patience {
        backfill::Patience {
            retries: self.voucherify_retries,
            backoff: Duration::from_millis(self.voucherify_backoff_ms),
            timeout: Duration::from_secs(self.voucherify_timeout_secs.max(1)),
        }
    }
}

/// `pubgate backfill`.
#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    /// Read publications created at or after this instant (`2026-01-01` or RFC 3339).
    #[arg(long, value_parser = instant)]
    pub since: DateTime<Utc>,
    /// … and before this one (default: now).
    #[arg(long, value_parser = instant)]
    pub until: Option<DateTime<Utc>>,
    /// Start at --since even when an earlier run of this source got further.
    #[arg(long)]
    pub no_resume: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub voucherify: VoucherifyArgs,
}

/// An instant: RFC 3339, or a date (midnight UTC).
fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is not a date (2026-01-31) or an RFC 3339 instant"))
}

/// Where the store lives.
#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// `sqlite://file.db?mode=rwc` (embedded) or `postgres://user@host/db`.
    #[arg(long, env = "PUBGATE_DATABASE_URL", default_value = DEFAULT_DATABASE, hide_env_values = true)]
    pub database_url: String,
}

/// `pubgate migrate`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// `up` applies pending migrations; `status` lists them.
    #[arg(value_enum, default_value = "up")]
    pub action: MigrateAction,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A migration action.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MigrateAction {
    Up,
    Status,
}

impl ServeArgs {
    /// The validated-later configuration these flags describe, with the trusted documents read.
    pub fn config(&self) -> anyhow::Result<Config> {
        let trusted_documents = match &self.trusted_documents {
            Some(path) => crate::graphql::persisted::read_manifest(path)?,
            None => Default::default(),
        };
        Ok(Config {
            webhook_secrets: self.webhook_secrets.clone(),
            api_tokens: self.api_tokens.clone(),
            allow_unsigned_webhooks: self.allow_unsigned_webhooks,
            allow_anonymous_read: self.allow_anonymous_read,
            max_body_bytes: self.max_body_bytes,
            db_max_connections: self.db_max_connections,
            ingest_timeout: Duration::from_secs(self.ingest_timeout_secs),
            query_depth: self.query_depth,
            query_complexity: self.query_complexity,
            ws_init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
            subscriber_queue: self.subscriber_queue,
            ws_ping_interval: Duration::from_secs(self.ws_ping_secs.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_subscriptions_per_connection: self.max_subscriptions_per_connection,
            max_subscriptions: self.max_subscriptions,
            disable_introspection: self.disable_introspection,
            cors_origins: self.cors_origins.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            ingest_one_by_one: self.ingest_one_by_one,
            plain_execution: self.plain_execution,
            resolver_execution: self.resolver_execution,
            query_cache_bytes: self.query_cache_bytes,
            trusted_documents: trusted_documents.into(),
            only_trusted_documents: self.only_trusted_documents,
            reconcile: match self.reconcile_every {
                Some(every) => Some(crate::config::Reconcile {
                    credentials: self.voucherify.credentials()?,
                    patience: self.voucherify.patience(),
                    every,
                }),
                None => None,
            },
            retain_raw_days: self.retain_raw_days,
            raw_retention_every: Duration::from_secs(self.raw_retention_every_secs),
            ..Config::new(self.listen, self.database.database_url.clone())
        })
    }
}

/// `host:port` as a socket address; a host name is resolved (its first address, IPv4 first).
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    let addresses: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{text:?} is not a host:port to listen on ({e})"))?
        .collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(addresses.first())
        .copied()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args.config()?).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate(args) => migrate(args).await,
        Command::Backfill(args) => backfill(args).await,
        Command::Renormalise(args) => renormalise(args).await,
        Command::Simulate(args) => {
            let summary = simulate::run(&args).await?;
            println!("{summary}");
            if summary.failed() {
                anyhow::bail!(
                    "{} of {} deliveries failed (see above)",
                    summary.failures(),
                    summary.sent
                );
            }
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(?config, "starting");
    let app = App::build(config).await?;
    let addr = app.local_addr();
    // Scripts and tests read this line to find the port when listening on port 0.
    println!(
        "pubgate listening on http://{addr} (GraphiQL at http://{addr}/graphql, dashboard at http://{addr}/)"
    );
    app.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let credentials = args.voucherify.credentials()?;
    let until = args.until.unwrap_or_else(Utc::now);
    if args.since >= until {
        anyhow::bail!("--since must be before --until (or now)");
    }
    let bar = match args.quiet {
        true => ProgressBar::hidden(),
        false => ProgressBar::new(0).with_style(ProgressStyle::with_template(
            "{spinner} {pos}/{len} publications read [{elapsed_precise}] {per_sec}",
        )?),
    };
    let patience = args.voucherify.patience();
    let run =
        backfill::Backfill::open(&args.database.database_url, credentials, patience, bar).await?;
    let summary = run.run(args.since, until, !args.no_resume).await;
    run.bar.finish_and_clear();
    let summary = summary?;
    println!("{summary}");
    Ok(())
}

async fn renormalise(args: RenormaliseArgs) -> anyhow::Result<()> {
    use crate::store::renormalise;
    let db = crate::store::connect(&args.database.database_url, 2).await?;
    crate::store::migrate(&db).await?;
    let bar = match args.quiet {
        true => ProgressBar::hidden(),
        false => ProgressBar::new(renormalise::events(&db).await?).with_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} events read again [{elapsed_precise}] {per_sec}",
            )?,
        ),
    };
    let summary = renormalise::run(&db, |done| bar.set_position(done)).await;
    bar.finish_and_clear();
    println!("{}", summary?);
    Ok(())
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let db = crate::store::connect(&args.database.database_url, 1).await?;
    match args.action {
        MigrateAction::Up => {
            crate::store::migrate(&db).await?;
            println!("migrations applied");
        }
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(&db).await? {
                println!("{:<40} {}", m.name(), m.status());
            }
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn listen_takes_addresses_and_host_names() {
        assert_eq!(
            listen_address("127.0.0.1:8080").map(|a| a.to_string()),
            Ok("127.0.0.1:8080".into())
        );
        assert_eq!(
            listen_address("[::1]:9").map(|a| a.to_string()),
            Ok("[::1]:9".into())
        );
        let local = listen_address("localhost:8080").expect("localhost resolves");
        assert!(local.ip().is_loopback() && local.port() == 8080, "{local}");
        let err = listen_address("localhost").expect_err("no port");
        assert!(err.contains("host:port"), "{err}");
    }
}

//! This instance's metrics: one Prometheus recorder per `App` and every series it reports.
//! The `/metrics` route that renders them is in `ops`.

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

static METADATA: Metadata<'static> = Metadata::new("pubgate", Level::INFO, Some("pubgate"));

/// Why a webhook delivery was refused (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    BadRequest,
    Signature,
    TooLarge,
    ContentType,
    Unavailable,
    Internal,
}

impl Rejection {
    const ALL: [Rejection; 6] = [
        Rejection::BadRequest,
        Rejection::Signature,
        Rejection::TooLarge,
        Rejection::ContentType,
        Rejection::Unavailable,
        Rejection::Internal,
    ];

    fn label(self) -> &'static str {
        match self {
            Rejection::BadRequest => "malformed",
            Rejection::Signature => "signature",
            Rejection::TooLarge => "too_large",
            Rejection::ContentType => "content_type",
            Rejection::Unavailable => "unavailable",
            Rejection::Internal => "internal",
        }
    }
}

/// A GraphQL operation's kind (the `operation` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
    /// The document did not parse.
    Invalid,
}

/// A database pool (the `pool` label): requests read through `Read`; the writer and the feed's
/// publisher have connections of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    Read,
    Writer,
    Feed,
    Analytics,
}

impl Pool {
    pub const ALL: [Pool; 4] = [Pool::Read, Pool::Writer, Pool::Feed, Pool::Analytics];

    fn label(self) -> &'static str {
        match self {
            Pool::Read => "read",
            Pool::Writer => "writer",
            Pool::Feed => "feed",
            Pool::Analytics => "analytics",
        }
    }
}

/// The transport a subscription or frame uses (the `transport` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
}

/// What the writer reports of each transaction (group commit); inert by default, for writers
/// outside a gateway (the backfill's).
#[derive(Clone)]
pub struct IngestBatches {
    pub deliveries: Histogram,
    pub seconds: Histogram,
    pub commit_seconds: Histogram,
    /// Changes to the assignment counts moved into the kept counts (`store::write::counts::fold`).
    pub changes_folded: Counter,
}

impl Default for IngestBatches {
    fn default() -> Self {
        IngestBatches {
            deliveries: Histogram::noop(),
            seconds: Histogram::noop(),
            commit_seconds: Histogram::noop(),
            changes_folded: Counter::noop(),
        }
    }
}

/// One gateway's metrics. Each `App` owns its recorder (not the process-global one), so several
/// gateways in one process — the test suite — each report exactly their own.
pub struct Metrics {
    recorder: PrometheusRecorder,
    pub webhooks_received: Counter,
    pub webhooks_stored: Counter,
    pub webhooks_duplicate: Counter,
    rejected: [Counter; 6],
    /// From the last byte of a delivery read to its commit (or failure).
    pub ingest_seconds: Histogram,
    /// The writer's transactions: deliveries in each, and how long each took.
    pub ingest_batches: IngestBatches,
    graphql_seconds: [Histogram; 4],
    pub ws_connections: Gauge,
    active: [Gauge; 2],
    frames: [Counter; 2],
    pub subscriptions_refused: Counter,
    /// The reconciliation job: publications it stored that no webhook had brought, runs that
    /// failed, and when the last one succeeded.
    pub reconcile_found: Counter,
    pub reconcile_failures: Counter,
    pub reconcile_last_success: Gauge,
    /// Queries answered from the query cache (the head had not moved) and computed afresh.
    pub query_cache_hits: Counter,
    pub query_cache_misses: Counter,
    /// Queries over HTTP written directly from rows, and those the resolvers answered.
    pub direct_written: Counter,
    pub direct_resolved: Counter,
    pub sql_api: Counter,
    pub sql_feed: Counter,
    pub feed_subscribers: Gauge,
    pub shared_subscriptions: Gauge,
    pub sequence_head: Gauge,
    pub feed_delivered: Gauge,
    pub feed_lag: Gauge,
    /// Connections open and checked out, by pool (`Pool` order).
    pub pool_size: [Gauge; 4],
    pub pool_in_use: [Gauge; 4],
    /// Raw bodies this instance removed (`--retain-raw-days`).
    pub raw_bodies_removed: Counter,
    /// Removal passes this instance completed (`--retain-raw-days`).
    pub raw_retention_runs: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder with every series registered (at zero), so dashboards see them all.
    pub fn new() -> Self {
        const SECONDS: &[f64] = &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0, 300.0, 3600.0,
        ];
        // Up to the writer's largest batch (`store::ingest`).
        const DELIVERIES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| {
                let name = "pubgate_ingest_batch_deliveries";
                b.set_buckets_for_metric(Matcher::Full(name.into()), DELIVERIES)
            })
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let r = Reg(&recorder);
        let webhooks = "pubgate_webhooks_total";
        r.describe_counter(
            webhooks,
            "Webhook deliveries by outcome: received, stored, duplicate.",
        );
        let rejected = "pubgate_webhooks_rejected_total";
        r.describe_counter(rejected, "Webhook deliveries refused, by reason.");
        let graphql = "pubgate_graphql_request_duration_seconds";
        r.describe_histogram(
            graphql,
            "GraphQL operations by kind; a subscription's duration is its lifetime.",
        );
        let active = "pubgate_active_subscriptions";
        r.describe_gauge(active, "GraphQL operations in progress, by transport.");
        let frames = "pubgate_frames_delivered_total";
        r.describe_counter(
            frames,
            "Subscription results sent to clients, by transport.",
        );
        let sql = "pubgate_sql_statements_total";
        r.describe_counter(
            sql,
            "SQL statements run: api (requests and ingest) or feed (live subscriptions).",
        );
        let direct = "pubgate_graphql_direct_total";
        r.describe_counter(
            direct,
            "HTTP GraphQL queries executed: written directly from rows (written) or by the resolvers (resolved).",
        );
        let cache = "pubgate_query_cache_total";
        r.describe_counter(
            cache,
            "HTTP GraphQL queries answered from the query cache (hit) or executed (miss).",
        );
        Metrics {
            webhooks_received: r.counter(webhooks, &[("outcome", "received")]),
            webhooks_stored: r.counter(webhooks, &[("outcome", "stored")]),
            webhooks_duplicate: r.counter(webhooks, &[("outcome", "duplicate")]),
            rejected: Rejection::ALL.map(|why| r.counter(rejected, &[("reason", why.label())])),
            ingest_seconds: {
                let name = "pubgate_ingest_duration_seconds";
                r.describe_histogram(name, "From a delivery read to its commit acknowledged.");
                r.histogram(name, &[])
            },
            ingest_batches: {
                let size = "pubgate_ingest_batch_deliveries";
                let seconds = "pubgate_ingest_batch_duration_seconds";
                r.describe_histogram(size, "Deliveries the writer stored in one transaction.");
                r.describe_histogram(
                    seconds,
                    "The writer's transactions: from begin to commit acknowledged (phase=all), the commit alone (phase=commit).",
                );
                IngestBatches {
                    deliveries: r.histogram(size, &[]),
                    seconds: r.histogram(seconds, &[("phase", "all")]),
                    commit_seconds: r.histogram(seconds, &[("phase", "commit")]),
                    changes_folded: r.described_counter(
                        "pubgate_assignment_changes_folded_total",
                        "Changes to the assignment counts that batches appended and this instance moved into the kept counts.",
                    ),
                }
            },
            graphql_seconds: ["query", "mutation", "subscription", "invalid"]
                .map(|kind| r.histogram(graphql, &[("operation", kind)])),
            ws_connections: {
                let name = "pubgate_websocket_connections";
                r.describe_gauge(name, "Open GraphQL WebSocket connections.");
                r.gauge(name, &[])
            },
            active: ["websocket", "sse"].map(|t| r.gauge(active, &[("transport", t)])),
            frames: ["websocket", "sse"].map(|t| r.counter(frames, &[("transport", t)])),
            subscriptions_refused: {
                let name = "pubgate_subscriptions_refused_total";
                r.describe_counter(name, "Operations refused by a subscription limit.");
                r.counter(name, &[])
            },
            reconcile_found: {
                let name = "pubgate_reconcile_publications_found_total";
                r.describe_counter(
                    name,
                    "Publications the reconciliation read from Voucherify's API that were not stored yet.",
                );
                r.counter(name, &[])
            },
            reconcile_failures: {
                let name = "pubgate_reconcile_failures_total";
                r.describe_counter(name, "Reconciliation runs that stopped with an error.");
                r.counter(name, &[])
            },
            reconcile_last_success: r.described_gauge(
                "pubgate_reconcile_last_success_timestamp_seconds",
                "When the last reconciliation run finished (Unix time; 0: never).",
            ),
            query_cache_hits: r.counter(cache, &[("result", "hit")]),
            query_cache_misses: r.counter(cache, &[("result", "miss")]),
            direct_written: r.counter(direct, &[("result", "written")]),
            direct_resolved: r.counter(direct, &[("result", "resolved")]),
            sql_api: r.counter(sql, &[("source", "api")]),
            sql_feed: r.counter(sql, &[("source", "feed")]),
            feed_subscribers: r.described_gauge(
                "pubgate_feed_subscribers",
                "Streams following the live feed (shared executions count once).",
            ),
            shared_subscriptions: r.described_gauge(
                "pubgate_shared_subscriptions",
                "Live subscriptions executed once and shared by identical subscribers.",
            ),
            sequence_head: r.described_gauge(
                "pubgate_sequence_head",
                "The newest committed event sequence (all instances).",
            ),
            feed_delivered: r.described_gauge(
                "pubgate_feed_delivered_sequence",
                "The newest event sequence this instance's feed has relayed.",
            ),
            feed_lag: r.described_gauge(
                "pubgate_feed_lag_events",
                "Newest committed sequence minus newest relayed to subscribers.",
            ),
            pool_size: r.pool_gauges(
                "pubgate_db_pool_connections",
                "Database connections open, by pool.",
            ),
            pool_in_use: r.pool_gauges(
                "pubgate_db_pool_in_use",
                "Database connections checked out, by pool.",
            ),
            raw_bodies_removed: r.described_counter(
                "pubgate_raw_bodies_removed_total",
                "Raw bodies of normalised events removed by --retain-raw-days (this instance).",
            ),
            raw_retention_runs: r.described_counter(
                "pubgate_raw_retention_runs_total",
                "Completed --retain-raw-days removal passes (this instance).",
            ),
            recorder,
        }
    }

    /// Counts a refused webhook delivery.
    pub fn webhook_rejected(&self, why: Rejection) {
        self.rejected[why as usize].increment(1);
    }

    /// The duration histogram for one kind of GraphQL operation.
    pub fn graphql_seconds(&self, kind: OperationKind) -> &Histogram {
        &self.graphql_seconds[kind as usize]
    }

    /// The in-progress gauge for one transport.
    pub fn active(&self, transport: Transport) -> &Gauge {
        &self.active[transport as usize]
    }

    /// The frames-delivered counter for one transport.
    pub fn frames(&self, transport: Transport) -> &Counter {
        &self.frames[transport as usize]
    }

    /// The Prometheus text exposition, as `/metrics` serves it.
    pub fn render(&self) -> String {
        let handle = self.recorder.handle();
        handle.run_upkeep();
        handle.render()
    }
}

/// Holds one unit of a gauge while alive (an open connection, a running subscription).
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    /// Increments `gauge` now and decrements it on drop.
    pub fn hold(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Registration helpers over one recorder.
struct Reg<'a>(&'a PrometheusRecorder);

impl Reg<'_> {
    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::new(*k, *v)).collect();
        Key::from_parts(name, labels)
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        let counter = self.0.register_counter(&Self::key(name, labels), &METADATA);
        counter.increment(0);
        counter
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Gauge {
        let gauge = self.0.register_gauge(&Self::key(name, labels), &METADATA);
        gauge.set(0.0);
        gauge
    }

    fn histogram(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Histogram {
        self.0
            .register_histogram(&Self::key(name, labels), &METADATA)
    }

    fn pool_gauges(&self, name: &'static str, help: &'static str) -> [Gauge; 4] {
        self.describe_gauge(name, help);
        Pool::ALL.map(|p| self.gauge(name, &[("pool", p.label())]))
    }

    fn described_counter(&self, name: &'static str, help: &'static str) -> Counter {
        self.describe_counter(name, help);
        self.counter(name, &[])
    }

    fn described_gauge(&self, name: &'static str, help: &'static str) -> Gauge {
        self.describe_gauge(name, help);
        self.gauge(name, &[])
    }

    fn describe_counter(&self, name: &'static str, help: &'static str) {
        self.0.describe_counter(
            KeyName::from_const_str(name),
            Some(Unit::Count),
            help.into(),
        );
    }

    fn describe_gauge(&self, name: &'static str, help: &'static str) {
        self.0
            .describe_gauge(KeyName::from_const_str(name), None, help.into());
    }

    fn describe_histogram(&self, name: &'static str, help: &'static str) {
        self.0.describe_histogram(
            KeyName::from_const_str(name),
            Some(Unit::Seconds),
            help.into(),
        );
    }
}

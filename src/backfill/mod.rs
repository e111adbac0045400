//! Backfill and reconciliation: what Voucherify knows and the webhooks did not bring.
//!
//! Voucherify retries a failed webhook for about a day and then disables it, and a gateway
//! deployed today knows nothing of the assignments made before. This reads Voucherify's own list
//! of publications, oldest first, in time windows, and stores each one not stored yet as an event
//! of its own kind (`api.publication`, the REST object verbatim), through the same writer as the
//! webhooks, so it is normalised, counted and relayed to subscribers like one. A publication
//! already stored (from a webhook or an earlier run) is left alone, and should its webhook arrive
//! later, that changes nothing either: a publication belongs to the first event that carried it.
//!
//! The list names a voucher's campaign only by name; a name the store does not know is read once
//! from `GET /v1/campaigns/{name}` and stored first (`api.campaign`), so the publications link to
//! it. After each page is committed, how far the run got is saved (`backfill_progress`): a run
//! that stops, whatever the reason, resumes there.
//!
//! Windows: the list serves at most 1000 pages of a query, so a run reads a window of pages
//! from a start instant; after `PAGES_PER_WINDOW` full pages the next window starts at the
//! creation time of the last publication read. Publications that share that instant are read
//! again and found already stored. Every publication is checked to lie inside the window asked
//! for. The list's documented filters do not name `created_at`: should the API ignore it (the
//! first page then holds publications outside the window, and nothing of it is stored), the run
//! reads every publication newest first instead, down to its start, keeping those inside the
//! window; that reaches back as far as the API's last page (100,000 publications), and a run
//! that needs more stops with an error saying so.

pub mod api;
mod progress;

use crate::domain::delivery::{Delivery, Outcome};
use crate::domain::envelope;
use crate::domain::normalise::rest::{self, ApiObject};
use crate::store::ingest::{Ingest, IngestError};
use api::{ApiError, LIMIT, Voucherify};
use chrono::{DateTime, Utc};
use entity::{campaign, publication};
use indicatif::ProgressBar;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

pub use crate::config::{Credentials, Patience, Reconcile};

/// Pages read from one window start before the next window begins (the API serves at most
/// 1000 pages of one query, and deep pages are the slow ones).
pub const WINDOW_PAGES: u32 = 100;

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the database is unavailable; the next run resumes where this one stopped")]
    Unavailable,
    #[error("the database failed: {0}")]
    Database(#[from] DbErr),
    #[error(
        "Voucherify sent publication {id} created at {created_at} for the window from {from} \
         to {until}: it did not apply the created_at filter"
    )]
    OutsideWindow {
        id: String,
        created_at: String,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("more than {0} publications share the creation instant {1}: they cannot be paged")]
    Stuck(usize, DateTime<Utc>),
    #[error(
        "Voucherify does not apply the created_at filter here, and newest first it serves only \
         the {0} newest publications, all newer than {1}: back to there is stored; for older \
         ones use Voucherify's exports"
    )]
    TooFarBack(usize, DateTime<Utc>),
}

impl From<IngestError> for BackfillError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Unavailable => BackfillError::Unavailable,
            IngestError::Failed(e) => BackfillError::Database(e),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub pages: u64,
    /// Publications listed (each counted once, even when read again at a window's edge).
    pub seen: u64,
    /// Stored and normalised by this run.
    pub new: u64,
    /// Already stored (from a webhook or an earlier run).
    pub known: u64,
    /// Failed publications (`result: FAILURE`): no voucher was assigned, nothing to store.
    pub not_assigned: u64,
    /// Stored verbatim but not understood (flagged with a note, as a webhook would be).
    pub failed: u64,
    /// Campaigns read and stored so that publications naming them link to them.
    pub campaigns: u64,
    /// Requests retried (429, 5xx, timeouts, dropped connections).
    pub retried: u64,
    /// Everything created before this instant is stored.
    pub reached: Option<DateTime<Utc>>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pages, {} publications seen: {} new, {} already known, {} failed publications \
             (nothing assigned), {} failed (stored but not understood); {} campaigns read; {} \
             requests retried",
            self.pages,
            self.seen,
            self.new,
            self.known,
            self.not_assigned,
            self.failed,
            self.campaigns,
            self.retried
        )?;
        if let Some(reached) = self.reached {
            write!(f, "; complete up to {}", reached.to_rfc3339())?;
        }
        Ok(())
    }
}

/// Reads Voucherify's publications into the store.
pub struct Backfill {
    pub api: Voucherify,
    pub ingest: Ingest,
    pub db: DatabaseConnection,
    /// Shows progress (hidden when not on a terminal, and for the background job).
    pub bar: ProgressBar,
    /// Pages per window (`WINDOW_PAGES`; tests make windows small).
    pub window_pages: u32,
}

impl Backfill {
    /// A backfill of its own on the database at `url` (migrated first), with its own writer,
    /// as `pubgate backfill` runs beside the gateways.
    pub async fn open(
        url: &str,
        credentials: Credentials,
        patience: Patience,
        bar: ProgressBar,
    ) -> anyhow::Result<Backfill> {
        let db = crate::store::connect(url, 2).await?;
        crate::store::migrate(&db).await?;
        let writer = crate::store::connect_reserved(url, &db, 2).await?;
        let head = crate::store::queries::head(&db).await?;
        let (head, _) = tokio::sync::watch::channel(head.seq);
        Ok(Backfill {
            api: Voucherify::new(credentials, patience)?,
            ingest: Ingest::start(writer.clone(), writer, head, false, Default::default()),
            db,
            bar,
            window_pages: WINDOW_PAGES,
        })
    }

    /// Stores every publication created in `[since, until)` that is not stored yet. With
    /// `resume`, a run of the same source that covered `since` and stopped before `until` is
    /// taken up where it stopped.
    pub async fn run(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        resume: bool,
    ) -> Result<Summary, BackfillError> {
        // The API's filter takes milliseconds: the window is what it can be asked for.
        let (since, until) = (millis(since), millis(until));
        let source = self.api.source();
        let (mut started, mut from) = (since, since);
        if let Some(saved) = progress::load(&self.db, &source).await?
            && saved.since <= since
            && since <= saved.reached
        {
            // Contiguous with what is stored: the record keeps its start.
            started = saved.since;
            if resume && saved.reached > since {
                from = saved.reached.min(until);
                tracing::info!(%source, from = %from.to_rfc3339(), "resuming where an earlier run got to");
            }
        }
        let mut run = Run {
            backfill: self,
            summary: Summary::default(),
            counted: HashSet::new(),
            campaigns_read: HashSet::new(),
        };
        let mut page = 1;
        let mut window_start = from;
        while from < until {
            let listed = self.api.publications(window_start, until, page).await?;
            run.summary.pages += 1;
            if run.summary.pages == 1
                && let Some(total) = listed.total
            {
                self.bar.set_length(total);
            }
            let count = listed.publications.len();
            let span = match run.page(listed, Window::Asked(window_start, until)).await {
                // Nothing of that page was stored: read newest first instead.
                Err(e @ BackfillError::OutsideWindow { .. }) if run.summary.pages == 1 => {
                    tracing::warn!(error = %e, "reading the publications newest first instead");
                    return self.newest_first(run, &source, started, from, until).await;
                }
                other => other?,
            };
            if let Some((_, last)) = span {
                from = last;
                progress::save(&self.db, &source, started, last).await?;
            }
            if count < LIMIT {
                break;
            }
            if page < self.window_pages.max(1) {
                page += 1;
            } else if from > window_start {
                (window_start, page) = (from, 1);
            } else {
                return Err(BackfillError::Stuck(
                    LIMIT * self.window_pages as usize,
                    from,
                ));
            }
        }
        self.finish(run, &source, started, until).await
    }

    /// For an API that does not apply the `created_at` filter: every publication read newest
    /// first, down to `from`, taking those in `[from, until)`. It reaches as far back as the
    /// API's last page (100,000 publications newer than `from`); progress is saved at the end
    /// only, since it fills the window from its end.
    async fn newest_first(
        &self,
        mut run: Run<'_>,
        source: &str,
        started: DateTime<Utc>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Summary, BackfillError> {
        for page in 1..=api::LAST_PAGE {
            let listed = self.api.newest_publications(page).await?;
            run.summary.pages += 1;
            let count = listed.publications.len();
            let span = run.page(listed, Window::Kept(from, until)).await?;
            if count < LIMIT || span.is_some_and(|(oldest, _)| oldest < from) {
                return self.finish(run, source, started, until).await;
            }
        }
        Err(BackfillError::TooFarBack(
            LIMIT * api::LAST_PAGE as usize,
            from,
        ))
    }

    async fn finish(
        &self,
        mut run: Run<'_>,
        source: &str,
        started: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Summary, BackfillError> {
        progress::finish(&self.db, source, started, until).await?;
        run.summary.reached = Some(until);
        run.summary.retried = self.api.retried();
        self.bar.finish_and_clear();
        Ok(run.summary)
    }
}

/// `t` to the millisecond, as the API's instants go.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Which publications of a page the run takes.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// Asked of the API: one outside it means the API ignored the filter (an error).
    Asked(DateTime<Utc>, DateTime<Utc>),
    /// Not asked of the API (it ignores the filter): those outside it are passed over.
    Kept(DateTime<Utc>, DateTime<Utc>),
}

/// One run's state.
struct Run<'a> {
    backfill: &'a Backfill,
    summary: Summary,
    /// Publications already counted in `seen` (a window's edge is read twice).
    counted: HashSet<String>,
    /// Campaign names this run has asked the API for already.
    campaigns_read: HashSet<String>,
}

/// A listed publication, read enough to decide about it.
struct Listed {
    id: String,
    body: String,
    assigned: bool,
    campaigns: Vec<String>,
}

impl Run<'_> {
    /// Stores what one page holds in `window` that is not stored yet; returns the oldest and
    /// the newest creation time on the page.
    async fn page(
        &mut self,
        page: api::Page,
        window: Window,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, BackfillError> {
        let mut listed = Vec::with_capacity(page.publications.len());
        let mut span: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for raw in page.publications {
            let body = raw.get().to_owned();
            let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let id = envelope::string_at(Some(&value), "id");
            let created_at = envelope::timestamp(value.get("created_at"));
            let (Some(id), Some(created_at)) = (id, created_at) else {
                tracing::warn!(%body, "a listed publication without an id or a creation time");
                self.summary.failed += 1;
                continue;
            };
            span = Some(span.map_or((created_at, created_at), |(old, new)| {
                (old.min(created_at), new.max(created_at))
            }));
            match window {
                Window::Asked(from, until) | Window::Kept(from, until)
                    if from <= created_at && created_at < until => {}
                Window::Kept(..) => continue,
                Window::Asked(from, until) => {
                    return Err(BackfillError::OutsideWindow {
                        id,
                        created_at: created_at.to_rfc3339(),
                        from,
                        until,
                    });
                }
            }
            let assigned =
                envelope::string_at(Some(&value), "result").is_none_or(|r| r == "SUCCESS");
            listed.push(Listed {
                campaigns: campaign_names(&value),
                id,
                body,
                assigned,
            });
        }
        let first_time: Vec<&Listed> = listed
            .iter()
            .filter(|l| self.counted.insert(l.id.clone()))
            .collect();
        self.summary.seen += first_time.len() as u64;
        self.backfill.bar.inc(first_time.len() as u64);
        let ids: Vec<&str> = first_time.iter().map(|l| l.id.as_str()).collect();
        let stored = stored_publications(&self.backfill.db, &ids).await?;
        let mut missing = Vec::new();
        for item in first_time {
            if !item.assigned {
                self.summary.not_assigned += 1;
            } else if stored.contains(&item.id) {
                self.summary.known += 1;
            } else {
                missing.push(item);
            }
        }
        let names: HashSet<&str> = missing
            .iter()
            .flat_map(|l| l.campaigns.iter().map(String::as_str))
            .collect();
        self.read_campaigns(names).await?;
        let received_at = envelope::now();
        let submitted = missing.iter().filter_map(|item| {
            let delivery =
                Delivery::from_api(ApiObject::Publication, item.body.clone(), received_at)?;
            let normalised = delivery.normalised.normalized;
            let ingest = self.backfill.ingest.clone();
            Some(async move { (normalised, ingest.submit(delivery).await) })
        });
        // Submitted together, so the writer commits them in as few transactions as it can.
        for (normalised, outcome) in futures::future::join_all(submitted).await {
            match outcome? {
                Outcome::Stored(_) if normalised => self.summary.new += 1,
                // Flagged now, or stored by an earlier run and flagged then.
                Outcome::Stored(_) | Outcome::Duplicate(_) => self.summary.failed += 1,
            }
        }
        Ok(span)
    }

    /// Reads and stores the campaigns named here that the store does not know, once a run.
    async fn read_campaigns(&mut self, names: HashSet<&str>) -> Result<(), BackfillError> {
        let names: Vec<&str> = names
            .into_iter()
            .filter(|n| !self.campaigns_read.contains(*n))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let known: HashSet<String> = campaign::Entity::find()
            .select_only()
            .column(campaign::Column::Name)
            .filter(campaign::Column::Name.is_in(names.iter().copied()))
            .into_tuple::<String>()
            .all(&self.backfill.db)
            .await?
            .into_iter()
            .collect();
        for name in names {
            self.campaigns_read.insert(name.to_owned());
            if known.contains(name) {
                continue;
            }
            let Some(body) = self.backfill.api.campaign(name).await? else {
                tracing::info!(name, "a listed voucher's campaign is not found (deleted?)");
                continue;
            };
            let Some(delivery) = Delivery::from_api(ApiObject::Campaign, body, envelope::now())
            else {
                continue;
            };
            if let Outcome::Stored(_) = self.backfill.ingest.submit(delivery).await? {
                self.summary.campaigns += 1;
            }
        }
        Ok(())
    }
}

/// The campaign names a listed publication's vouchers give.
fn campaign_names(value: &Value) -> Vec<String> {
    rest::listed_vouchers(value)
        .into_iter()
        .filter_map(|v| envelope::string_at(Some(v), "campaign"))
        .collect()
}

/// Which of `ids` are stored publications.
async fn stored_publications(
    db: &DatabaseConnection,
    ids: &[&str],
) -> Result<HashSet<String>, DbErr> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(publication::Entity::find()
        .select_only()
        .column(publication::Column::Id)
        .filter(publication::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// How far back a reconciliation reads again before where the last one got to: publications
/// committed by Voucherify a little after their creation time are not missed.
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Where the first reconciliation starts without any earlier progress: twice as far back as
/// Voucherify retries a webhook. Older history is `pubgate backfill --since`'s job.
const FIRST_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// Reconciles now and then every `reconcile.every`, in the background, until `shutdown` flips.
pub fn reconcile(
    reconcile: Reconcile,
    ingest: Ingest,
    db: DatabaseConnection,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            match reconcile_once(&reconcile, &ingest, &db).await {
                Ok(summary) => {
                    tracing::info!(%summary, "reconciled with Voucherify");
                    metrics.reconcile_found.increment(summary.new);
                    metrics
                        .reconcile_last_success
                        .set(Utc::now().timestamp() as f64);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reconciliation with Voucherify failed");
                    metrics.reconcile_failures.increment(1);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(reconcile.every) => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return,
            }
        }
    });
}

async fn reconcile_once(
    reconcile: &Reconcile,
    ingest: &Ingest,
    db: &DatabaseConnection,
) -> Result<Summary, anyhow::Error> {
    let api = Voucherify::new(reconcile.credentials.clone(), reconcile.patience)?;
    let until = envelope::now();
    let since = match progress::load(db, &api.source()).await? {
        Some(saved) => saved.reached.min(until) - OVERLAP,
        None => until - FIRST_LOOKBACK,
    };
    let backfill = Backfill {
        api,
        ingest: ingest.clone(),
        db: db.clone(),
        bar: ProgressBar::hidden(),
        window_pages: WINDOW_PAGES,
    };
    Ok(backfill.run(since, until, false).await?)
}

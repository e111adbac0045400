//! The writer: one task per instance takes deliveries in batches (group commit). One
//! transaction takes the sequence lock, stores the batch through `write` (raw events, normalised
//! rows, sequence numbers), moves the sequence and signals the feed; every sender hears back
//! only after that commit returned.
//!
//! Beside it, the folder: a short while after the writer commits, it moves the changes to the
//! assignment counts that batches appended into the kept counts (`write::counts::fold`), many
//! batches' at once, on a pool of its own.

use super::write::{self, Refused};
use super::{is_retryable, is_unavailable};
use crate::domain::delivery::{Delivery, Outcome};
use crate::metrics::IngestBatches;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Most deliveries one transaction commits together.
const MAX_BATCH: usize = 256;
/// How often a transaction that lost a deadlock or serialisation race is run again.
const RETRIES: usize = 5;
/// How long the folder lets batches gather after a commit wakes it: the longer, the more
/// batches each fold adds up (fewer rows upserted), the more changes every read of the counts
/// adds up itself.
const FOLD_AFTER: Duration = Duration::from_millis(100);
/// How often the folder looks for changes without being woken: those other instances (or a
/// `renormalise`) appended and did not fold, say because they were stopped first.
const FOLD_IDLE: Duration = Duration::from_secs(2);

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the database is unavailable")]
    Unavailable,
    #[error("storing the delivery failed: {0}")]
    Failed(DbErr),
}

type Reply = oneshot::Sender<Result<Outcome, IngestError>>;

/// What the writer is asked to do.
enum Job {
    Store(Box<Delivery>, Reply),
    /// Commit a transaction through the same path, storing nothing: can the writer commit?
    Probe(oneshot::Sender<Result<(), IngestError>>),
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
    /// The writer's own pool.
    db: DatabaseConnection,
}

impl Ingest {
    /// Starts the writer, and the folder on `fold_db`. `head` hears every committed sequence
    /// number. `one_by_one` commits each delivery in a transaction of its own (for benchmarks of
    /// what group commit gains).
    /// `batches` hears the size and duration of each transaction that stores deliveries (a batch
    /// that falls back to one transaction per delivery reports each of them).
    pub fn start(
        db: DatabaseConnection,
        fold_db: DatabaseConnection,
        head: watch::Sender<i64>,
        one_by_one: bool,
        batches: IngestBatches,
    ) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let wake = Arc::new(Notify::new());
        tokio::spawn(folder(fold_db, Arc::downgrade(&wake), batches.clone()));
        tokio::spawn(writer(db.clone(), rx, head, one_by_one, batches, wake));
        Ingest { jobs, db }
    }

    /// The writer's own pool (for its gauges).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Stores `delivery`; returns only once it is durably committed (or known not to be).
    pub async fn submit(&self, delivery: Delivery) -> Result<Outcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Store(Box::new(delivery), reply))
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.unwrap_or(Err(IngestError::Unavailable))
    }

    /// Whether the writer can commit now: a transaction through the writer's own queue,
    /// connection and sequence lock that stores nothing.
    pub async fn probe(&self) -> Result<(), IngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Probe(reply))
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.unwrap_or(Err(IngestError::Unavailable))
    }
}

async fn writer(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<Job>,
    head: watch::Sender<i64>,
    one_by_one: bool,
    batches: IngestBatches,
    fold: Arc<Notify>,
) {
    let limit = if one_by_one { 1 } else { MAX_BATCH };
    let mut batch = Vec::with_capacity(limit);
    while rx.recv_many(&mut batch, limit).await > 0 {
        let (mut deliveries, mut replies, mut probes) = (vec![], vec![], vec![]);
        for job in batch.drain(..) {
            match job {
                Job::Store(delivery, reply) => {
                    deliveries.push(*delivery);
                    replies.push(reply);
                }
                Job::Probe(reply) => probes.push(reply),
            }
        }
        if !probes.is_empty() {
            // Answered by a commit of its own, before the batch: what a delivery arriving now
            // would wait for.
            let unrecorded = IngestBatches::default();
            let committed = store_retrying(&db, &[], Refused::Fail, &unrecorded).await;
            if let Err(e) = &committed {
                tracing::warn!(error = %e, "the writer cannot commit");
            }
            for reply in probes {
                let _ = reply.send(match &committed {
                    Ok(_) => Ok(()),
                    Err(_) => Err(IngestError::Unavailable),
                });
            }
        }
        if deliveries.is_empty() {
            continue;
        }
        let results = store_with_fallback(&db, &deliveries, &batches).await;
        let newest = results
            .iter()
            .filter_map(|r| match r {
                Ok(Outcome::Stored(id)) => Some(*id),
                _ => None,
            })
            .max();
        if let Some(newest) = newest {
            // Lower than before only when the database was restored to an earlier point: the
            // feed watches for that.
            head.send_replace(newest);
            fold.notify_one();
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // The sender may have given up waiting; the commit stands either way.
            let _ = reply.send(result);
        }
    }
}

/// Folds the assignment counts' changes `FOLD_AFTER` after the writer wakes it, or every
/// `FOLD_IDLE`, until the writer (which holds `wake`) ends. A fold that fails is tried again at
/// the next turn: its changes stay where they were, and every read adds them up meanwhile.
async fn folder(db: DatabaseConnection, wake: Weak<Notify>, batches: IngestBatches) {
    loop {
        let Some(wake) = wake.upgrade() else {
            return;
        };
        let _ = tokio::time::timeout(FOLD_IDLE, wake.notified()).await;
        drop(wake);
        tokio::time::sleep(FOLD_AFTER).await;
        match write::counts::fold(&db).await {
            Ok(moved) => batches.changes_folded.increment(moved),
            Err(e) if is_unavailable(&e) => {}
            Err(e) => tracing::warn!(error = %e, "folding the assignment counts failed"),
        }
    }
}

/// Commits the whole batch in one transaction. If that fails for a reason other than an
/// unreachable database, commits each delivery alone, so one bad delivery cannot sink the rest:
/// alone, a delivery whose normalised rows the database refuses is still stored, raw and flagged.
async fn store_with_fallback(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    batches: &IngestBatches,
) -> Vec<Result<Outcome, IngestError>> {
    match store_retrying(db, deliveries, Refused::Fail, batches).await {
        Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
        Err(e) if is_unavailable(&e) => {
            tracing::warn!(error = %e, "database unavailable; answering 503");
            return deliveries
                .iter()
                .map(|_| Err(IngestError::Unavailable))
                .collect();
        }
        Err(e) => {
            tracing::warn!(error = %e, size = deliveries.len(), "batch failed; storing one by one")
        }
    }
    let mut results = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let one = std::slice::from_ref(delivery);
        results.push(
            match store_retrying(db, one, Refused::KeepRaw, batches).await {
                Ok(mut outcome) => Ok(outcome.remove(0)),
                Err(e) if is_unavailable(&e) => Err(IngestError::Unavailable),
                Err(e) => {
                    tracing::error!(error = %e, "storing a delivery failed");
                    Err(IngestError::Failed(e))
                }
            },
        );
    }
    results
}

async fn store_retrying(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    refused: Refused,
    batches: &IngestBatches,
) -> Result<Vec<Outcome>, DbErr> {
    let mut attempt = 0;
    loop {
        match store_batch(db, deliveries, refused, batches).await {
            Err(e) if is_retryable(&e) && attempt < RETRIES => attempt += 1,
            other => return other,
        }
    }
}

async fn store_batch(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    refused: Refused,
    batches: &IngestBatches,
) -> Result<Vec<Outcome>, DbErr> {
    let started = std::time::Instant::now();
    let txn = db.begin().await?;
    let head = lock_sequence(&txn).await?;
    let (outcomes, head) = match deliveries.is_empty() {
        true => (vec![], head),
        false => write::store(&txn, head, deliveries, refused).await?,
    };
    let commit = finish(txn, head, &outcomes).await?;
    batches.seconds.record(started.elapsed());
    batches.commit_seconds.record(commit);
    batches.deliveries.record(deliveries.len() as f64);
    Ok(outcomes)
}

/// Moves the sequence to `head`, signals other instances, commits; returns how long the commit
/// took.
async fn finish(
    txn: sea_orm::DatabaseTransaction,
    head: i64,
    outcomes: &[Outcome],
) -> Result<std::time::Duration, DbErr> {
    let update = Query::update()
        .table(entity::sequence::Entity)
        .value(entity::sequence::Column::Value, head)
        .and_where(Expr::col(entity::sequence::Column::Id).eq(1))
        .to_owned();
    txn.execute(&update).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres
        && outcomes.iter().any(|o| matches!(o, Outcome::Stored(_)))
    {
        // Delivered to every instance's LISTEN at commit, not before.
        let notify = sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [super::CHANNEL.into(), head.to_string().into()],
        );
        txn.execute_raw(notify).await?;
    }
    let started = std::time::Instant::now();
    txn.commit().await?;
    Ok(started.elapsed())
}

/// Takes the sequence row's write lock for the rest of the transaction and reads it.
///
/// Every writer, on every instance, takes this lock first, so transactions that store events
/// commit one after another and a later commit always carries larger numbers: a reader that has
/// seen number n can never later find a committed number below n. It is a write (not a
/// `SELECT … FOR UPDATE`) so that SQLite also takes its write lock here, at the start.
async fn lock_sequence<C: ConnectionTrait>(txn: &C) -> Result<i64, DbErr> {
    let lock = Query::update()
        .table(entity::sequence::Entity)
        .value(
            entity::sequence::Column::Value,
            Expr::col(entity::sequence::Column::Value),
        )
        .and_where(Expr::col(entity::sequence::Column::Id).eq(1))
        .returning_col(entity::sequence::Column::Value)
        .to_owned();
    let row = txn
        .query_one(&lock)
        .await?
        .ok_or_else(|| DbErr::Custom("the sequence row is missing: run migrations".into()))?;
    row.try_get_by_index::<i64>(0)
}

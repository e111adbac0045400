//! The one write path. A single writer task per instance takes deliveries in batches (group
//! commit): one transaction stores each raw event, its normalised rows and its sequence number,
//! then every sender hears back only after that commit returned.

use super::{apply::apply, is_retryable, is_unavailable};
use crate::webhook::{envelope::Envelope, normalise::Normalised};
use chrono::{DateTime, Utc};
use entity::webhook_event;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, TransactionSession, TransactionTrait,
};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot, watch};

/// Most deliveries one transaction commits together.
const MAX_BATCH: usize = 256;
/// How often a transaction that lost a deadlock or serialisation race is run again.
const RETRIES: usize = 5;

/// One verified delivery, ready to store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    pub normalised: Normalised,
    /// The body exactly as received.
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub signature_verified: bool,
}

/// What the store did with a delivery; both carry the webhook event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored(i64),
    Duplicate(i64),
}

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the database is unavailable")]
    Unavailable,
    #[error("storing the delivery failed: {0}")]
    Failed(DbErr),
}

type Reply = oneshot::Sender<Result<Outcome, IngestError>>;

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<(Delivery, Reply)>,
}

impl Ingest {
    /// Starts the writer. `head` hears every committed sequence number. `one_by_one` stores
    /// each delivery alone through the row-by-row reference path.
    pub fn start(db: DatabaseConnection, head: watch::Sender<i64>, one_by_one: bool) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(db, rx, head, one_by_one));
        Ingest { jobs }
    }

    /// Stores `delivery`; returns only once it is durably committed (or known not to be).
    pub async fn submit(&self, delivery: Delivery) -> Result<Outcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((delivery, reply))
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.unwrap_or(Err(IngestError::Unavailable))
    }
}

async fn writer(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<(Delivery, Reply)>,
    head: watch::Sender<i64>,
    one_by_one: bool,
) {
    let (limit, mode) = if one_by_one {
        (1, Mode::OneByOne)
    } else {
        (MAX_BATCH, Mode::Batch)
    };
    let mut batch = Vec::with_capacity(limit);
    while rx.recv_many(&mut batch, limit).await > 0 {
        let (deliveries, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let results = store_with_fallback(&db, &deliveries, mode).await;
        let newest = results
            .iter()
            .filter_map(|r| match r {
                Ok(Outcome::Stored(id)) => Some(*id),
                _ => None,
            })
            .max();
        if let Some(newest) = newest {
            head.send_if_modified(|h| {
                let moved = newest > *h;
                *h = Ord::max(*h, newest);
                moved
            });
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // The sender may have given up waiting; the commit stands either way.
            let _ = reply.send(result);
        }
    }
}

/// Commits the whole batch in one transaction; if that fails for a reason other than an
/// unreachable database, commits each delivery alone so one bad delivery cannot sink the rest.
async fn store_with_fallback(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    mode: Mode,
) -> Vec<Result<Outcome, IngestError>> {
    match store_retrying(db, deliveries, mode).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) if is_unavailable(&e) => {
            tracing::warn!(error = %e, "database unavailable; answering 503");
            deliveries
                .iter()
                .map(|_| Err(IngestError::Unavailable))
                .collect()
        }
        Err(e) if mode == Mode::OneByOne && deliveries.len() == 1 => {
            tracing::error!(error = %e, "storing a delivery failed");
            vec![Err(IngestError::Failed(e))]
        }
        Err(e) => {
            tracing::warn!(error = %e, size = deliveries.len(), "batch failed; storing one by one");
            let mut results = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                results.push(
                    match store_retrying(db, std::slice::from_ref(delivery), Mode::OneByOne).await {
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
    }
}

/// How a transaction writes its deliveries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The whole batch in a fixed number of multi-row statements (`batch.rs`).
    Batch,
    /// Each delivery on its own, its normalised rows under a savepoint: one that the database
    /// refuses is kept raw and flagged instead of failing.
    OneByOne,
}

async fn store_retrying(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    mode: Mode,
) -> Result<Vec<Outcome>, DbErr> {
    let mut attempt = 0;
    loop {
        match store_batch(db, deliveries, mode).await {
            Err(e) if is_retryable(&e) && attempt < RETRIES => attempt += 1,
            other => return other,
        }
    }
}

async fn store_batch(
    db: &DatabaseConnection,
    deliveries: &[Delivery],
    mode: Mode,
) -> Result<Vec<Outcome>, DbErr> {
    let txn = db.begin().await?;
    let head = lock_sequence(&txn).await?;
    let (outcomes, head) = match mode {
        Mode::Batch => super::batch::store(&txn, head, deliveries).await?,
        Mode::OneByOne => store_each(&txn, head, deliveries).await?,
    };
    finish(txn, head, &outcomes).await?;
    Ok(outcomes)
}

async fn store_each<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    mut head: i64,
    deliveries: &[Delivery],
) -> Result<(Vec<Outcome>, i64), DbErr> {
    let mut seen: HashMap<&str, i64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let key = delivery.envelope.idempotency_key.as_str();
        if let Some(&id) = seen.get(key) {
            outcomes.push(Outcome::Duplicate(id));
            continue;
        }
        let outcome = store_one(txn, head + 1, delivery).await?;
        if let Outcome::Stored(id) = outcome {
            head = id;
        }
        let (Outcome::Stored(id) | Outcome::Duplicate(id)) = outcome;
        seen.insert(key, id);
        outcomes.push(outcome);
    }
    Ok((outcomes, head))
}

/// Moves the sequence to `head`, signals other instances, commits.
async fn finish(
    txn: sea_orm::DatabaseTransaction,
    head: i64,
    outcomes: &[Outcome],
) -> Result<(), DbErr> {
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
            [crate::feed::CHANNEL.into(), head.to_string().into()],
        );
        txn.execute_raw(notify).await?;
    }
    txn.commit().await
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

async fn store_one<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    id: i64,
    delivery: &Delivery,
) -> Result<Outcome, DbErr> {
    let env = &delivery.envelope;
    let norm = &delivery.normalised;
    let row = event_row(id, delivery);
    let inserted = webhook_event::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(webhook_event::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        let existing = webhook_event::Entity::find()
            .select_only()
            .column(webhook_event::Column::Id)
            .filter(webhook_event::Column::IdempotencyKey.eq(env.idempotency_key.clone()))
            .into_tuple::<i64>()
            .one(txn)
            .await?
            .ok_or_else(|| DbErr::Custom("duplicate key without a row".into()))?;
        return Ok(Outcome::Duplicate(existing));
    }
    if norm.normalized {
        apply_isolated(txn, id, delivery).await?;
    }
    Ok(Outcome::Stored(id))
}

/// The `webhook_events` row of `delivery` stored as event `id`.
pub(super) fn event_row(id: i64, delivery: &Delivery) -> webhook_event::Model {
    let env = &delivery.envelope;
    webhook_event::Model {
        id,
        idempotency_key: env.idempotency_key.clone(),
        delivery_id: env.delivery_id.clone(),
        event_id: env.event_id.clone(),
        source_id: env.source_id.clone(),
        project_id: env.project_id.clone(),
        event_type: env.event_type.clone(),
        event_name: env.event_name.clone(),
        occurred_at: env.occurred_at,
        received_at: delivery.received_at,
        signature_verified: delivery.signature_verified,
        normalized: delivery.normalised.normalized,
        normalization_note: delivery.normalised.note.clone(),
        body: delivery.body.clone(),
    }
}

/// Applies the normalised rows under a savepoint: if the database refuses them, the raw event
/// still commits, flagged with a note, and the sender still gets its 200.
async fn apply_isolated<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    id: i64,
    delivery: &Delivery,
) -> Result<(), DbErr> {
    let savepoint = txn.begin().await?;
    match apply(&savepoint, id, delivery.received_at, &delivery.normalised).await {
        Ok(()) => savepoint.commit().await,
        Err(e) if is_unavailable(&e) || is_retryable(&e) => Err(e),
        Err(e) => {
            tracing::warn!(event = id, error = %e, "normalised rows refused; keeping the raw event");
            savepoint.rollback().await?;
            let flag = Query::update()
                .table(webhook_event::Entity)
                .value(webhook_event::Column::Normalized, false)
                .value(
                    webhook_event::Column::NormalizationNote,
                    "the database refused the normalised rows; stored verbatim",
                )
                .and_where(Expr::col(webhook_event::Column::Id).eq(id))
                .to_owned();
            txn.execute(&flag).await.map(|_| ())
        }
    }
}

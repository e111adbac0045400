//! `--retain-raw-days`: the raw bodies of normalised events received more than N days ago are
//! removed, a small batch per transaction; each event's row, and everything normalised from it,
//! stay, and the row says when its body went. Bodies of events that were not normalised are
//! never removed: they are all there is of them.
//!
//! Each batch first moves the store's revision on the sequence row, the row every ingest commit
//! locks: so ingest waits at most one batch, answers cached before the removal are not served
//! after it (the query cache keys on the revision), and the batches of several instances follow
//! one another. A batch removes only bodies still there, so each is removed, and counted, once.

use crate::metrics::Metrics;
use chrono::{DateTime, TimeDelta, Utc};
use entity::webhook_event;
use migration::RAW_REMOVABLE;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use std::{sync::Arc, time::Duration};
use tokio::{sync::watch, task::JoinHandle};

/// Most bodies one transaction removes: short enough that ingest, which waits for it, never
/// notices much.
const BATCH: u64 = 500;

/// Removes the bodies older than `days` now and then every `every`, counting them in `metrics`,
/// until `shutdown` turns true (or its sender goes).
pub fn start(
    db: DatabaseConnection,
    days: u32,
    every: Duration,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return,
            }
            let cutoff = Utc::now() - TimeDelta::days(i64::from(days));
            let counted = |n| metrics.raw_bodies_removed.increment(n);
            match remove_bodies(&db, cutoff, &shutdown, counted).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, days, "raw bodies of normalised events removed")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "removing raw bodies failed; next run in {every:?}");
                    continue;
                }
            }
            metrics.raw_retention_runs.increment(1);
        }
    })
}

/// Removes the bodies of normalised events received before `cutoff`, a batch per transaction
/// (each batch's count handed to `counted` once committed), until none is left or `stop` turns
/// true. Returns how many this call removed.
async fn remove_bodies(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    stop: &watch::Receiver<bool>,
    counted: impl Fn(u64),
) -> Result<u64, DbErr> {
    let mut removed = 0;
    while !*stop.borrow() {
        let ids = removable(db, cutoff).await?;
        if ids.is_empty() {
            break;
        }
        let batch = remove(db, &ids, Utc::now()).await?;
        counted(batch);
        removed += batch;
        // Fewer than a batch: that was the last. None removed: another instance took them.
        if (ids.len() as u64) < BATCH || batch == 0 {
            break;
        }
    }
    Ok(removed)
}

/// The oldest events (at most a batch) received before `cutoff` whose bodies may go.
async fn removable(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<Vec<i64>, DbErr> {
    use webhook_event::Column as C;
    webhook_event::Entity::find()
        .select_only()
        .column(C::Id)
        // The partial index on this text finds them without reading what is gone already.
        .filter(Expr::cust(RAW_REMOVABLE))
        .filter(C::ReceivedAt.lt(cutoff))
        .order_by_asc(C::ReceivedAt)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await
}

/// Removes the bodies of events `ids` that are still removable, as of `now`; returns how many.
async fn remove(db: &DatabaseConnection, ids: &[i64], now: DateTime<Utc>) -> Result<u64, DbErr> {
    use webhook_event::Column as C;
    let txn = db.begin().await?;
    super::revise(&txn).await?;
    let strip = Query::update()
        .table(webhook_event::Entity)
        .value(C::Body, Option::<String>::None)
        .value(C::PayloadRemovedAt, now)
        .and_where(Expr::col(C::Id).is_in(ids.iter().copied()))
        .and_where(Expr::cust(RAW_REMOVABLE))
        .to_owned();
    let done = txn.execute(&strip).await?;
    txn.commit().await?;
    Ok(done.rows_affected())
}

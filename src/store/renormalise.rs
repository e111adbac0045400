//! `pubgate renormalise`: every stored raw body read again, in commit order, with today's
//! normalisation rules, and applied through the one write path as if it had just arrived. What
//! was stored before stays unless newer facts replace it: a publication is never stored,
//! relayed or counted twice, an entity keeps its newest facts, and rows that a body whose raw
//! text was removed (`--retain-raw-days`) produced stay as they are. Safe while `serve` runs:
//! each batch holds the sequence row's lock that every ingest commit takes first, and moves the
//! store's revision so that no answer cached before is served after.
//!
//! A publication that only today's rules find, in an event stored before, takes that event's
//! place in commit order: subscribers that replay from before it see it; live subscribers, whose
//! feed is past it, do not get a frame for it.

use super::write::{self, Restated};
use entity::webhook_event::{self, Column};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

/// Events read and applied per transaction: ingest waits at most one batch.
const BATCH: u64 = 200;

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub restated: Restated,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.restated;
        write!(
            f,
            "{} events read again: {} newly understood, {} no longer understood (their rows \
             kept); {} without a body (removed by --retain-raw-days), left as they were",
            r.read, r.now_normalised, r.now_flagged, r.without_body
        )
    }
}

/// How many events there are to read (for a progress bar).
pub async fn events(db: &DatabaseConnection) -> Result<u64, DbErr> {
    webhook_event::Entity::find().count(db).await
}

/// Reads every stored event again, oldest first; `progress` hears how many are done.
pub async fn run(db: &DatabaseConnection, progress: impl Fn(u64)) -> Result<Summary, DbErr> {
    let mut summary = Summary::default();
    let mut after = 0;
    loop {
        let txn = db.begin().await?;
        super::revise(&txn).await?;
        let batch = webhook_event::Entity::find()
            .filter(Column::Id.gt(after))
            .order_by_asc(Column::Id)
            .limit(BATCH)
            .all(&txn)
            .await?;
        let Some(last) = batch.last() else {
            txn.commit().await?;
            return Ok(summary);
        };
        after = last.id;
        let restated = write::restate(&txn, &batch).await?;
        txn.commit().await?;
        summary.events += batch.len() as u64;
        summary.restated += restated;
        progress(summary.events);
    }
}

//! The one implementation of storing deliveries, for a batch of any size (a lone delivery is a
//! batch of one): the raw events in one multi-row statement, then their normalised rows in a
//! fixed number of statements whatever the batch size.
//!
//! The result is what applying the deliveries one after another in commit order would store.
//! The facts already stored for what the batch touches are read first (`stored`), under the
//! sequence lock that every writer on every instance holds while writing, so they cannot change
//! underneath; the rules are then replayed in memory, event by event (`replay`); and only the
//! final rows are written (`rows`), with the assignment counts they change (`counts`).

pub mod counts;
mod replay;
mod rows;
mod stored;

use crate::domain::delivery::{Delivery, Outcome};
use entity::webhook_event;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, TransactionTrait,
};
use std::collections::{HashMap, HashSet};

/// What to do when the database refuses a batch's normalised rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Refused {
    /// Fail the transaction (the caller then stores the deliveries one at a time).
    Fail,
    /// Keep the raw events, flagged with a note, and answer as stored: the normalised rows are
    /// written under a savepoint that is rolled back if refused.
    KeepRaw,
}

/// Stores `deliveries` with sequence numbers after `head`; returns each one's outcome and the
/// new head.
pub(super) async fn store(
    txn: &DatabaseTransaction,
    mut head: i64,
    deliveries: &[Delivery],
    refused: Refused,
) -> Result<(Vec<Outcome>, i64), DbErr> {
    let mut known = stored_keys(txn, deliveries).await?;
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let mut stored: Vec<(i64, &Delivery)> = Vec::new();
    for delivery in deliveries {
        // Duplicates: stored before (one lookup for the whole batch) or earlier in this batch.
        let key = &delivery.envelope.idempotency_key;
        if let Some(&id) = known.get(key) {
            outcomes.push(Outcome::Duplicate(id));
            continue;
        }
        head += 1;
        known.insert(key.clone(), head);
        outcomes.push(Outcome::Stored(head));
        stored.push((head, delivery));
    }
    if stored.is_empty() {
        return Ok((outcomes, head));
    }
    webhook_event::Entity::insert_many(
        stored
            .iter()
            .map(|(id, delivery)| event_row(*id, delivery).into_active_model()),
    )
    .exec_without_returning(txn)
    .await?;
    stored.retain(|(_, d)| d.normalised.normalized);
    if !stored.is_empty() {
        match refused {
            Refused::Fail => apply(txn, &stored).await?,
            Refused::KeepRaw => apply_or_flag(txn, &stored).await?,
        }
    }
    Ok((outcomes, head))
}

/// What reading stored events again changed (summed over batches with `+=`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restated {
    /// Events read again (their bodies were there).
    pub read: u64,
    /// Events whose bodies were removed (`--retain-raw-days`): their rows stay as they are.
    pub without_body: u64,
    /// Events flagged before and understood now.
    pub now_normalised: u64,
    /// Events understood before and flagged now (their rows stay; the note says why).
    pub now_flagged: u64,
}

impl std::ops::AddAssign for Restated {
    fn add_assign(&mut self, other: Restated) {
        self.read += other.read;
        self.without_body += other.without_body;
        self.now_normalised += other.now_normalised;
        self.now_flagged += other.now_flagged;
    }
}

/// Reads `events` (in commit order) again with today's rules and applies what they say, as
/// ingest would have: the facts rules replay over what is stored, so a publication stored
/// before is not stored, relayed or counted again, and an entity keeps the newest facts. Each
/// event's flag and note follow the new reading.
pub(super) async fn restate(
    txn: &DatabaseTransaction,
    events: &[webhook_event::Model],
) -> Result<Restated, DbErr> {
    let mut restated = Restated::default();
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let Some(body) = &event.body else {
            restated.without_body += 1;
            continue;
        };
        let reread = Delivery::reread(
            body.clone(),
            &event.idempotency_key,
            event.received_at,
            event.signature_verified,
        );
        let Some(delivery) = reread else { continue };
        restated.read += 1;
        let (normalized, note) = (delivery.normalised.normalized, &delivery.normalised.note);
        if (normalized, note) != (event.normalized, &event.normalization_note) {
            match normalized {
                true if !event.normalized => restated.now_normalised += 1,
                false if event.normalized => restated.now_flagged += 1,
                _ => {}
            }
            let flag = Query::update()
                .table(webhook_event::Entity)
                .value(webhook_event::Column::Normalized, normalized)
                .value(webhook_event::Column::NormalizationNote, note.clone())
                .and_where(Expr::col(webhook_event::Column::Id).eq(event.id))
                .to_owned();
            txn.execute(&flag).await?;
        }
        deliveries.push((event.id, delivery));
    }
    let batch: Vec<(i64, &Delivery)> = deliveries
        .iter()
        .filter(|(_, d)| d.normalised.normalized)
        .map(|(id, d)| (*id, d))
        .collect();
    if batch.is_empty() {
        return Ok(restated);
    }
    // As ingest does: the batch together, else each event alone, its rows kept or, refused,
    // the event flagged.
    let savepoint = txn.begin().await?;
    match apply(&savepoint, &batch).await {
        Ok(()) => savepoint.commit().await?,
        Err(e) if super::is_unavailable(&e) || super::is_retryable(&e) => return Err(e),
        Err(_) => {
            savepoint.rollback().await?;
            for one in &batch {
                apply_or_flag(txn, std::slice::from_ref(one)).await?;
            }
        }
    }
    Ok(restated)
}

/// The event ids already stored under the idempotency keys of `deliveries`.
async fn stored_keys(
    txn: &DatabaseTransaction,
    deliveries: &[Delivery],
) -> Result<HashMap<String, i64>, DbErr> {
    let keys: HashSet<&str> = deliveries
        .iter()
        .map(|d| d.envelope.idempotency_key.as_str())
        .collect();
    let rows = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::IdempotencyKey)
        .column(webhook_event::Column::Id)
        .filter(webhook_event::Column::IdempotencyKey.is_in(keys))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Writes the normalised rows of `batch` (event id, delivery), in commit order.
async fn apply<C: ConnectionTrait>(txn: &C, batch: &[(i64, &Delivery)]) -> Result<(), DbErr> {
    let before = stored::read(txn, batch).await?;
    let stored_types: HashMap<String, String> = before
        .vouchers
        .iter()
        .map(|(id, (_, kind))| (id.clone(), kind.clone()))
        .collect();
    let mut after = replay::replay(before, batch);
    let change = counts::before_write(txn, &stored_types, &mut after).await?;
    rows::write(txn, after).await?;
    counts::after_write(txn, change).await
}

/// `apply` under a savepoint: if the database refuses the normalised rows, the raw events still
/// commit, flagged with a note, and their senders still get their 200.
async fn apply_or_flag(txn: &DatabaseTransaction, batch: &[(i64, &Delivery)]) -> Result<(), DbErr> {
    let savepoint = txn.begin().await?;
    match apply(&savepoint, batch).await {
        Ok(()) => savepoint.commit().await,
        Err(e) if super::is_unavailable(&e) || super::is_retryable(&e) => Err(e),
        Err(e) => {
            let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
            tracing::warn!(events = ?ids, error = %e, "normalised rows refused; keeping the raw events");
            savepoint.rollback().await?;
            let flag = Query::update()
                .table(webhook_event::Entity)
                .value(webhook_event::Column::Normalized, false)
                .value(
                    webhook_event::Column::NormalizationNote,
                    "the database refused the normalised rows; stored verbatim",
                )
                .and_where(Expr::col(webhook_event::Column::Id).is_in(ids))
                .to_owned();
            txn.execute(&flag).await.map(|_| ())
        }
    }
}

/// The `webhook_events` row of `delivery` stored as event `id`.
fn event_row(id: i64, delivery: &Delivery) -> webhook_event::Model {
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
        body: Some(delivery.body.clone()),
        payload_removed_at: None,
    }
}

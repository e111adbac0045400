//! The group-commit fast path: a whole batch of deliveries in a fixed number of multi-row
//! statements, whatever its size.
//!
//! The result is exactly what applying the deliveries one by one (`apply::apply`, in commit
//! order) would store: the stored facts the batch touches are read first (under the sequence
//! lock, which every writer on every instance holds while writing, so they cannot change
//! underneath), the one-by-one rules are replayed in memory — newer facts win, ties go to the
//! later event, a voucher without a type takes its campaign's as of that event, a voucher's
//! categories are those of the last applied payload that carried any, a publication belongs
//! to the first event that carried it — and only the final rows are written. If the database
//! refuses any of it, the caller rolls the transaction back and stores the deliveries one by
//! one, each under its own savepoint.

use super::apply::upsert_newer_many;
use super::ingest::{Delivery, Outcome};
use crate::webhook::normalise::VoucherFacts;
use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
    webhook_event,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// Stores `deliveries` with sequence numbers after `head`; returns each one's outcome and the
/// new head.
pub(super) async fn store<C: ConnectionTrait>(
    txn: &C,
    mut head: i64,
    deliveries: &[Delivery],
) -> Result<(Vec<Outcome>, i64), DbErr> {
    // Duplicates: stored before (one lookup for the whole batch) or earlier in this batch.
    let keys: Vec<String> = deliveries
        .iter()
        .map(|d| d.envelope.idempotency_key.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut known: HashMap<String, i64> = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::IdempotencyKey)
        .column(webhook_event::Column::Id)
        .filter(webhook_event::Column::IdempotencyKey.is_in(keys))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let mut stored: Vec<(i64, &Delivery)> = Vec::new();
    for delivery in deliveries {
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
            .map(|(id, delivery)| super::ingest::event_row(*id, delivery).into_active_model()),
    )
    .exec_without_returning(txn)
    .await?;
    let normalised: Vec<(i64, &Delivery)> = stored
        .into_iter()
        .filter(|(_, d)| d.normalised.normalized)
        .collect();
    if !normalised.is_empty() {
        apply(txn, &normalised).await?;
    }
    Ok((outcomes, head))
}

/// A row's latest state while the batch is replayed: the facts time it holds and, once the batch
/// wrote it, the row to write.
struct Slot<M> {
    facts_at: i64,
    row: Option<M>,
}

/// The stored facts time of each of `ids` that exists, as replay slots.
async fn stored_facts<E, C>(
    txn: &C,
    id: E::Column,
    facts_at: E::Column,
    ids: HashSet<&str>,
) -> Result<HashMap<String, Slot<E::Model>>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let stored = E::find()
        .select_only()
        .column(id)
        .column(facts_at)
        .filter(id.is_in(ids))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?;
    Ok(stored
        .into_iter()
        .map(|(id, facts_at)| {
            (
                id,
                Slot {
                    facts_at,
                    row: None,
                },
            )
        })
        .collect())
}

/// The rows the replay decided to write.
fn written<M>(slots: HashMap<String, Slot<M>>) -> Vec<M> {
    slots.into_values().filter_map(|slot| slot.row).collect()
}

/// Replays `upsert_newer`: `row` replaces the slot unless the slot's facts are newer.
fn offer<M>(slots: &mut HashMap<String, Slot<M>>, id: &str, facts_at: i64, row: M) -> bool {
    let slot = slots.entry(id.to_owned()).or_insert(Slot {
        facts_at: i64::MIN,
        row: None,
    });
    if slot.facts_at <= facts_at {
        slot.facts_at = facts_at;
        slot.row = Some(row);
        true
    } else {
        false
    }
}

async fn apply<C: ConnectionTrait>(txn: &C, batch: &[(i64, &Delivery)]) -> Result<(), DbErr> {
    let rows = || batch.iter().map(|(id, d)| (*id, &d.normalised));
    let received = |event_id: i64| {
        batch
            .iter()
            .find(|(id, _)| *id == event_id)
            .map(|(_, d)| d.received_at)
    };
    // What is stored now for every id the batch touches.
    let customer_ids: HashSet<&str> = rows()
        .flat_map(|(_, n)| n.customers.iter().map(|c| c.id.as_str()))
        .collect();
    let mut customers = stored_facts::<customer::Entity, _>(
        txn,
        customer::Column::Id,
        customer::Column::FactsAt,
        customer_ids,
    )
    .await?;
    let campaign_ids: HashSet<&str> = rows()
        .flat_map(|(_, n)| {
            n.campaigns.iter().map(|c| c.id.as_str()).chain(
                n.vouchers
                    .iter()
                    .filter(|v| !v.type_known)
                    .filter_map(|v| v.row.campaign_id.as_deref()),
            )
        })
        .collect();
    let stored_campaigns = campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .column(campaign::Column::FactsAt)
        .column(campaign::Column::VoucherType)
        .filter(campaign::Column::Id.is_in(campaign_ids))
        .into_tuple::<(String, i64, Option<String>)>()
        .all(txn)
        .await?;
    let mut campaign_types: HashMap<String, Option<String>> = HashMap::new();
    let mut campaigns: HashMap<String, Slot<campaign::Model>> = HashMap::new();
    for (id, facts_at, voucher_type) in stored_campaigns {
        campaign_types.insert(id.clone(), voucher_type);
        campaigns.insert(
            id,
            Slot {
                facts_at,
                row: None,
            },
        );
    }
    let voucher_ids: HashSet<&str> = rows()
        .flat_map(|(_, n)| n.vouchers.iter().map(|v| v.row.id.as_str()))
        .collect();
    let mut vouchers = stored_facts::<voucher::Entity, _>(
        txn,
        voucher::Column::Id,
        voucher::Column::FactsAt,
        voucher_ids,
    )
    .await?;
    let publication_ids: HashSet<&str> = rows()
        .filter_map(|(_, n)| n.publication.as_ref().map(|p| p.row.id.as_str()))
        .collect();
    let mut publications_seen: HashSet<String> = publication::Entity::find()
        .select_only()
        .column(publication::Column::Id)
        .filter(publication::Column::Id.is_in(publication_ids))
        .into_tuple::<String>()
        .all(txn)
        .await?
        .into_iter()
        .collect();

    // Replay, event by event, in the order `apply::apply` writes.
    let mut categories: HashMap<String, category::Model> = HashMap::new();
    let mut voucher_categories: HashMap<String, Vec<String>> = HashMap::new();
    let mut new_publications = Vec::new();
    let mut publication_links = Vec::new();
    for (event_id, n) in rows() {
        for row in &n.customers {
            let row = customer::Model {
                event_id,
                ..row.clone()
            };
            offer(&mut customers, &row.id.clone(), row.facts_at, row);
        }
        for row in &n.campaigns {
            let row = campaign::Model {
                event_id,
                ..row.clone()
            };
            let (id, voucher_type) = (row.id.clone(), row.voucher_type.clone());
            if offer(&mut campaigns, &id, row.facts_at, row) {
                campaign_types.insert(id, voucher_type);
            }
        }
        for row in &n.categories {
            categories.insert(row.id.clone(), row.clone());
        }
        for facts in &n.vouchers {
            let VoucherFacts {
                row,
                type_known,
                category_ids,
            } = facts;
            let mut row = voucher::Model {
                event_id,
                ..row.clone()
            };
            if !type_known
                && let Some(campaign_id) = &row.campaign_id
                && let Some(Some(kind)) = campaign_types.get(campaign_id)
            {
                row.voucher_type = kind.clone();
            }
            let id = row.id.clone();
            if offer(&mut vouchers, &id, row.facts_at, row) && !category_ids.is_empty() {
                voucher_categories.insert(id, category_ids.clone());
            }
        }
        if let Some(facts) = &n.publication
            && publications_seen.insert(facts.row.id.clone())
        {
            let row = publication::Model {
                seq: event_id,
                received_at: received(event_id).unwrap_or(facts.row.received_at),
                ..facts.row.clone()
            };
            for (position, voucher_id) in facts.voucher_ids.iter().enumerate() {
                publication_links.push(publication_voucher::Model {
                    publication_id: row.id.clone(),
                    voucher_id: voucher_id.clone(),
                    position: i32::try_from(position).unwrap_or(i32::MAX),
                });
            }
            new_publications.push(row);
        }
    }

    // Write the final rows, parents before children.
    upsert_newer_many::<customer::Entity, _>(
        txn,
        written(customers),
        customer::Column::Id,
        customer::Column::FactsAt,
    )
    .await?;
    upsert_newer_many::<campaign::Entity, _>(
        txn,
        written(campaigns),
        campaign::Column::Id,
        campaign::Column::FactsAt,
    )
    .await?;
    upsert_newer_many::<category::Entity, _>(
        txn,
        categories.into_values().collect(),
        category::Column::Id,
        category::Column::Id,
    )
    .await?;
    upsert_newer_many::<voucher::Entity, _>(
        txn,
        written(vouchers),
        voucher::Column::Id,
        voucher::Column::FactsAt,
    )
    .await?;
    if !voucher_categories.is_empty() {
        voucher_category::Entity::delete_many()
            .filter(voucher_category::Column::VoucherId.is_in(voucher_categories.keys().cloned()))
            .exec(txn)
            .await?;
        let links = voucher_categories
            .into_iter()
            .flat_map(|(voucher_id, ids)| {
                ids.into_iter().map(move |category_id| {
                    voucher_category::Model {
                        voucher_id: voucher_id.clone(),
                        category_id,
                    }
                    .into_active_model()
                })
            });
        voucher_category::Entity::insert_many(links)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
    }
    if !new_publications.is_empty() {
        publication::Entity::insert_many(
            new_publications
                .into_iter()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(txn)
        .await?;
    }
    if !publication_links.is_empty() {
        publication_voucher::Entity::insert_many(
            publication_links
                .into_iter()
                .map(IntoActiveModel::into_active_model),
        )
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

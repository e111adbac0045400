//! Applies a delivery's normalised rows inside the ingest transaction; newer facts win.

use crate::webhook::normalise::{Normalised, PublicationFacts, VoucherFacts};
use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
    QueryFilter, QuerySelect,
};

/// Writes every row of `normalised`, as learnt from webhook event `event_id`.
pub async fn apply<C: ConnectionTrait>(
    txn: &C,
    event_id: i64,
    received_at: chrono::DateTime<chrono::Utc>,
    normalised: &Normalised,
) -> Result<(), DbErr> {
    for row in &normalised.customers {
        let row = customer::Model {
            event_id,
            ..row.clone()
        };
        upsert_newer::<customer::Entity, _>(
            txn,
            row,
            customer::Column::Id,
            customer::Column::FactsAt,
        )
        .await?;
    }
    for row in &normalised.campaigns {
        let row = campaign::Model {
            event_id,
            ..row.clone()
        };
        upsert_newer::<campaign::Entity, _>(
            txn,
            row,
            campaign::Column::Id,
            campaign::Column::FactsAt,
        )
        .await?;
    }
    for row in &normalised.categories {
        upsert_newer::<category::Entity, _>(
            txn,
            row.clone(),
            category::Column::Id,
            category::Column::Id,
        )
        .await?;
    }
    for facts in &normalised.vouchers {
        apply_voucher(txn, event_id, facts).await?;
    }
    if let Some(facts) = &normalised.publication {
        insert_publication(txn, event_id, received_at, facts).await?;
    }
    Ok(())
}

async fn apply_voucher<C: ConnectionTrait>(
    txn: &C,
    event_id: i64,
    facts: &VoucherFacts,
) -> Result<(), DbErr> {
    let mut row = voucher::Model {
        event_id,
        ..facts.row.clone()
    };
    if !facts.type_known
        && let Some(campaign_id) = &row.campaign_id
        && let Some(Some(kind)) = campaign::Entity::find_by_id(campaign_id.clone())
            .select_only()
            .column(campaign::Column::VoucherType)
            .into_tuple::<Option<String>>()
            .one(txn)
            .await?
    {
        row.voucher_type = kind;
    }
    let id = row.id.clone();
    let applied =
        upsert_newer::<voucher::Entity, _>(txn, row, voucher::Column::Id, voucher::Column::FactsAt)
            .await?;
    // A payload without category facts leaves the stored ones alone.
    if applied && !facts.category_ids.is_empty() {
        voucher_category::Entity::delete_many()
            .filter(voucher_category::Column::VoucherId.eq(id.clone()))
            .exec(txn)
            .await?;
        let links = facts.category_ids.iter().map(|category_id| {
            voucher_category::Model {
                voucher_id: id.clone(),
                category_id: category_id.clone(),
            }
            .into_active_model()
        });
        voucher_category::Entity::insert_many(links)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A publication is stored once, by the first event that carries it; its `seq` is that event.
async fn insert_publication<C: ConnectionTrait>(
    txn: &C,
    event_id: i64,
    received_at: chrono::DateTime<chrono::Utc>,
    facts: &PublicationFacts,
) -> Result<(), DbErr> {
    let row = publication::Model {
        seq: event_id,
        received_at,
        ..facts.row.clone()
    };
    let id = row.id.clone();
    let inserted = publication::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(publication::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        return Ok(());
    }
    let links = facts
        .voucher_ids
        .iter()
        .enumerate()
        .map(|(position, voucher_id)| {
            publication_voucher::Model {
                publication_id: id.clone(),
                voucher_id: voucher_id.clone(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
            }
            .into_active_model()
        });
    publication_voucher::Entity::insert_many(links)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// `upsert_newer` for many rows in one statement (ids must be distinct).
pub(super) async fn upsert_newer_many<E, C>(
    txn: &C,
    rows: Vec<E::Model>,
    id: E::Column,
    facts_at: E::Column,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .on_conflict(newer_wins::<E>(id, facts_at))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// ON CONFLICT (id) DO UPDATE every other column, WHERE the stored facts are not newer.
fn newer_wins<E: EntityTrait>(id: E::Column, facts_at: E::Column) -> OnConflict {
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| c.as_str() != id.as_str())
        .collect();
    let mut on_conflict = OnConflict::column(id);
    on_conflict.update_columns(others);
    if facts_at.as_str() != id.as_str() {
        on_conflict.action_and_where(
            Expr::col((E::default(), facts_at)).lte(Expr::col((Alias::new("excluded"), facts_at))),
        );
    }
    on_conflict
}

/// Inserts `row`, or overwrites the stored one when the stored facts are not newer.
/// Returns whether a row was written.
async fn upsert_newer<E, C>(
    txn: &C,
    row: E::Model,
    id: E::Column,
    facts_at: E::Column,
) -> Result<bool, DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let written = E::insert(row.into_active_model())
        .on_conflict(newer_wins::<E>(id, facts_at))
        .exec_without_returning(txn)
        .await?;
    Ok(written > 0)
}

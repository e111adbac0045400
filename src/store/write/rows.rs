//! Writes what the replay decided: one multi-row statement per table, parents before children.

use super::replay::After;
use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
    QueryFilter,
};

/// Writes `after`.
pub(super) async fn write<C: ConnectionTrait>(txn: &C, after: After) -> Result<(), DbErr> {
    upsert_newer::<customer::Entity, _>(
        txn,
        after.customers,
        customer::Column::Id,
        customer::Column::FactsAt,
    )
    .await?;
    upsert_newer::<campaign::Entity, _>(
        txn,
        after.campaigns,
        campaign::Column::Id,
        campaign::Column::FactsAt,
    )
    .await?;
    upsert_newer::<category::Entity, _>(
        txn,
        after.categories,
        category::Column::Id,
        category::Column::Id,
    )
    .await?;
    upsert_newer::<voucher::Entity, _>(
        txn,
        after.vouchers,
        voucher::Column::Id,
        voucher::Column::FactsAt,
    )
    .await?;
    if !after.voucher_categories.is_empty() {
        voucher_category::Entity::delete_many()
            .filter(
                voucher_category::Column::VoucherId.is_in(after.voucher_categories.keys().cloned()),
            )
            .exec(txn)
            .await?;
        let links = after
            .voucher_categories
            .into_iter()
            .flat_map(|(voucher_id, ids)| {
                ids.into_iter()
                    .map(move |category_id| voucher_category::Model {
                        voucher_id: voucher_id.clone(),
                        category_id,
                    })
            });
        insert_new::<voucher_category::Entity, _>(txn, links.collect()).await?;
    }
    insert_new::<publication::Entity, _>(txn, after.publications).await?;
    insert_new::<publication_voucher::Entity, _>(txn, after.publication_vouchers).await
}

/// Inserts `rows` in one statement, skipping any that exist.
async fn insert_new<E, C>(txn: &C, rows: Vec<E::Model>) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Inserts `rows` (distinct ids) in one statement, each overwriting the stored row of its id
/// unless the stored facts are newer.
async fn upsert_newer<E, C>(
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

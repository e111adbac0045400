//! Writes what the replay decided: one multi-row statement per table, parents before children.

use super::replay::After;
use chrono::{DateTime, Utc};
use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
};
use sea_orm::sea_query::{
    Alias, CaseStatement, Expr, ExprTrait, Func, IntoColumnRef, OnConflict, Query,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
    QueryFilter,
};

/// A table written by newer facts: its key, the column whose value must not go backwards
/// (the key itself where any later write wins), and the deletion time that, once stored,
/// stays (the key itself where rows are never deleted).
trait Newer: EntityTrait {
    const ID: Self::Column;
    const FACTS_AT: Self::Column;
    const DELETED_AT: Self::Column;
}

macro_rules! newer {
    ($($entity:ident: $facts_at:ident, $deleted_at:ident;)*) => {$(
        impl Newer for $entity::Entity {
            const ID: Self::Column = $entity::Column::Id;
            const FACTS_AT: Self::Column = $entity::Column::$facts_at;
            const DELETED_AT: Self::Column = $entity::Column::$deleted_at;
        }
    )*};
}

newer! {
    customer: FactsAt, DeletedAt;
    campaign: FactsAt, DeletedAt;
    category: Id, Id;
    voucher: FactsAt, DeletedAt;
}

/// Writes `after`.
pub(super) async fn write<C: ConnectionTrait>(txn: &C, after: After) -> Result<(), DbErr> {
    upsert_newer::<customer::Entity, _>(txn, after.customers).await?;
    upsert_newer::<campaign::Entity, _>(txn, after.campaigns).await?;
    upsert_newer::<category::Entity, _>(txn, after.categories).await?;
    upsert_newer::<voucher::Entity, _>(txn, after.vouchers).await?;
    mark_deleted::<customer::Entity, _>(txn, after.deleted.customers).await?;
    mark_deleted::<campaign::Entity, _>(txn, after.deleted.campaigns).await?;
    mark_deleted::<voucher::Entity, _>(txn, after.deleted.vouchers).await?;
    merge_keyed(txn, &after.merged).await?;
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

/// Points every reference to a voucher keyed by its code at the voucher with its id, now
/// written, and removes the keyed row: one statement per table, only when there are merges.
async fn merge_keyed<C: ConnectionTrait>(
    txn: &C,
    merged: &[(String, String)],
) -> Result<(), DbErr> {
    let Some((first, rest)) = merged.split_first() else {
        return Ok(());
    };
    let keys = || merged.iter().map(|(key, _)| key.clone());
    for (table, column) in [
        ("publications", "voucher_id"),
        ("publication_vouchers", "voucher_id"),
        ("voucher_categories", "voucher_id"),
    ] {
        let column = Alias::new(column);
        let update = Query::update()
            .table(Alias::new(table))
            .value(column.clone(), case_of(column.clone(), first, rest))
            .and_where(Expr::col(column).is_in(keys()))
            .to_owned();
        txn.execute(&update).await?;
    }
    voucher::Entity::delete_many()
        .filter(voucher::Column::Id.is_in(keys()))
        .exec(txn)
        .await?;
    Ok(())
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
async fn upsert_newer<E, C>(txn: &C, rows: Vec<E::Model>) -> Result<(), DbErr>
where
    E: Newer,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    E::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .on_conflict(newer_wins::<E>())
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// ON CONFLICT (id) DO UPDATE every other column, WHERE the stored facts are not newer; a
/// stored deletion time stays.
fn newer_wins<E: Newer>() -> OnConflict {
    let (id, facts_at, deleted_at) = (E::ID, E::FACTS_AT, E::DELETED_AT);
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| c.as_str() != id.as_str() && c.as_str() != deleted_at.as_str())
        .collect();
    let mut on_conflict = OnConflict::column(id);
    on_conflict.update_columns(others);
    if deleted_at.as_str() != id.as_str() {
        let (stored, excluded) = (
            Expr::col((E::default(), deleted_at)),
            Expr::col((Alias::new("excluded"), deleted_at)),
        );
        on_conflict.value(deleted_at, Func::coalesce([stored, excluded]));
    }
    if facts_at.as_str() != id.as_str() {
        on_conflict.action_and_where(
            Expr::col((E::default(), facts_at)).lte(Expr::col((Alias::new("excluded"), facts_at))),
        );
    }
    on_conflict
}

/// Sets `deleted_at` on stored rows that have none, each to its own time: one statement.
async fn mark_deleted<E, C>(txn: &C, deleted: Vec<(String, DateTime<Utc>)>) -> Result<(), DbErr>
where
    E: Newer,
    C: ConnectionTrait,
{
    let Some((first, rest)) = deleted.split_first() else {
        return Ok(());
    };
    let update = Query::update()
        .table(E::default())
        .value(E::DELETED_AT, case_of(E::ID, first, rest))
        .and_where(Expr::col(E::ID).is_in(deleted.iter().map(|(id, _)| id.clone())))
        .and_where(Expr::col(E::DELETED_AT).is_null())
        .to_owned();
    txn.execute(&update).await?;
    Ok(())
}

/// `CASE column WHEN key THEN value … END` for `first` and `rest`: one value per row, in one
/// statement.
pub(super) fn case_of<C, V>(column: C, first: &(String, V), rest: &[(String, V)]) -> CaseStatement
where
    C: IntoColumnRef + Clone,
    V: Into<Expr> + Clone,
{
    let is = |key: &str| Expr::col(column.clone()).eq(key);
    rest.iter().fold(
        Expr::case(is(&first.0), first.1.clone()),
        |case, (key, value)| case.case(is(key), value.clone()),
    )
}

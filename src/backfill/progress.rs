//! How far a source's publications have been read (`backfill_progress`), saved after each
//! committed page.

use chrono::{DateTime, Utc};
use entity::backfill_progress::{self, Column, Entity};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};

/// The saved progress of `source`, if any.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    source: &str,
) -> Result<Option<backfill_progress::Model>, DbErr> {
    Entity::find_by_id(source.to_owned()).one(db).await
}

/// Everything from `since` up to `reached` is stored.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    source: &str,
    since: DateTime<Utc>,
    reached: DateTime<Utc>,
) -> Result<(), DbErr> {
    upsert(db, source, since, reached, None).await
}

/// A run read everything from `since` up to `until`.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    source: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    upsert(db, source, since, until, Some(Utc::now())).await
}

async fn upsert<C: ConnectionTrait>(
    db: &C,
    source: &str,
    since: DateTime<Utc>,
    reached: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = vec![Column::Since, Column::Reached, Column::UpdatedAt];
    if finished_at.is_some() {
        update.push(Column::FinishedAt);
    }
    let row = backfill_progress::Model {
        source: source.to_owned(),
        since,
        reached,
        finished_at,
        updated_at: Utc::now(),
    };
    Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(Column::Source)
                .update_columns(update)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

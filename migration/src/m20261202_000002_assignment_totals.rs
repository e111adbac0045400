//! Assignment counts by one dimension at a time (the entity `assignment_total` says what each
//! row counts), filled from `assignment_counts`; from then on every batch keeps both exact in
//! its own transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssignmentTotals {
    Table,
    Width,
    Minute,
    Dimension,
    Value,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AssignmentTotals as A;
        let text = |name: A| ColumnDef::new(name).text().not_null().to_owned();
        let bigint = |name: A| ColumnDef::new(name).big_integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Width).integer().not_null())
                    .col(bigint(A::Minute))
                    .col(text(A::Dimension))
                    .col(text(A::Value))
                    .col(bigint(A::Count))
                    .primary_key(
                        Index::create()
                            .col(A::Width)
                            .col(A::Minute)
                            .col(A::Dimension)
                            .col(A::Value),
                    )
                    .to_owned(),
            )
            .await?;
        crate::keep_small_under_updates(manager, "assignment_totals").await?;
        fill(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssignmentTotals::Table).to_owned())
            .await
    }
}

/// Sums `assignment_counts` into `assignment_totals`, which must be empty: what the migration
/// does once, and what tests compare with the totals kept at ingest. (The "every type" rows of
/// `assignment_counts` count each publication once, so they give the campaign and channel
/// totals.)
pub async fn fill<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for (dimension, value, only_every_type) in [
        ("type", "voucher_type", false),
        ("campaign", "campaign_id", true),
        ("channel", "channel", true),
    ] {
        let filter = match only_every_type {
            true => "WHERE voucher_type = ''",
            false => "",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO assignment_totals (width, minute, dimension, value, count) \
             SELECT width, minute, '{dimension}', {value}, SUM(count) FROM assignment_counts \
             {filter} GROUP BY width, minute, {value} HAVING SUM(count) <> 0"
        ))
        .await?;
    }
    Ok(())
}

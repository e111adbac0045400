//! `assignment_changes` (the entity says what a row is): batches append their changes to the
//! assignment counts here, and a fold moves them into `assignment_counts` and
//! `assignment_totals`. An append costs a batch a fraction of what upserting its ~130 count rows
//! did; the fold upserts each changed row once for many batches.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssignmentChanges {
    Table,
    Id,
    Minute,
    VoucherType,
    CampaignId,
    Channel,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AssignmentChanges as A;
        let text = |name: A| ColumnDef::new(name).text().not_null().to_owned();
        let bigint = |name: A| ColumnDef::new(name).big_integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(
                        ColumnDef::new(A::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(bigint(A::Minute))
                    .col(text(A::VoucherType))
                    .col(text(A::CampaignId))
                    .col(text(A::Channel))
                    .col(bigint(A::Count))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // Rows live a fraction of a second: vacuum often, so that the table (which every
            // read of the counts scans) stays a few pages, and never truncate it, which would
            // lock out the batches appending to it.
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE assignment_changes SET (\
                     autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, \
                     autovacuum_vacuum_insert_scale_factor = 0, \
                     autovacuum_vacuum_insert_threshold = 1000, \
                     autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000, \
                     vacuum_truncate = false)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssignmentChanges::Table).to_owned())
            .await
    }
}

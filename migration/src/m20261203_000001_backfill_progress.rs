//! Where reading Voucherify's publications list got to, per API source, so that a backfill or
//! a reconciliation resumes instead of starting over.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |name: &str| {
            ColumnDef::new(Alias::new(name))
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("backfill_progress"))
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Alias::new("source"))
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(at("since"))
                    .col(at("reached"))
                    .col(
                        ColumnDef::new(Alias::new("finished_at"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(at("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("backfill_progress"))
                    .to_owned(),
            )
            .await
    }
}

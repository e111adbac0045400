//! Deletions: `deleted_at` on customers, vouchers and campaigns, set by `customer.deleted`,
//! `voucher.deleted` and `campaign.deleted` (null while the entity exists).
//!
//! No index: lists leave deleted rows out with `deleted_at IS NULL`, a residual condition on
//! the ranges they already read (the primary key, `ix_vouchers_holder`, `ix_vouchers_campaign`);
//! deletions are few, so a page steps over few rows. An index on `deleted_at` would not be
//! selective (nearly every row is live), and putting the column in the list indexes, before
//! `id`, would make their order by id depend on the planner treating `IS NULL` as an equality.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 3] = ["customers", "vouchers", "campaigns"];

#[derive(DeriveIden)]
enum Deletions {
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One statement per table: SQLite alters one column at a time.
        for table in TABLES {
            let column = ColumnDef::new(Deletions::DeletedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned();
            let alter = Table::alter()
                .table(Alias::new(table))
                .add_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            let alter = Table::alter()
                .table(Alias::new(table))
                .drop_column(Deletions::DeletedAt)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

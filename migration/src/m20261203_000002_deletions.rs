//! Deletions: `deleted_at` on customers, vouchers and campaigns, set by `customer.deleted`,
//! `voucher.deleted` and `campaign.deleted` (null while the entity exists).
//!
//! No index: lists leave deleted rows out with `deleted_at IS NULL` as a residual condition on
//! the index ranges they already read (the primary key, or `ix_vouchers_holder` and
//! `ix_vouchers_campaign`), so no list reads more rows than it did before deletions were
//! applied, beyond the deleted ones a page steps over. An index on `deleted_at` itself would not
//! be selective (almost every row is live), and putting it inside the list indexes would
//! cost the order by id that those pages read in (PostgreSQL does not treat `IS NULL` as
//! an equality that leaves the next column ordered).

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

//! Indexes for what the shipped dashboard sorts and filters by: its live feed pages
//! publications by `received_at` (newest first), and its counters select publications by
//! voucher type.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str, [&str; 2]); 2] = [
    (
        "ix_publications_received",
        "publications",
        ["received_at", "id"],
    ),
    ("ix_vouchers_type", "vouchers", ["voucher_type", "id"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for column in columns {
                index.col(Alias::new(column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            let drop = Index::drop().name(name).table(Alias::new(table)).to_owned();
            manager.drop_index(drop).await?;
        }
        Ok(())
    }
}

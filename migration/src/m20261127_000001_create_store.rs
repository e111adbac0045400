//! The store: raw webhook events (commit-ordered) and the normalised domain.

mod columns;
mod idens;
mod indexes;
mod tables;

use idens::Sequence;
use indexes::indexes;
use sea_orm_migration::prelude::*;
use tables::tables;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        let seed = Query::insert()
            .into_table(Sequence::Table)
            .columns([Sequence::Id, Sequence::Value])
            .values_panic([1.into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "publication_vouchers",
            "publications",
            "voucher_categories",
            "vouchers",
            "categories",
            "campaigns",
            "customers",
            "webhook_events",
            "pubgate_sequence",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

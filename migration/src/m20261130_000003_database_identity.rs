//! Gives the database an identity, made once: cursors and cached answers carry it, so a
//! replaced database (a failover to another server, a new volume) is told from the one they
//! came from.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("database_id"))
            .text()
            .not_null()
            .default("")
            .to_owned();
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("pubgate_sequence"))
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        let random = match manager.get_database_backend() {
            DbBackend::Postgres => "md5(random()::text || clock_timestamp()::text)",
            _ => "lower(hex(randomblob(16)))",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE pubgate_sequence SET database_id = {random}"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("pubgate_sequence"))
                    .drop_column(Alias::new("database_id"))
                    .to_owned(),
            )
            .await
    }
}

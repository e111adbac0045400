//! Room for `--retain-raw-days`: a webhook event's body may be removed (`body` becomes nullable,
//! `payload_removed_at` says when), the bodies that may still go are indexed by age, and the
//! sequence row gets a `revision` that every removal moves, so answers cached for a head are
//! not served once bodies they show are gone.
//!
//! SQLite cannot drop a NOT NULL constraint in place: there `body` is replaced by a nullable
//! column holding the same text (every body is copied once, in the migration's transaction).
//! PostgreSQL only drops the flag.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The bodies retention may still remove: kept, of an event that was normalised. The index
/// below is partial on exactly this, and the removal selects with exactly this text, so that
/// both databases read the index.
pub const REMOVABLE: &str = "body IS NOT NULL AND normalized";

const INDEX: &str = "ix_webhook_events_removable";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => replace_body(manager, "text NULL").await?,
            _ => {
                db.execute_unprepared("ALTER TABLE webhook_events ALTER COLUMN body DROP NOT NULL")
                    .await?;
            }
        }
        let removed_at = ColumnDef::new(Alias::new("payload_removed_at"))
            .timestamp_with_time_zone()
            .null()
            .to_owned();
        add_column(manager, "webhook_events", removed_at).await?;
        let revision = ColumnDef::new(Alias::new("revision"))
            .big_integer()
            .not_null()
            .default(0)
            .to_owned();
        add_column(manager, "pubgate_sequence", revision).await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX {INDEX} ON webhook_events (received_at) WHERE {REMOVABLE}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let removed = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*) FROM webhook_events WHERE body IS NULL",
            ))
            .await?
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or_default();
        if removed > 0 {
            return Err(DbErr::Migration(format!(
                "{removed} webhook events have had their bodies removed (--retain-raw-days): \
                 body cannot be made NOT NULL again"
            )));
        }
        db.execute_unprepared(&format!("DROP INDEX {INDEX}"))
            .await?;
        for (table, column) in [
            ("pubgate_sequence", "revision"),
            ("webhook_events", "payload_removed_at"),
        ] {
            let drop = Table::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(column))
                .to_owned();
            manager.alter_table(drop).await?;
        }
        match backend {
            DbBackend::Sqlite => replace_body(manager, "text NOT NULL DEFAULT ''").await,
            _ => db
                .execute_unprepared("ALTER TABLE webhook_events ALTER COLUMN body SET NOT NULL")
                .await
                .map(|_| ()),
        }
    }

    // SQLite's column swap must not be seen half done.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

async fn add_column(
    manager: &SchemaManager<'_>,
    table: &str,
    column: ColumnDef,
) -> Result<(), DbErr> {
    let mut column = column;
    let alter = Table::alter()
        .table(Alias::new(table))
        .add_column(&mut column)
        .to_owned();
    manager.alter_table(alter).await
}

/// Gives SQLite's `webhook_events` a `body` column declared as `definition`, holding the same
/// text: SQLite cannot change a column's NOT NULL in place, and rebuilding the table would
/// trip the foreign keys of the publications that reference its rows. The column is renamed,
/// a new one added (last, where `body` was), the text copied, the old column dropped.
async fn replace_body(manager: &SchemaManager<'_>, definition: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for step in [
        "ALTER TABLE webhook_events RENAME COLUMN body TO body_replaced".to_owned(),
        format!("ALTER TABLE webhook_events ADD COLUMN body {definition}"),
        "UPDATE webhook_events SET body = body_replaced".to_owned(),
        "ALTER TABLE webhook_events DROP COLUMN body_replaced".to_owned(),
    ] {
        db.execute_unprepared(&step).await?;
    }
    Ok(())
}

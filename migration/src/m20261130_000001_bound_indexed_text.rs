//! Bounds the indexed text of events stored before ingest bounded it (see `bounds`): long
//! idempotency keys become their hash, long types are cut. Nothing else changes.

use crate::bounds;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        // Characters, not bytes, on both databases: a quarter of the byte bound finds every
        // candidate; the exact test is made below.
        let candidates = Statement::from_string(
            backend,
            format!(
                "SELECT id, idempotency_key, event_type FROM webhook_events \
                 WHERE length(idempotency_key) > {} OR length(event_type) > {}",
                bounds::MAX_KEY_BYTES / 4,
                bounds::MAX_TYPE_CHARS
            ),
        );
        for row in db.query_all_raw(candidates).await? {
            let id: i64 = row.try_get("", "id")?;
            let key: String = row.try_get("", "idempotency_key")?;
            let kind: String = row.try_get("", "event_type")?;
            let (new_key, new_kind) = (
                bounds::idempotency_key(key.clone()),
                bounds::event_type(kind.clone()),
            );
            if (&new_key, &new_kind) == (&key, &kind) {
                continue;
            }
            let update = Query::update()
                .table(Alias::new("webhook_events"))
                .value(Alias::new("idempotency_key"), new_key)
                .value(Alias::new("event_type"), new_kind)
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            manager.exec_stmt(update).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The long forms are in each event's stored body; nothing reads them back.
        Ok(())
    }
}

//! Two changes to how the counts are read, found on a store whose publications span a month:
//! - `assignment_totals` keyed by `dimension` first (`dimension, width, minute, value`), so that
//!   a count by voucher type reads the type rows of its spans and nothing else. Keyed by `width,
//!   minute` first, it read every dimension's rows of each span (the campaigns' and channels'
//!   too) and kept one in six.
//! - `assignment_changes` indexed by `minute`. Every read takes the changes of its minutes, and
//!   without the index it read the whole table: after a backfill or a bulk load, hundreds of
//!   megabytes of rows already folded and not yet vacuumed (50 ms a read at a million loaded).
//!
//! The table is rebuilt rather than its key altered, as SQLite cannot alter a primary key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssignmentTotals {
    Width,
    Minute,
    Dimension,
    Value,
    Count,
}

#[derive(DeriveIden)]
enum AssignmentChanges {
    Table,
    Minute,
}

const CHANGES_BY_MINUTE: &str = "ix_assignment_changes_minute";

/// `assignment_totals` as `table`, keyed by `key` in that order.
fn totals(table: &str, key: [AssignmentTotals; 4]) -> TableCreateStatement {
    use AssignmentTotals as A;
    let text = |name: A| ColumnDef::new(name).text().not_null().to_owned();
    let bigint = |name: A| ColumnDef::new(name).big_integer().not_null().to_owned();
    let mut primary = Index::create();
    for column in key {
        primary.col(column);
    }
    Table::create()
        .table(Alias::new(table))
        .col(ColumnDef::new(A::Width).integer().not_null())
        .col(bigint(A::Minute))
        .col(text(A::Dimension))
        .col(text(A::Value))
        .col(bigint(A::Count))
        .primary_key(&mut primary)
        .to_owned()
}

/// Rebuilds `assignment_totals` keyed by `key`, its rows copied: one script, so that it runs on
/// one connection (SQLite checks a rename against the schema the connection last read, and
/// another connection of the pool may not have seen the drop).
async fn rekey(manager: &SchemaManager<'_>, key: [AssignmentTotals; 4]) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let create = backend.build(&totals("assignment_totals_rekeyed", key)).sql;
    // The primary key's index keeps the name it was made with; PostgreSQL names it after the
    // table, and later migrations may look for it there.
    let index = match backend {
        DbBackend::Postgres => {
            "ALTER INDEX assignment_totals_rekeyed_pkey RENAME TO assignment_totals_pkey;"
        }
        _ => "",
    };
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "{create}; \
             INSERT INTO assignment_totals_rekeyed (width, minute, dimension, value, count) \
             SELECT width, minute, dimension, value, count FROM assignment_totals; \
             DROP TABLE assignment_totals; \
             ALTER TABLE assignment_totals_rekeyed RENAME TO assignment_totals; {index}"
        ))
        .await?;
    crate::keep_small_under_updates(manager, "assignment_totals").await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AssignmentTotals as A;
        rekey(manager, [A::Dimension, A::Width, A::Minute, A::Value]).await?;
        manager
            .create_index(
                Index::create()
                    .name(CHANGES_BY_MINUTE)
                    .table(AssignmentChanges::Table)
                    .col(AssignmentChanges::Minute)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AssignmentTotals as A;
        manager
            .drop_index(
                Index::drop()
                    .name(CHANGES_BY_MINUTE)
                    .table(AssignmentChanges::Table)
                    .to_owned(),
            )
            .await?;
        rekey(manager, [A::Width, A::Minute, A::Dimension, A::Value]).await
    }
}

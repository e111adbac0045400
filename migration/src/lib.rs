//! pubgate's schema migrations, portable between SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

pub mod bounds;
mod m20261127_000001_create_store;
mod m20261130_000001_bound_indexed_text;
mod m20261130_000002_dashboard_indexes;
mod m20261130_000003_database_identity;
mod m20261202_000001_assignment_counts;
mod m20261202_000002_assignment_totals;
mod m20261203_000001_backfill_progress;
mod m20261203_000002_deletions;
mod m20261203_000003_raw_retention;
mod m20261203_000004_details;
mod m20261207_000001_assignment_changes;
mod m20261207_000002_ten_minute_counts;
mod m20261207_000003_reads_by_dimension;
mod m20261207_000004_publication_voucher_types;

pub use m20261202_000001_assignment_counts::fill as fill_assignment_counts;
pub use m20261202_000002_assignment_totals::fill as fill_assignment_totals;
pub use m20261203_000003_raw_retention::REMOVABLE as RAW_REMOVABLE;
pub use m20261207_000004_publication_voucher_types::fill as fill_publication_voucher_types;

/// On PostgreSQL, keeps a table whose few rows every batch updates small: room on each page for
/// the new row version (`fillfactor`) and a vacuum after every thousand dead versions, so that
/// it, and every read of it, stays small.
async fn keep_small_under_updates(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE {table} SET (fillfactor = 50, \
             autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, \
             autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000)"
        ))
        .await?;
    Ok(())
}

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_store::Migration),
            Box::new(m20261130_000001_bound_indexed_text::Migration),
            Box::new(m20261130_000002_dashboard_indexes::Migration),
            Box::new(m20261130_000003_database_identity::Migration),
            Box::new(m20261202_000001_assignment_counts::Migration),
            Box::new(m20261202_000002_assignment_totals::Migration),
            Box::new(m20261203_000001_backfill_progress::Migration),
            Box::new(m20261203_000002_deletions::Migration),
            Box::new(m20261203_000003_raw_retention::Migration),
            Box::new(m20261203_000004_details::Migration),
            Box::new(m20261207_000001_assignment_changes::Migration),
            Box::new(m20261207_000002_ten_minute_counts::Migration),
            Box::new(m20261207_000003_reads_by_dimension::Migration),
            Box::new(m20261207_000004_publication_voucher_types::Migration),
        ]
    }
}

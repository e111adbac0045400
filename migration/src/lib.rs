//! pubgate's schema migrations, portable between SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_store;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261127_000001_create_store::Migration)]
    }
}

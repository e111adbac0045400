//! The store, the only place that speaks SQL: connecting and migrating, the one write path
//! (`ingest` with `write`) and the read side (`queries`, `directory`, `publications`, `related`).

pub mod directory;
pub mod ingest;
pub mod publications;
pub mod queries;
pub mod related;
mod write;

use sea_orm::sqlx::{self, postgres::PgPoolOptions, sqlite::SqlitePoolOptions};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlxPostgresConnector,
    SqlxSqliteConnector, TransactionTrait,
};
use std::{str::FromStr, time::Duration};

/// The PostgreSQL notification channel each commit signals on, for every instance's feed.
pub const CHANNEL: &str = "pubgate_feed";

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a pool on `url`: SQLite (WAL, `synchronous=FULL`, foreign keys) or PostgreSQL.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let conn_err = |e: sqlx::Error| DbErr::Custom(format!("cannot open the database: {e}"));
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(conn_err)?
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(conn_err)?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let options = pg_options(url).map_err(conn_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(conn_err)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        Err(DbErr::Custom(
            "the database URL must start with sqlite: or postgres:".into(),
        ))
    }
}

/// The PostgreSQL connection options for `url`: named `pubgate` in `pg_stat_activity`, and
/// without TLS to a loopback host unless the URL asks for it.
pub fn pg_options(url: &str) -> Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
    let mut options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    if !url.contains("application_name=") {
        options = options.application_name("pubgate");
    }
    if tls_is_pointless(url, options.get_host()) {
        options = options.ssl_mode(sqlx::postgres::PgSslMode::Disable);
    }
    Ok(options)
}

/// True when the URL leaves TLS to the default (`sslmode=prefer`, as libpq) but names a
/// loopback host: TLS then protects nothing, and encrypting every round trip cut ingest on this
/// machine to a third (BENCHMARKS.md). An explicit `sslmode` (in the URL or `PGSSLMODE`) wins.
fn tls_is_pointless(url: &str, host: &str) -> bool {
    let explicit = url.contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !explicit && loopback
}

/// Applies pending migrations. On PostgreSQL an advisory lock makes instances that start
/// together take turns instead of racing on the DDL.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SELECT pg_advisory_xact_lock(727282001)")
        .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// True when `err` means "the database cannot be reached right now" (answer 503, retry later).
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => {
            sqlx_error(runtime).is_some_and(|e| match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // 08: connection exception; 57P0x: shutting down; 53300: too many
                    // connections; SQLite 5/6: busy/locked beyond the busy timeout.
                    code.starts_with("08")
                        || code.starts_with("57P0")
                        || matches!(code.as_ref(), "53300" | "5" | "6")
                }),
                _ => false,
            })
        }
        _ => false,
    }
}

/// True when the transaction lost a race (deadlock, serialisation) and can simply run again.
pub fn is_retryable(err: &DbErr) -> bool {
    let (DbErr::Exec(runtime) | DbErr::Query(runtime)) = err else {
        return false;
    };
    sqlx_error(runtime).is_some_and(|e| match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01")),
        _ => false,
    })
}

fn sqlx_error(runtime: &sea_orm::RuntimeErr) -> Option<&sqlx::Error> {
    match runtime {
        sea_orm::RuntimeErr::SqlxError(e) => Some(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_is_skipped_only_on_loopback_and_only_by_default() {
        use super::tls_is_pointless as pointless;
        assert!(pointless("postgres://u@127.0.0.1:5432/db", "127.0.0.1"));
        assert!(pointless("postgres://u@localhost/db", "localhost"));
        assert!(pointless("postgres://u@[::1]/db", "[::1]"));
        assert!(!pointless("postgres://u@db.internal/db", "db.internal"));
        assert!(!pointless("postgres://u@10.0.0.5/db", "10.0.0.5"));
        assert!(!pointless(
            "postgres://u@127.0.0.1/db?sslmode=require",
            "127.0.0.1"
        ));
    }
}

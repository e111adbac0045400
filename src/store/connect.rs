//! Opening the database (a pool, with errors that say where and why) and migrating it.

use crate::config::redact_url;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{
    self, Connection, PgConnection, SqliteConnection, postgres::PgPoolOptions,
    sqlite::SqlitePoolOptions,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlxPostgresConnector,
    SqlxSqliteConnector, TransactionTrait,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::{str::FromStr, time::Duration};

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pooled connection idle this long is pinged before it is handed out. sqlx's default pings
/// every connection on every checkout: a second round trip per statement (BENCHMARKS.md). A
/// connection in steady use is proven by its last statement; one idle for longer may have been
/// cut (a restart, a proxy, the network), so it is tested, and replaced if the test fails.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// For this long after any statement fails, every checkout pings, as sqlx's default does:
/// connections a restart or a cut left dead are then found and replaced before they fail a
/// request (a cut in steady use fails one statement, which starts this).
const PING_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// When a statement last failed, in milliseconds since the Unix epoch (0: never).
static LAST_FAILURE_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Notes that a statement (or a ping) failed on some pool: for a while every checkout from
/// every pool is tested first.
pub fn statement_failed() {
    LAST_FAILURE_MS.store(now_ms(), Ordering::Relaxed);
}

/// Why the database could not be opened, in words that say where and what to check.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the database URL must start with sqlite: or postgres: (got {0:?})")]
    Scheme(String),
    #[error("the database URL {url} is not valid: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Postgres { target: String, reason: String },
    #[error("cannot open the SQLite database {target}: {reason}")]
    Sqlite { target: String, reason: String },
}

/// Opens a pool on `url`: SQLite (WAL, `synchronous=FULL`, foreign keys) or PostgreSQL.
///
/// One connection is made first, on its own, so that a server that refuses, an unknown host,
/// a wrong password or a missing database is reported at once and by name, instead of after
/// the pool has retried until its acquire timeout.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, ConnectError> {
    connect_with(url, max_connections, &[]).await
}

/// `connect`, each PostgreSQL session starting with `settings` (name, value).
async fn connect_with(
    url: &str,
    max_connections: u32,
    settings: &[(&str, &str)],
) -> Result<DatabaseConnection, ConnectError> {
    let bad_url = |e: sqlx::Error| ConnectError::Url {
        url: redact_url(url),
        reason: e.to_string(),
    };
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(bad_url)?
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let failed = |e: sqlx::Error| ConnectError::Sqlite {
            target: options.get_filename().display().to_string(),
            reason: reason(&e),
        };
        SqliteConnection::connect_with(&options)
            .await
            .map_err(failed)?
            .close()
            .await
            .map_err(failed)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(failed)?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let mut options = pg_options(url).map_err(bad_url)?;
        if !settings.is_empty() {
            options = options.options(settings.iter().copied());
        }
        let failed = |e: sqlx::Error| ConnectError::Postgres {
            target: format!(
                "{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or(options.get_username())
            ),
            reason: reason(&e),
        };
        PgConnection::connect_with(&options)
            .await
            .map_err(failed)?
            .close()
            .await
            .map_err(failed)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(failed)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        Err(ConnectError::Scheme(
            url.split(':').next().unwrap_or_default().to_owned(),
        ))
    }
}

/// Tests a pooled connection that was idle for `PING_AFTER_IDLE` or more.
async fn ping_if_idle<C: Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    let since_failure = now_ms().saturating_sub(LAST_FAILURE_MS.load(Ordering::Relaxed));
    if meta.idle_for >= PING_AFTER_IDLE || since_failure < PING_AFTER_FAILURE.as_millis() as u64 {
        // A dead connection found here: the others may be dead too.
        conn.ping().await.inspect_err(|_| statement_failed())?;
    }
    Ok(true)
}

/// Whether the database answers a ping; one that does not makes the pools test their
/// connections for a while, as a failed statement does (sea-orm's ping is not a statement its
/// metric callback sees).
pub async fn reachable(db: &DatabaseConnection) -> bool {
    let answered = db.ping().await.is_ok();
    if !answered {
        statement_failed();
    }
    answered
}

/// A pool of `size` connections of its own beside `shared` (on the same database), so that
/// what uses it never waits for one that `shared`'s users hold. An in-memory SQLite database
/// exists only inside one pool, so there `shared` itself is returned.
pub async fn connect_reserved(
    url: &str,
    shared: &DatabaseConnection,
    size: u32,
) -> Result<DatabaseConnection, ConnectError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(shared.clone());
    }
    connect(url, size).await
}

/// On PostgreSQL, a pool of `size` connections of its own whose sessions start with
/// `settings`; on SQLite, which has no such settings, `shared` itself.
pub async fn connect_tuned(
    url: &str,
    shared: &DatabaseConnection,
    size: u32,
    settings: &[(&str, &str)],
) -> Result<DatabaseConnection, ConnectError> {
    if shared.get_database_backend() != DbBackend::Postgres {
        return Ok(shared.clone());
    }
    connect_with(url, size, settings).await
}

/// What went wrong, as an operator would put it.
fn reason(error: &sqlx::Error) -> String {
    use std::io::ErrorKind;
    match error {
        sqlx::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            "connection refused (is the server running and listening on that address and port?)"
                .into()
        }
        sqlx::Error::Io(io) if io.kind() == ErrorKind::TimedOut => "timed out".into(),
        sqlx::Error::Io(io) if io.to_string().contains("lookup") => {
            format!("unknown host ({io})")
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => format!("authentication failed ({})", db.message()),
            Some("3D000") => format!("the database does not exist ({})", db.message()),
            _ => db.message().to_owned(),
        },
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        sqlx::Error::Tls(tls) => format!("TLS failed ({tls})"),
        other => other.to_string(),
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

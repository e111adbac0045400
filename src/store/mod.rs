//! The store, the only place that speaks SQL: connecting and migrating, the one write path
//! (`ingest` with `write`), the read side (`queries`, `directory`, `publications`, `related`),
//! `retention` (`--retain-raw-days`) and `renormalise` (stored bodies read again).

mod connect;
pub mod directory;
mod filter;
pub mod ingest;
pub mod narrow;
pub mod publications;
pub mod queries;
pub mod related;
pub mod renormalise;
pub mod retention;
pub mod stats;
mod write;

pub use connect::{
    ConnectError, connect, connect_reserved, connect_tuned, migrate, pg_options, reachable,
    statement_failed,
};
pub use write::Restated;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, sqlx};

/// The PostgreSQL notification channel each commit signals on, for every instance's feed.
pub const CHANNEL: &str = "pubgate_feed";

/// Moves the store's revision, on the sequence row every ingest commit locks first: stored rows
/// are about to change without a new event, so answers cached before must not be served after
/// (the query cache keys on the revision), and the rest of `txn` runs with ingest held off.
pub(crate) async fn revise<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    let revise = Query::update()
        .table(entity::sequence::Entity)
        .value(
            entity::sequence::Column::Revision,
            Expr::col(entity::sequence::Column::Revision).add(1),
        )
        .and_where(Expr::col(entity::sequence::Column::Id).eq(1))
        .to_owned();
    txn.execute(&revise).await.map(|_| ())
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

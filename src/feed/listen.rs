//! PostgreSQL `LISTEN`: hears commits made by every instance. After every (re)connection it
//! reads the stored head, so whatever was committed while it was not listening is caught up.

use super::raise;
use crate::store::CHANNEL;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(url: String, db: DatabaseConnection, signal: watch::Sender<i64>) {
    loop {
        match listen(&url, &db, &signal).await {
            Ok(()) => tracing::warn!("feed: LISTEN connection closed; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "feed: LISTEN failed; reconnecting"),
        }
        if signal.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn listen(
    url: &str,
    db: &DatabaseConnection,
    signal: &watch::Sender<i64>,
) -> Result<(), sea_orm::sqlx::Error> {
    // As `PgListener::connect`, but with the store's connection options (name, TLS rule).
    let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(crate::store::pg_options(url)?)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    if let Ok(head) = crate::store::queries::sequence_head(db).await {
        signal.send_if_modified(|s| raise(s, head));
    }
    // `try_recv` returns `None` when the connection is lost (it does not reconnect silently,
    // so the catch-up above runs again on every new connection).
    while let Some(notification) = listener.try_recv().await? {
        if let Ok(head) = notification.payload().parse::<i64>() {
            signal.send_if_modified(|s| raise(s, head));
        }
    }
    Ok(())
}

//! The feed: commit-ordered fan-out to every subscriber on this instance.
//!
//! The store is the source of truth. A commit moves the sequence head (this instance's writer,
//! or PostgreSQL `NOTIFY` from any instance); one task per instance then reads the rows after the
//! last sequence number it published, once, with everything they refer to, and broadcasts them.
//! Database work per event does not grow with the number of subscribers. A lost signal or a
//! dropped LISTEN connection costs latency, never an event: the task also polls the head.

mod listen;
pub mod stream;

use crate::store::publications::{self, PublicationFilter};
use crate::store::queries::{self, EventFilter};
use crate::store::related::{self, Related, Wants};
use entity::{publication, webhook_event};
use sea_orm::{DatabaseConnection, DbErr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Most events one batch carries.
const BATCH: u64 = 500;
/// How often the head is re-read even without a signal.
const POLL: Duration = Duration::from_secs(2);

/// The events with ids up to `upto` after the previous batch, in commit order, and what their
/// publications refer to.
#[derive(Debug)]
pub struct Batch {
    pub upto: i64,
    pub events: Vec<webhook_event::Model>,
    pub publications: Vec<publication::Model>,
    pub related: Arc<Related>,
}

struct Published {
    /// The newest id broadcast.
    head: i64,
    tx: broadcast::Sender<Arc<Batch>>,
}

/// A handle on this instance's feed; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    /// Subscribers' replays read through the shared read pool.
    db: DatabaseConnection,
    /// The publisher's own connections: no amount of read traffic delays a batch.
    publisher: DatabaseConnection,
    published: Arc<Mutex<Published>>,
}

impl Feed {
    /// Starts publishing from `head` (the newest id committed at start), reading through
    /// `publisher`; subscribers replay through `db`. `committed` hears this instance's commits;
    /// on PostgreSQL, `listen_url` adds every other instance's. `queue` is how many batches a
    /// subscriber may fall behind before its stream ends.
    pub fn start(
        db: DatabaseConnection,
        publisher: DatabaseConnection,
        head: i64,
        committed: watch::Receiver<i64>,
        listen_url: Option<String>,
        queue: usize,
    ) -> Feed {
        let (tx, _) = broadcast::channel(queue.max(1));
        let feed = Feed {
            db,
            publisher: publisher.clone(),
            published: Arc::new(Mutex::new(Published { head, tx })),
        };
        let (signal_tx, signal) = watch::channel(head);
        tokio::spawn(forward(committed, signal_tx.clone()));
        if let Some(url) = listen_url {
            tokio::spawn(listen::run(url, publisher, signal_tx));
        }
        tokio::spawn(publish(feed.clone(), signal));
        feed
    }

    /// Subscribes to live batches and returns the newest id published before subscribing:
    /// every batch received covers ids after it.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Batch>>, i64) {
        let published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        (published.tx.subscribe(), published.head)
    }

    /// The store, for replays.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The publisher's own pool (for its gauges).
    pub fn publisher(&self) -> &DatabaseConnection {
        &self.publisher
    }

    /// The newest id broadcast to subscribers.
    pub fn published(&self) -> i64 {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .head
    }

    /// Subscribers currently attached.
    pub fn subscribers(&self) -> usize {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tx
            .receiver_count()
    }
}

/// Copies this instance's commit signal into the feed's signal.
async fn forward(mut committed: watch::Receiver<i64>, signal: watch::Sender<i64>) {
    loop {
        let head = *committed.borrow_and_update();
        signal.send_if_modified(|s| raise(s, head));
        if committed.changed().await.is_err() {
            return;
        }
    }
}

/// Raises `slot` to `value`; true when it moved.
pub(crate) fn raise(slot: &mut i64, value: i64) -> bool {
    let moved = value > *slot;
    *slot = (*slot).max(value);
    moved
}

async fn publish(feed: Feed, mut signal: watch::Receiver<i64>) {
    loop {
        let head = feed
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .head;
        let wanted = *signal.borrow_and_update();
        let target = if wanted > head {
            wanted
        } else {
            match tokio::time::timeout(POLL, signal.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return,
                // No signal for a while: ask the store, in case one was lost.
                Err(_) => match crate::store::queries::sequence_head(&feed.publisher).await {
                    Ok(stored) if stored > head => stored,
                    _ => continue,
                },
            }
        };
        if let Err(e) = publish_upto(&feed, head, target).await {
            tracing::warn!(error = %e, "feed: reading new events failed; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Reads and broadcasts the events in `(head, target]`, a batch at a time.
async fn publish_upto(feed: &Feed, mut head: i64, target: i64) -> Result<(), DbErr> {
    while head < target {
        let events = queries::events_after(
            &feed.publisher,
            &EventFilter::default(),
            head,
            target,
            BATCH,
        )
        .await?;
        let upto = if events.len() as u64 == BATCH {
            events.last().map_or(target, |e| e.id)
        } else {
            target
        };
        // Sequence numbers are unique: at most one publication per number in the range.
        let (all, at_most) = (PublicationFilter::default(), (upto - head).unsigned_abs());
        let publications =
            publications::after_seq(&feed.publisher, &all, head, upto, at_most).await?;
        let related =
            related::for_publications(&feed.publisher, &publications, Wants::all()).await?;
        let batch = Arc::new(Batch {
            upto,
            events,
            publications,
            related: Arc::new(related),
        });
        let mut published = feed.published.lock().unwrap_or_else(|e| e.into_inner());
        // No receiver is not an error: nobody is listening yet.
        let _ = published.tx.send(batch);
        published.head = upto;
        head = upto;
    }
    Ok(())
}

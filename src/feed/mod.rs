//! The feed: commit-ordered fan-out to every subscriber on this instance.
//!
//! The store is the source of truth. A commit moves the sequence head (this instance's writer,
//! or PostgreSQL `NOTIFY` from any instance); one task per instance then reads the rows after the
//! last sequence number it published, once, with everything they refer to, and broadcasts them.
//! Database work per event does not grow with the number of subscribers. A lost signal or a
//! dropped LISTEN connection costs latency, never an event: the task also polls the head.
//!
//! A head that moves backwards (a restore, a point-in-time recovery, a failover to a replica
//! that lagged) or a database identity that changes (a different database) resets the feed: it
//! is logged loudly, every subscriber's stream ends with an error telling it to start again,
//! and publishing carries on from the store's head. Without that, numbers handed out again
//! would be taken for ones already published, and skipped.

mod listen;
pub mod stream;

use crate::store::publications::{self, PublicationFilter};
use crate::store::queries::{self, EventFilter, Head};
use crate::store::related::{self, Related, Wants};
use entity::{publication, webhook_event};
use sea_orm::{DatabaseConnection, DbErr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// Most events one batch carries.
const BATCH: u64 = 500;
/// How often the head is re-read even without a signal.
const POLL: Duration = Duration::from_secs(2);

/// The events with ids up to `upto` after the previous batch, in commit order, and what their
/// publications refer to.
#[derive(Debug)]
pub struct Batch {
    pub upto: i64,
    /// The store was replaced or restored: positions before this batch mean nothing any more.
    pub reset: bool,
    pub events: Vec<webhook_event::Model>,
    pub publications: Vec<publication::Model>,
    pub related: Arc<Related>,
}

struct Published {
    /// The newest id broadcast.
    head: i64,
    /// The identity of the database published from.
    database: String,
    /// How many times the feed was reset (a replaced or restored database).
    generation: u64,
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
    /// Set (and the publisher woken) when this instance's writer committed a number below one
    /// it committed before: the database went back in time, whatever its head says by now.
    restored: Arc<Restored>,
}

/// This instance's own evidence of a restore.
#[derive(Default)]
struct Restored {
    seen: std::sync::atomic::AtomicBool,
    wake: Notify,
}

impl Feed {
    /// Starts publishing from `head` (the newest id committed at start), reading through
    /// `publisher`; subscribers replay through `db`. `committed` hears this instance's commits;
    /// on PostgreSQL, `listen_url` adds every other instance's. `queue` is how many batches a
    /// subscriber may fall behind before its stream ends.
    pub fn start(
        db: DatabaseConnection,
        publisher: DatabaseConnection,
        head: Head,
        committed: watch::Receiver<i64>,
        listen_url: Option<String>,
        queue: usize,
    ) -> Feed {
        let (tx, _) = broadcast::channel(queue.max(1));
        let published = Published {
            head: head.seq,
            database: head.database,
            generation: 0,
            tx,
        };
        let feed = Feed {
            db,
            publisher: publisher.clone(),
            published: Arc::new(Mutex::new(published)),
            restored: Arc::default(),
        };
        let (signal_tx, signal) = watch::channel(head.seq);
        tokio::spawn(forward(committed, signal_tx.clone(), feed.restored.clone()));
        if let Some(url) = listen_url {
            tokio::spawn(listen::run(url, publisher, signal_tx.clone()));
        }
        tokio::spawn(publish(feed.clone(), signal, signal_tx));
        feed
    }

    /// The identity of the database this feed publishes from, and how many times the feed
    /// was reset: what cursors and cached answers are valid for.
    pub fn version(&self) -> (String, u64) {
        let published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        (published.database.clone(), published.generation)
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

    /// How many times the feed was reset (what cached answers are valid for, with the head).
    pub fn generation(&self) -> u64 {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .generation
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

/// Copies this instance's commit signal into the feed's signal. A commit numbered below an
/// earlier one means the database went back in time: the publisher checks at once.
async fn forward(
    mut committed: watch::Receiver<i64>,
    signal: watch::Sender<i64>,
    restored: Arc<Restored>,
) {
    let mut last = *committed.borrow();
    loop {
        let head = *committed.borrow_and_update();
        if head < last {
            restored
                .seen
                .store(true, std::sync::atomic::Ordering::SeqCst);
            restored.wake.notify_one();
        }
        last = head;
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

async fn publish(feed: Feed, mut signal: watch::Receiver<i64>, signal_tx: watch::Sender<i64>) {
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
            tokio::select! {
                changed = signal.changed() => match changed {
                    Ok(()) => continue,
                    Err(_) => return,
                },
                // No signal for a while (one may have been lost), or a sign that the database
                // went back in time: ask the store.
                () = tokio::time::sleep(POLL) => {}
                () = feed.restored.wake.notified() => {}
            }
            let restored = feed
                .restored
                .seen
                .swap(false, std::sync::atomic::Ordering::SeqCst);
            match queries::head(&feed.publisher).await {
                Ok(stored) if restored || feed.is_stale(&stored) => {
                    reset(&feed, &signal_tx, stored);
                    continue;
                }
                Ok(stored) if stored.seq > head => stored.seq,
                _ => continue,
            }
        };
        if let Err(e) = publish_upto(&feed, head, target).await {
            tracing::warn!(error = %e, "feed: reading new events failed; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Feed {
    /// True when `stored` cannot follow what was published: another database, or a head
    /// behind the published one.
    fn is_stale(&self, stored: &Head) -> bool {
        let published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        stored.database != published.database || stored.seq < published.head
    }
}

/// Starts over from the store's head: subscribers are told (their streams end), the signal
/// goes back to the store's head, and the reset is logged loudly.
fn reset(feed: &Feed, signal: &watch::Sender<i64>, stored: Head) {
    let mut published = feed.published.lock().unwrap_or_else(|e| e.into_inner());
    tracing::error!(
        published = published.head,
        stored = stored.seq,
        replaced = stored.database != published.database,
        "THE DATABASE WAS REPLACED OR RESTORED: its head is behind what this instance published, \
         or its identity changed; live subscribers are ended and must start again from a fresh \
         page, and the query cache starts over"
    );
    published.head = stored.seq;
    published.database = stored.database;
    published.generation += 1;
    let _ = published.tx.send(Arc::new(Batch {
        upto: stored.seq,
        reset: true,
        events: vec![],
        publications: vec![],
        related: Arc::default(),
    }));
    signal.send_replace(stored.seq);
}

/// Reads and broadcasts the events in `(head, target]`, a batch at a time. With no subscriber
/// attached it reads nothing and moves the head to `target`: under the lock `subscribe` takes,
/// so a subscriber attaching at that moment starts from `target` (a live one follows from
/// there, a resuming one replays up to it from the store) and misses nothing it was promised.
async fn publish_upto(feed: &Feed, mut head: i64, target: i64) -> Result<(), DbErr> {
    {
        let mut published = feed.published.lock().unwrap_or_else(|e| e.into_inner());
        if published.tx.receiver_count() == 0 {
            published.head = target;
            return Ok(());
        }
    }
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
            reset: false,
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

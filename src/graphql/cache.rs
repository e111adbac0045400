//! Answers to repeated read-only requests, kept only while nothing new is committed.
//!
//! Dashboards ask the same few questions over and over. Every committed delivery moves the
//! sequence head (one row, moved inside the delivery's own transaction, on every instance), and
//! nothing else changes what a query can see. So an answer computed after reading head `h` is
//! still exact for any later request that reads head `h` again: each request reads the head
//! first (one primary-key lookup) and is served from here only when it has not moved. A new
//! commit on any instance is therefore visible to the very next request, as without the cache.
//!
//! The head is a `Version`: the sequence number, the database's identity and the feed's reset
//! generation, so a replaced or restored database, whose numbers start again, never meets an
//! answer computed before; and the store's revision, which moves with the sequence row when
//! stored rows change without a new event (`--retain-raw-days` removing raw bodies,
//! `pubgate renormalise` re-deriving rows), so that
//! change is seen at once too.
//!
//! All entries belong to one head: the first answer stored for a newer head drops the rest.
//! Hand-written rather than an LRU crate because that one rule is the whole eviction policy.
//!
//! Identical requests that miss at the same head while one of them is being executed wait for
//! that one's answer instead of executing too ("single flight"): when deliveries keep arriving,
//! each commit would otherwise send every waiting dashboard into the same execution at once.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What an answer is valid for: the committed head read before computing it, in the database
/// it was read from, in the feed's generation (bumped when the database is found restored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub database: String,
    pub generation: u64,
    pub seq: i64,
    pub revision: i64,
}

impl Version {
    /// True when `self` was read before `other`: an older generation, or the same database
    /// and generation with a lower head (or the same head at a lower revision; both only grow).
    /// A different database in the same generation is the newer one (it was read just now,
    /// before the feed noticed).
    fn before(&self, other: &Version) -> bool {
        if self.generation != other.generation {
            return self.generation < other.generation;
        }
        self.database == other.database && (self.seq, self.revision) < (other.seq, other.revision)
    }
}

/// The answers for the newest head seen, keyed by the request's bytes.
pub struct QueryCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    head: Version,
    bytes: usize,
    answers: HashMap<Vec<u8>, Bytes>,
    /// Executions in progress, by request, with the head each started from.
    flights: HashMap<Vec<u8>, (Version, watch::Receiver<Option<Bytes>>)>,
}

impl Entries {
    /// The answer stored for `key`, if it was computed at `head`.
    fn answer(&self, head: &Version, key: &[u8]) -> Option<Bytes> {
        (self.head == *head)
            .then(|| self.answers.get(key).cloned())
            .flatten()
    }
}

/// What a request that read head `h` should do.
pub enum Decision {
    /// The answer, computed at `h`.
    Hit(Bytes),
    /// Execute, then hand the answer to [`Flight::land`] or [`Flight::share`] (dropping the
    /// flight without either sends the waiting requests to look again: one of them leads).
    Lead(Flight),
    /// Wait for the identical request executing from `h`.
    Follow(watch::Receiver<Option<Bytes>>),
    /// Execute without sharing (the cache is off).
    Bypass,
}

/// An execution others may be waiting for.
pub struct Flight {
    cache: Arc<QueryCache>,
    head: Version,
    key: Vec<u8>,
    tx: watch::Sender<Option<Bytes>>,
}

impl Flight {
    /// Stores `answer` (computed from a read that began at the flight's head) and hands it to
    /// the waiting requests.
    pub fn land(self, answer: Bytes) {
        self.cache.put(&self.head, self.key.clone(), answer.clone());
        self.tx.send_replace(Some(answer));
    }

    /// Hands `answer` to the requests waiting now without keeping it (an answer with errors).
    pub fn share(self, answer: Bytes) {
        self.tx.send_replace(Some(answer));
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut entries = self.cache.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries
            .flights
            .get(&self.key)
            .is_some_and(|(head, rx)| *head == self.head && rx.same_channel(&self.tx.subscribe()))
        {
            entries.flights.remove(&self.key);
        }
    }
}

/// Waits for the leading request's answer: `None` when it ended without one (it was cancelled
/// or failed); the caller then looks again, and the first to do so leads.
pub async fn follow(mut rx: watch::Receiver<Option<Bytes>>) -> Option<Bytes> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|v| v.clone())
}

impl QueryCache {
    /// A cache holding at most `capacity` bytes of keys and answers (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        QueryCache {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    /// False when the cache is turned off.
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// What a request for `key` that read `head` should do: take the stored answer, wait for an
    /// identical request executing from the same head, or execute and share its answer.
    pub fn lookup(self: &Arc<Self>, head: &Version, key: &[u8]) -> Decision {
        if !self.enabled() {
            return Decision::Bypass;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = entries.answer(head, key) {
            return Decision::Hit(answer);
        }
        if let Some((flying, rx)) = entries.flights.get(key)
            && flying == head
        {
            return Decision::Follow(rx.clone());
        }
        if head.before(&entries.head) {
            return Decision::Bypass;
        }
        let (tx, rx) = watch::channel(None);
        entries.flights.insert(key.to_vec(), (head.clone(), rx));
        Decision::Lead(Flight {
            cache: self.clone(),
            head: head.clone(),
            key: key.to_vec(),
            tx,
        })
    }

    /// The answer stored for `key` at `head`, if the head has not moved since.
    #[cfg(test)]
    fn get(&self, head: &Version, key: &[u8]) -> Option<Bytes> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entries.answer(head, key)
    }

    /// Keeps `answer`, computed from a read that began at `head`. Answers for an older head
    /// are dropped; an answer for a head older than the newest seen is not kept.
    pub fn put(&self, head: &Version, key: Vec<u8>, answer: Bytes) {
        let size = key.len() + answer.len();
        // One answer may take at most an eighth, so a few large ones cannot starve the rest.
        if size > self.capacity / 8 {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if *head != entries.head && !head.before(&entries.head) {
            entries.head = head.clone();
            entries.bytes = 0;
            entries.answers.clear();
        }
        if *head != entries.head
            || entries.bytes + size > self.capacity
            || entries.answers.contains_key(&key)
        {
            return;
        }
        entries.bytes += size;
        entries.answers.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(seq: i64) -> Version {
        Version {
            database: "db".into(),
            generation: 0,
            seq,
            revision: 0,
        }
    }

    #[test]
    fn a_new_revision_at_the_same_head_meets_no_older_answer() {
        let cache = QueryCache::new(1024);
        cache.put(&v(5), b"q".to_vec(), Bytes::from_static(b"with bodies"));
        let revised = Version {
            revision: 1,
            ..v(5)
        };
        assert_eq!(cache.get(&revised, b"q"), None, "bodies were removed since");
        cache.put(&revised, b"q".to_vec(), Bytes::from_static(b"without"));
        cache.put(&v(5), b"r".to_vec(), Bytes::from_static(b"late"));
        assert_eq!(
            cache.get(&v(5), b"r"),
            None,
            "an older revision is not kept"
        );
        assert_eq!(cache.get(&revised, b"q").as_deref(), Some(&b"without"[..]));
    }

    #[test]
    fn another_database_or_a_reset_feed_never_meets_older_answers() {
        let cache = QueryCache::new(1024);
        cache.put(&v(5), b"q".to_vec(), Bytes::from_static(b"old"));
        let replaced = Version {
            database: "other".into(),
            ..v(5)
        };
        assert_eq!(
            cache.get(&replaced, b"q"),
            None,
            "same head, another database"
        );
        let restored = Version {
            generation: 1,
            ..v(5)
        };
        assert_eq!(cache.get(&restored, b"q"), None, "same head after a reset");
        cache.put(&restored, b"q".to_vec(), Bytes::from_static(b"new"));
        assert_eq!(cache.get(&restored, b"q").as_deref(), Some(&b"new"[..]));
        cache.put(&v(9), b"q".to_vec(), Bytes::from_static(b"stale"));
        assert_eq!(
            cache.get(&v(9), b"q"),
            None,
            "an older generation is not kept"
        );
    }

    #[test]
    fn an_answer_lives_until_the_head_moves() {
        let cache = QueryCache::new(1024);
        cache.put(&v(5), b"q".to_vec(), Bytes::from_static(b"a5"));
        assert_eq!(cache.get(&v(5), b"q").as_deref(), Some(&b"a5"[..]));
        assert_eq!(cache.get(&v(6), b"q"), None, "a newer head misses");
        assert_eq!(cache.get(&v(5), b"other"), None);
        cache.put(&v(6), b"q".to_vec(), Bytes::from_static(b"a6"));
        assert_eq!(cache.get(&v(5), b"q"), None, "older answers are gone");
        cache.put(&v(5), b"r".to_vec(), Bytes::from_static(b"late"));
        assert_eq!(
            cache.get(&v(5), b"r"),
            None,
            "an answer for an older head is not kept"
        );
        assert_eq!(cache.get(&v(6), b"q").as_deref(), Some(&b"a6"[..]));
    }

    #[tokio::test]
    async fn one_request_executes_and_the_identical_ones_wait_for_it() {
        let cache = Arc::new(QueryCache::new(1024));
        let Decision::Lead(flight) = cache.lookup(&v(1), b"q") else {
            panic!("the first leads")
        };
        let Decision::Follow(waiting) = cache.lookup(&v(1), b"q") else {
            panic!("the second waits")
        };
        assert!(
            matches!(cache.lookup(&v(2), b"q"), Decision::Lead(_)),
            "a request that read a newer head does not wait for an older execution"
        );
        drop(flight);
        assert_eq!(follow(waiting).await, None, "no answer: execute yourself");

        let Decision::Lead(flight) = cache.lookup(&v(2), b"q") else {
            panic!("leads again")
        };
        let Decision::Follow(waiting) = cache.lookup(&v(2), b"q") else {
            panic!("waits")
        };
        flight.land(Bytes::from_static(b"a2"));
        assert_eq!(follow(waiting).await.as_deref(), Some(&b"a2"[..]));
        assert!(matches!(cache.lookup(&v(2), b"q"), Decision::Hit(_)));
        assert!(matches!(
            Arc::new(QueryCache::new(0)).lookup(&v(2), b"q"),
            Decision::Bypass
        ));
    }

    #[test]
    fn capacity_is_respected() {
        let cache = QueryCache::new(80);
        cache.put(&v(1), b"big".to_vec(), Bytes::from(vec![0u8; 20]));
        assert_eq!(
            cache.get(&v(1), b"big"),
            None,
            "over an eighth of the capacity"
        );
        for n in 0..20u8 {
            cache.put(&v(1), vec![n], Bytes::from(vec![n; 7]));
        }
        let kept = (0..20u8)
            .filter(|n| cache.get(&v(1), &[*n]).is_some())
            .count();
        assert_eq!(kept, 10, "80 bytes hold ten 8-byte entries");
        assert!(!QueryCache::new(0).enabled());
    }
}

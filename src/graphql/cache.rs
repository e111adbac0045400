//! Answers to repeated read-only requests, kept only while nothing new is committed.
//!
//! Dashboards ask the same few questions over and over. Every committed delivery moves the
//! sequence head (one row, moved inside the delivery's own transaction, on every instance), and
//! nothing else changes what a query can see. So an answer computed after reading head `h` is
//! still exact for any later request that reads head `h` again: each request reads the head
//! first (one primary-key lookup) and is served from here only when it has not moved. A new
//! commit on any instance is therefore visible to the very next request, as without the cache.
//!
//! All entries belong to one head: the first answer stored for a newer head drops the rest.
//! Hand-written rather than an LRU crate because that one rule is the whole eviction policy.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// The answers for the newest head seen, keyed by the request's bytes.
pub struct QueryCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    head: i64,
    bytes: usize,
    answers: HashMap<Vec<u8>, Bytes>,
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

    /// The answer stored for `key` at `head`, if the head has not moved since.
    pub fn get(&self, head: i64, key: &[u8]) -> Option<Bytes> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (entries.head == head)
            .then(|| entries.answers.get(key).cloned())
            .flatten()
    }

    /// Keeps `answer`, computed from a read that began at `head`. Answers for an older head
    /// are dropped; an answer for a head older than the newest seen is not kept.
    pub fn put(&self, head: i64, key: Vec<u8>, answer: Bytes) {
        let size = key.len() + answer.len();
        // One answer may take at most an eighth, so a few large ones cannot starve the rest.
        if size > self.capacity / 8 {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if head > entries.head {
            *entries = Entries {
                head,
                ..Entries::default()
            };
        }
        if head < entries.head
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

    #[test]
    fn an_answer_lives_until_the_head_moves() {
        let cache = QueryCache::new(1024);
        cache.put(5, b"q".to_vec(), Bytes::from_static(b"a5"));
        assert_eq!(cache.get(5, b"q").as_deref(), Some(&b"a5"[..]));
        assert_eq!(cache.get(6, b"q"), None, "a newer head misses");
        assert_eq!(cache.get(5, b"other"), None);
        cache.put(6, b"q".to_vec(), Bytes::from_static(b"a6"));
        assert_eq!(cache.get(5, b"q"), None, "older answers are gone");
        cache.put(5, b"r".to_vec(), Bytes::from_static(b"late"));
        assert_eq!(
            cache.get(5, b"r"),
            None,
            "an answer for an older head is not kept"
        );
        assert_eq!(cache.get(6, b"q").as_deref(), Some(&b"a6"[..]));
    }

    #[test]
    fn capacity_is_respected() {
        let cache = QueryCache::new(80);
        cache.put(1, b"big".to_vec(), Bytes::from(vec![0u8; 20]));
        assert_eq!(cache.get(1, b"big"), None, "over an eighth of the capacity");
        for n in 0..20u8 {
            cache.put(1, vec![n], Bytes::from(vec![n; 7]));
        }
        let kept = (0..20u8).filter(|n| cache.get(1, &[*n]).is_some()).count();
        assert_eq!(kept, 10, "80 bytes hold ten 8-byte entries");
        assert!(!QueryCache::new(0).enabled());
    }
}

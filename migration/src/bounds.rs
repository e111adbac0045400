//! How long indexed text may be. PostgreSQL refuses a btree entry over about 2.7 KB, so a
//! delivery whose idempotency key or type were longer could never be stored. These bounds are
//! applied by ingest to every delivery and by the migration that introduced them to what was
//! stored before, so both give the same value for the same delivery.

use sha2::{Digest, Sha256};

/// Longest idempotency key kept as it is, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest event type kept, in characters (at most 1 KB of UTF-8).
pub const MAX_TYPE_CHARS: usize = 256;

/// `key`, or when it is longer than `MAX_KEY_BYTES`, its kind (the text before the first `:`)
/// and the SHA-256 of the whole key: `event-sha256:…`.
pub fn idempotency_key(key: String) -> String {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let kind: String = key
        .split(':')
        .next()
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    let digest: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{kind}-sha256:{digest}")
}

/// `event_type` cut to `MAX_TYPE_CHARS` characters (the stored body keeps the whole text).
pub fn event_type(event_type: String) -> String {
    match event_type.char_indices().nth(MAX_TYPE_CHARS) {
        Some((end, _)) => event_type[..end].to_owned(),
        None => event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_become_hashes_and_short_ones_stay() {
        assert_eq!(idempotency_key("event:src:ev_1".into()), "event:src:ev_1");
        let long = format!("event:src:{}", "x".repeat(100_000));
        let bounded = idempotency_key(long.clone());
        assert!(bounded.starts_with("event-sha256:") && bounded.len() <= MAX_KEY_BYTES);
        assert_eq!(bounded, idempotency_key(long), "the same key every time");
        assert_ne!(
            bounded,
            idempotency_key(format!("event:src:{}", "y".repeat(100_000)))
        );
        assert_eq!(event_type("a.b".into()), "a.b");
        assert_eq!(event_type("é".repeat(1000)).chars().count(), MAX_TYPE_CHARS);
    }
}

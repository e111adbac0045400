//! Opaque cursors: base64url of a short tagged text, so clients cannot depend on their shape.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

/// A cursor that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid cursor for this list")]
pub struct BadCursor(pub String);

/// Everything a publication cursor carries: its place under either ordering, and `seq`, the
/// commit position `voucherAssigned(after:)` resumes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationKey {
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub id: String,
}

/// The cursor of a publication.
pub fn publication(key: &PublicationKey) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "p:{}:{}:{}:{}",
        key.seq,
        key.created_at.timestamp_micros(),
        key.received_at.timestamp_micros(),
        key.id
    ))
}

/// The key inside a publication cursor.
pub fn decode_publication(cursor: &str) -> Result<PublicationKey, BadCursor> {
    let text = decode(cursor)?;
    let bad = || BadCursor(cursor.chars().take(64).collect());
    let mut parts = text.strip_prefix("p:").ok_or_else(bad)?.splitn(4, ':');
    let mut number = || {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (seq, created, received) = (number()?, number()?, number()?);
    let id = parts.next().filter(|id| !id.is_empty()).ok_or_else(bad)?;
    let time = |micros| DateTime::from_timestamp_micros(micros).ok_or_else(bad);
    Ok(PublicationKey {
        seq,
        created_at: time(created)?,
        received_at: time(received)?,
        id: id.to_owned(),
    })
}

/// A cursor for a position in the assignment feed alone (given when a subscription ends before
/// delivering anything); only `voucherAssigned(after:)` accepts it.
pub fn position(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("s:{seq}"))
}

/// The feed position (sequence number) in a publication or position cursor.
pub fn decode_resume(cursor: &str) -> Result<i64, BadCursor> {
    if let Ok(key) = decode_publication(cursor) {
        return Ok(key.seq);
    }
    decode(cursor)?
        .strip_prefix("s:")
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| BadCursor(cursor.chars().take(64).collect()))
}

/// The cursor of a customer, voucher or campaign (`kind` tells which list it belongs to).
pub fn entity(kind: char, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// The id inside an entity cursor of `kind`.
pub fn decode_entity(kind: char, cursor: &str) -> Result<String, BadCursor> {
    let text = decode(cursor)?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| BadCursor(cursor.chars().take(64).collect()))
}

fn decode(cursor: &str) -> Result<String, BadCursor> {
    let bad = || BadCursor(cursor.chars().take(64).collect());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// The cursor of the webhook event `id`.
pub fn event(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("e:{id}"))
}

/// The webhook event id inside an event cursor.
pub fn decode_event(cursor: &str) -> Result<i64, BadCursor> {
    let bad = || BadCursor(cursor.chars().take(64).collect());
    let text = decode(cursor)?;
    text.strip_prefix("e:")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_cursor_round_trips() {
        assert_eq!(decode_event(&event(42)), Ok(42));
    }

    #[test]
    fn publication_cursor_round_trips_with_colons_in_ids() {
        let key = PublicationKey {
            seq: 7,
            created_at: DateTime::from_timestamp_micros(1_710_337_559_492_123).expect("time"),
            received_at: DateTime::from_timestamp_micros(1_800_000_000_000_001).expect("time"),
            id: "pub_a:b".into(),
        };
        assert_eq!(decode_publication(&publication(&key)), Ok(key));
        assert_eq!(
            decode_entity('c', &entity('c', "cust_1")),
            Ok("cust_1".into())
        );
        assert!(decode_entity('v', &entity('c', "cust_1")).is_err());
        assert!(decode_publication(&event(1)).is_err());
        assert!(decode_publication(&URL_SAFE_NO_PAD.encode("p:1:x:2:id")).is_err());
        assert!(decode_publication(&URL_SAFE_NO_PAD.encode("p:1:2:3:")).is_err());
        assert!(
            decode_publication(&URL_SAFE_NO_PAD.encode(format!("p:1:{}:3:id", i64::MAX))).is_err()
        );
    }

    #[test]
    fn tampered_cursors_are_refused() {
        for bad in [
            "",
            "e:1",
            "!!!",
            &URL_SAFE_NO_PAD.encode("e:-1"),
            &URL_SAFE_NO_PAD.encode("p:1"),
        ] {
            assert!(decode_event(bad).is_err(), "{bad}");
        }
    }
}

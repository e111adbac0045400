//! Opaque cursors: base64url of a short tagged text, so clients cannot depend on their shape.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

/// The short tag of a database identity that resume cursors carry: a cursor handed out by one
/// database is told apart from another's.
pub fn tag(database: &str) -> String {
    database.chars().take(8).collect()
}

/// Where a resume cursor points: a sequence number, and the tag of the database that gave it
/// out (`None` for cursors made before cursors carried one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub seq: i64,
    pub database: Option<String>,
}

/// `text` with the database tag in front (`@tag|text`).
fn tagged(database: &str, text: String) -> String {
    URL_SAFE_NO_PAD.encode(format!("@{}|{text}", tag(database)))
}

/// The database tag and the text of a decoded cursor.
fn untag(text: &str) -> (Option<String>, &str) {
    match text.strip_prefix('@').and_then(|t| t.split_once('|')) {
        Some((tag, rest)) => (Some(tag.to_owned()), rest),
        None => (None, text),
    }
}

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

/// The cursor of a publication, given out by `database`.
pub fn publication(key: &PublicationKey, database: &str) -> String {
    tagged(
        database,
        format!(
            "p:{}:{}:{}:{}",
            key.seq,
            key.created_at.timestamp_micros(),
            key.received_at.timestamp_micros(),
            key.id
        ),
    )
}

/// The key inside a publication cursor.
pub fn decode_publication(cursor: &str) -> Result<PublicationKey, BadCursor> {
    decode_publication_tagged(cursor).map(|(key, _)| key)
}

fn decode_publication_tagged(cursor: &str) -> Result<(PublicationKey, Option<String>), BadCursor> {
    let decoded = decode(cursor)?;
    let (database, text) = untag(&decoded);
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
    let key = PublicationKey {
        seq,
        created_at: time(created)?,
        received_at: time(received)?,
        id: id.to_owned(),
    };
    Ok((key, database))
}

/// A cursor for a position in the assignment feed alone (given when a subscription ends before
/// delivering anything); only `voucherAssigned(after:)` accepts it.
pub fn position(seq: i64, database: &str) -> String {
    tagged(database, format!("s:{seq}"))
}

/// The feed position (sequence number) in a publication or position cursor.
pub fn decode_resume(cursor: &str) -> Result<Resume, BadCursor> {
    if let Ok((key, database)) = decode_publication_tagged(cursor) {
        return Ok(Resume {
            seq: key.seq,
            database,
        });
    }
    let decoded = decode(cursor)?;
    let (database, text) = untag(&decoded);
    text.strip_prefix("s:")
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .map(|seq| Resume { seq, database })
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

/// The cursor of the webhook event `id`, given out by `database`.
pub fn event(id: i64, database: &str) -> String {
    tagged(database, format!("e:{id}"))
}

/// The webhook event id inside an event cursor.
pub fn decode_event(cursor: &str) -> Result<i64, BadCursor> {
    decode_event_resume(cursor).map(|resume| resume.seq)
}

/// The webhook event id inside an event cursor, and the database tag it carries.
pub fn decode_event_resume(cursor: &str) -> Result<Resume, BadCursor> {
    let bad = || BadCursor(cursor.chars().take(64).collect());
    let decoded = decode(cursor)?;
    let (database, text) = untag(&decoded);
    text.strip_prefix("e:")
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .map(|seq| Resume { seq, database })
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_cursor_round_trips() {
        assert_eq!(decode_event(&event(42, "db")), Ok(42));
    }

    #[test]
    fn resume_cursors_carry_their_database_and_old_ones_still_read() {
        let resume = decode_resume(&position(9, "0123456789abcdef")).expect("reads");
        assert_eq!(
            resume,
            Resume {
                seq: 9,
                database: Some("01234567".into())
            }
        );
        let old = URL_SAFE_NO_PAD.encode("s:9");
        assert_eq!(
            decode_resume(&old),
            Ok(Resume {
                seq: 9,
                database: None
            })
        );
        let old_event = URL_SAFE_NO_PAD.encode("e:3");
        assert_eq!(decode_event(&old_event), Ok(3));
        assert_eq!(
            decode_event_resume(&event(3, "cafe")).map(|r| r.database),
            Ok(Some("cafe".into()))
        );
    }

    #[test]
    fn publication_cursor_round_trips_with_colons_in_ids() {
        let key = PublicationKey {
            seq: 7,
            created_at: DateTime::from_timestamp_micros(1_710_337_559_492_123).expect("time"),
            received_at: DateTime::from_timestamp_micros(1_800_000_000_000_001).expect("time"),
            id: "pub_a:b".into(),
        };
        assert_eq!(
            decode_publication(&publication(&key, "db")),
            Ok(key.clone())
        );
        let old = format!(
            "p:7:{}:{}:pub_a:b",
            1_710_337_559_492_123i64, 1_800_000_000_000_001i64
        );
        assert_eq!(decode_publication(&URL_SAFE_NO_PAD.encode(old)), Ok(key));
        assert_eq!(
            decode_entity('c', &entity('c', "cust_1")),
            Ok("cust_1".into())
        );
        assert!(decode_entity('v', &entity('c', "cust_1")).is_err());
        assert!(decode_publication(&event(1, "db")).is_err());
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

//! Opaque cursors: every decoder on arbitrary text never panics; whatever decodes re-encodes to a
//! cursor that decodes to the same value; the kinds never mix; encoders round-trip arbitrary
//! values.
//!
//! Byte 0 picks how the rest is used: as the cursor text itself, or (so that the fuzzer can
//! reach the inner `p:…`, `e:…` forms directly) as the plain text that is base64url-encoded
//! into the cursor, or as raw values for the encoders.
#![no_main]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use pubgate::domain::cursor::{self, BadCursor, PublicationKey};

/// The entity cursor kinds the API uses (customers, vouchers, campaigns).
const KINDS: [char; 3] = ['c', 'v', 'k'];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                decoders(text);
            }
        }
        1 => decoders(&URL_SAFE_NO_PAD.encode(rest)),
        _ => encoders(rest),
    }
});

fn short(error: &BadCursor) {
    assert!(
        error.0.chars().count() <= 64,
        "error echoes too much of the cursor"
    );
}

fn decoders(text: &str) {
    let mut kinds_matched = 0;

    match cursor::decode_publication(text) {
        Ok(key) => {
            kinds_matched += 1;
            assert!(!key.id.is_empty());
            let again = cursor::publication(&key, "db");
            assert_eq!(
                cursor::decode_publication(&again),
                Ok(key.clone()),
                "{text}"
            );
            // A publication cursor is also a resume position, at its `seq`.
            assert_eq!(cursor::decode_resume(text).map(|r| r.seq), Ok(key.seq));
            assert_eq!(cursor::decode_resume(&again).map(|r| r.seq), Ok(key.seq));
        }
        Err(e) => short(&e),
    }

    match cursor::decode_resume(text).map(|r| r.seq) {
        Ok(seq) => {
            if cursor::decode_publication(text).is_err() {
                // A bare position cursor: never negative, and `position` round-trips it.
                assert!(seq >= 0);
                assert_eq!(
                    cursor::decode_resume(&cursor::position(seq, "db")).map(|r| r.seq),
                    Ok(seq),
                    "{text}"
                );
            }
        }
        Err(e) => short(&e),
    }

    for kind in KINDS {
        match cursor::decode_entity(kind, text) {
            Ok(id) => {
                kinds_matched += 1;
                assert!(!id.is_empty());
                let again = cursor::entity(kind, &id);
                assert_eq!(cursor::decode_entity(kind, &again), Ok(id), "{text}");
                for other in KINDS.into_iter().filter(|k| *k != kind) {
                    assert!(cursor::decode_entity(other, &again).is_err());
                }
            }
            Err(e) => short(&e),
        }
    }

    match cursor::decode_event(text) {
        Ok(id) => {
            kinds_matched += 1;
            assert!(id >= 0);
            assert_eq!(cursor::decode_event(&cursor::event(id, "db")), Ok(id), "{text}");
        }
        Err(e) => short(&e),
    }

    assert!(
        kinds_matched <= 1,
        "{text:?} decodes as {kinds_matched} kinds of cursor"
    );

    // An arbitrary kind letter: no panic, and a match round-trips.
    if let Some(kind) = text.chars().next()
        && let Ok(id) = cursor::decode_entity(kind, text)
    {
        assert_eq!(
            cursor::decode_entity(kind, &cursor::entity(kind, &id)),
            Ok(id)
        );
    }
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    let mut buf = [0u8; 8];
    for (i, b) in bytes.iter().skip(at).take(8).enumerate() {
        buf[i] = *b;
    }
    i64::from_le_bytes(buf)
}

fn encoders(bytes: &[u8]) {
    let (seq, created, received) = (i64_at(bytes, 0), i64_at(bytes, 8), i64_at(bytes, 16));
    let id = String::from_utf8_lossy(bytes.get(24..).unwrap_or_default()).into_owned();

    if let (Some(created_at), Some(received_at)) = (
        DateTime::from_timestamp_micros(created),
        DateTime::from_timestamp_micros(received),
    ) && !id.is_empty()
    {
        let key = PublicationKey {
            seq,
            created_at,
            received_at,
            id: id.clone(),
        };
        let text = cursor::publication(&key, "db");
        assert_eq!(
            cursor::decode_publication(&text),
            Ok(key),
            "publication round trip"
        );
        assert_eq!(cursor::decode_resume(&text).map(|r| r.seq), Ok(seq));
        assert!(cursor::decode_event(&text).is_err());
    }

    if seq >= 0 {
        assert_eq!(cursor::decode_resume(&cursor::position(seq, "db")).map(|r| r.seq), Ok(seq));
        assert_eq!(cursor::decode_event(&cursor::event(seq, "db")), Ok(seq));
        assert!(cursor::decode_publication(&cursor::position(seq, "db")).is_err());
    } else {
        assert!(cursor::decode_event(&cursor::event(seq, "db")).is_err());
        assert!(cursor::decode_resume(&cursor::position(seq, "db")).is_err());
    }

    if !id.is_empty() {
        for kind in KINDS {
            let text = cursor::entity(kind, &id);
            assert_eq!(cursor::decode_entity(kind, &text), Ok(id.clone()));
            assert!(cursor::decode_publication(&text).is_err());
            assert!(cursor::decode_event(&text).is_err());
        }
    } else {
        assert!(cursor::decode_entity('c', &cursor::entity('c', "")).is_err());
    }
}

//! Opaque cursors: base64url of a short tagged text, so clients cannot depend on their shape.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// A cursor that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid cursor for this list")]
pub struct BadCursor(pub String);

/// The cursor of the webhook event `id`.
pub fn event(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("e:{id}"))
}

/// The webhook event id inside an event cursor.
pub fn decode_event(cursor: &str) -> Result<i64, BadCursor> {
    let bad = || BadCursor(cursor.chars().take(64).collect());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
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

//! `DateTime`: RFC 3339 in UTC with milliseconds, or microseconds when the instant has them.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// An instant, RFC 3339 in UTC (`2024-03-13T13:45:59.492Z`); sub-millisecond digits are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant as RFC 3339 in UTC; sub-millisecond digits are kept when the instant has them.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not an RFC 3339 date-time"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.text())
    }
}

impl DateTime {
    /// RFC 3339 in UTC, to the millisecond (to the microsecond when it has them).
    pub fn text(&self) -> String {
        let precision = if self.0.timestamp_subsec_micros().is_multiple_of(1000) {
            SecondsFormat::Millis
        } else {
            SecondsFormat::Micros
        };
        self.0.to_rfc3339_opts(precision, true)
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}

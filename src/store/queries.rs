//! The read side: filtered keyset pages, one SQL statement per page, counts only on demand.

use super::filter::{self, Test};
use chrono::{DateTime, Utc};
use entity::webhook_event;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

/// Which way a page is read, with its size and the exclusive bound it starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<K> {
    /// Items wanted (the query asks for one more to learn whether there are more).
    pub size: u64,
    /// `true` for `last`/`before`: read backwards, then restore the requested order.
    pub backward: bool,
    pub after: Option<K>,
    pub before: Option<K>,
}

/// One page of rows in the requested order, and whether more exist beyond each end.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
    /// The page holds the whole list (no cursor bounded it and nothing was left over), so its
    /// length is the list's count.
    pub whole: bool,
}

impl<T> Page<T> {
    /// The same page with each row changed by `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
            whole: self.whole,
        }
    }

    /// Trims the probe row and works out `pageInfo` for a window.
    pub fn from_probe<K>(mut rows: Vec<T>, window: &Window<K>) -> Self {
        let more = rows.len() as u64 > window.size;
        let whole = !more && window.after.is_none() && window.before.is_none();
        rows.truncate(usize::try_from(window.size).unwrap_or(usize::MAX));
        if window.backward {
            rows.reverse();
            Page {
                rows,
                has_next: window.before.is_some(),
                has_previous: more,
                whole,
            }
        } else {
            Page {
                rows,
                has_next: more,
                has_previous: window.after.is_some(),
                whole,
            }
        }
    }
}

/// Filters on webhook events; every field narrows the set.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub types: Option<Vec<String>>,
    pub normalized: Option<bool>,
    pub received_after: Option<DateTime<Utc>>,
    pub received_before: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// The one description of this filter, as terms on the events' own columns.
    fn terms(&self) -> Vec<(webhook_event::Column, Test)> {
        use webhook_event::Column as C;
        let mut terms = vec![];
        if let Some(types) = &self.types {
            let types = types.iter().map(|t| t.clone().into()).collect();
            terms.push((C::EventType, Test::OneOf(types)));
        }
        if let Some(normalized) = self.normalized {
            terms.push((C::Normalized, Test::Equals(normalized.into())));
        }
        if let Some(after) = self.received_after {
            terms.push((C::ReceivedAt, Test::After(after.into())));
        }
        if let Some(before) = self.received_before {
            terms.push((C::ReceivedAt, Test::Before(before.into())));
        }
        terms
    }

    /// The SQL condition (pages and replay).
    fn condition(&self) -> Condition {
        filter::own_condition::<webhook_event::Entity>(&self.terms())
    }

    /// The same test in memory, for live rows, built once for every row it will test.
    pub fn matcher(&self) -> EventMatcher {
        EventMatcher(self.terms())
    }
}

/// An `EventFilter` as an in-memory test.
pub struct EventMatcher(Vec<(webhook_event::Column, Test)>);

impl EventMatcher {
    pub fn matches(&self, row: &webhook_event::Model) -> bool {
        filter::own_matches(&self.0, row)
    }
}

/// Webhook events matching `filter` with ids in `(after, upto]`, in commit order.
pub async fn events_after(
    db: &DatabaseConnection,
    filter: &EventFilter,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<webhook_event::Model>, DbErr> {
    use webhook_event::Column as C;
    webhook_event::Entity::find()
        .filter(filter.condition())
        .filter(C::Id.gt(after))
        .filter(C::Id.lte(upto))
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Webhook events, newest first, by keyset on their commit-ordered id.
pub async fn webhook_events(
    db: &DatabaseConnection,
    filter: &EventFilter,
    window: &Window<i64>,
) -> Result<Page<webhook_event::Model>, DbErr> {
    use webhook_event::Column as C;
    let mut cond = filter.condition();
    if let Some(after) = window.after {
        cond = cond.add(C::Id.lt(after));
    }
    if let Some(before) = window.before {
        cond = cond.add(C::Id.gt(before));
    }
    let order = if window.backward {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    let rows = webhook_event::Entity::find()
        .filter(cond)
        .order_by(C::Id, order)
        .limit(window.size + 1)
        .all(db)
        .await?;
    Ok(Page::from_probe(rows, window))
}

/// How many webhook events match `filter`.
pub async fn count_webhook_events(
    db: &DatabaseConnection,
    filter: &EventFilter,
) -> Result<u64, DbErr> {
    webhook_event::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await
}

/// One webhook event by id.
pub async fn webhook_event(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<webhook_event::Model>, DbErr> {
    webhook_event::Entity::find_by_id(id).one(db).await
}

/// Where the store is: the newest committed sequence number, the database's identity, and the
/// revision (moved when stored rows change without a new event: raw bodies removed, rows
/// re-derived by `renormalise`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Head {
    pub seq: i64,
    pub database: String,
    pub revision: i64,
}

/// The head of the store (one primary-key lookup).
pub async fn head(db: &DatabaseConnection) -> Result<Head, DbErr> {
    Ok(entity::sequence::Entity::find_by_id(1)
        .one(db)
        .await?
        .map(|row| Head {
            seq: row.value,
            database: row.database_id,
            revision: row.revision,
        })
        .unwrap_or_default())
}

/// The newest committed webhook event id (0 when none).
pub async fn sequence_head(db: &DatabaseConnection) -> Result<i64, DbErr> {
    Ok(entity::sequence::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |row| row.value))
}

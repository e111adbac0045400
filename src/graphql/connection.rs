//! Relay connections: paging arguments, `PageInfo`, and the connection/edge types per node.

use crate::domain::cursor::BadCursor;
use crate::error::{ApiError, ApiResult};
use crate::store::queries::{self, Window};
use crate::store::{directory, publications, stats};
use async_graphql::Context;
use async_graphql::SimpleObject;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;
/// The largest `first`/`last` accepted.
pub const MAX_PAGE: i32 = 500;

/// Where a page sits in the whole list (Relay).
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct PageInfo {
    /// More items follow this page in the requested order.
    pub has_next_page: bool,
    /// Items precede this page in the requested order.
    pub has_previous_page: bool,
    /// The cursor of the first edge, if any.
    pub start_cursor: Option<String>,
    /// The cursor of the last edge, if any.
    pub end_cursor: Option<String>,
}

/// Relay paging arguments as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl Paging {
    /// Reads the arguments into a keyset window; `decode` reads this list's cursors.
    pub fn window<K>(self, decode: impl Fn(&str) -> Result<K, BadCursor>) -> ApiResult<Window<K>> {
        let size = |n: i32, name: &str| {
            if (0..=MAX_PAGE).contains(&n) {
                Ok(n as u64)
            } else {
                Err(ApiError::bad_input(format!(
                    "`{name}` must be between 0 and {MAX_PAGE}, got {n}"
                )))
            }
        };
        let (size, backward) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input("pass `first` or `last`, not both"));
            }
            (Some(n), None) => (size(n, "first")?, false),
            (None, Some(n)) => (size(n, "last")?, true),
            (None, None) => (
                DEFAULT_PAGE as u64,
                self.before.is_some() && self.after.is_none(),
            ),
        };
        let read = |c: Option<String>| {
            c.map(|c| decode(&c).map_err(|e| ApiError::bad_input(e.to_string())))
                .transpose()
        };
        Ok(Window {
            size,
            backward,
            after: read(self.after)?,
            before: read(self.before)?,
        })
    }
}

/// The complexity of a connection field: its page size times what each item asks for.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let size = first.or(last).unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    size.saturating_mul(child.max(1)).saturating_add(1)
}

/// Declares `<Node>Connection` and `<Node>Edge` for a node built from a store row.
/// `totalCount` runs its count query only when a client selects it.
macro_rules! connection {
    ($node:ident, $row:ty, $connection:ident, $edge:ident, $what:literal) => {
        #[doc = concat!("An edge in a list of ", $what, ".")]
        #[derive(async_graphql::SimpleObject, Clone)]
        pub struct $edge {
            /// Opaque position of this item; pass it as `after` or `before`.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        #[doc = concat!("A page of ", $what, " (Relay connection).")]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub page_info: $crate::graphql::connection::PageInfo,
            pub count: $crate::graphql::connection::Count,
        }

        impl $connection {
            /// Builds the connection from a page of rows and the list's cursor function.
            pub fn from_page(
                page: $crate::store::queries::Page<$row>,
                cursor: impl Fn(&$row) -> String,
                node: impl Fn($row) -> $node,
                count: $crate::graphql::connection::Count,
            ) -> Self {
                // A page that holds the whole list is its own count: no statement.
                let count = match page.whole {
                    true => $crate::graphql::connection::Count::Known(page.rows.len()),
                    false => count,
                };
                let edges: Vec<$edge> = page
                    .rows
                    .into_iter()
                    .map(|row| $edge {
                        cursor: cursor(&row),
                        node: node(row),
                    })
                    .collect();
                let page_info = $crate::graphql::connection::PageInfo {
                    has_next_page: page.has_next,
                    has_previous_page: page.has_previous,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                $connection {
                    edges,
                    page_info,
                    count,
                }
            }
        }

        #[doc = concat!("A page of ", $what, " (Relay connection).")]
        #[async_graphql::Object]
        impl $connection {
            /// The items of this page with their cursors.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The items of this page, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page sits in the whole list.
            async fn page_info(&self) -> &$crate::graphql::connection::PageInfo {
                &self.page_info
            }

            /// How many items the whole list holds under the same filter (counted on request).
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> $crate::error::ApiResult<i64> {
                self.count.count(ctx).await
            }
        }
    };
}

pub(crate) use connection;

/// The deferred count behind a connection's `totalCount`.
pub enum Count {
    Events(queries::EventFilter),
    Publications(publications::PublicationFilter),
    Customers(directory::CustomerFilter),
    Vouchers(directory::VoucherFilter),
    Campaigns(directory::CampaignFilter),
    /// Already known: the page held the whole list.
    Known(usize),
}

impl Count {
    /// Runs the count (only when `totalCount` is selected).
    pub async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        self.count_in(super::db(ctx)).await
    }

    /// Runs the count on `db`.
    pub async fn count_in(&self, db: &sea_orm::DatabaseConnection) -> ApiResult<i64> {
        let n = match self {
            Count::Events(f) => queries::count_webhook_events(db, f).await?,
            // Filters made only of what assignment counts are kept by read them: constant time.
            Count::Publications(f) => match stats::countable(f) {
                Some(dims) => stats::count(db, f, &dims).await?,
                None => publications::count(db, f).await?,
            },
            Count::Customers(f) => directory::count_customers(db, f).await?,
            Count::Vouchers(f) => directory::count_vouchers(db, f).await?,
            Count::Campaigns(f) => directory::count_campaigns(db, f).await?,
            Count::Known(n) => *n as u64,
        };
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

//! The Query root.

use super::connection::window;
use super::types::{EventCount, WebhookEvent, WebhookEventConnection, WebhookEventFilter};
use crate::error::ApiResult;
use crate::store::{cursor, queries};
use async_graphql::{Context, ID, Object};
use sea_orm::DatabaseConnection;

/// What dashboards can read.
pub struct Query;

#[Object]
impl Query {
    /// Every stored webhook delivery, newest first, including the ones that were not normalised.
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every field given must match.")] filter: Option<
            WebhookEventFilter,
        >,
        #[graphql(desc = "Page size, reading forwards (default 20, at most 500).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Page size, reading backwards from the end or from `before` (at most 500)."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
    ) -> ApiResult<WebhookEventConnection> {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let window = window(first, after, last, before, cursor::decode_event)?;
        let filter: queries::EventFilter = filter.unwrap_or_default().into();
        let page = queries::webhook_events(db, &filter, &window).await?;
        Ok(WebhookEventConnection::from_page(page, EventCount(filter)))
    }

    /// One webhook delivery by pubgate's id; null when there is none.
    async fn webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "pubgate's id of the delivery.")] id: ID,
    ) -> ApiResult<Option<WebhookEvent>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let db = ctx.data_unchecked::<DatabaseConnection>();
        Ok(queries::webhook_event(db, id).await?.map(Into::into))
    }
}

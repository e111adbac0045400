//! The Subscription root: live voucher assignments and deliveries, resumable from any cursor.

use super::types::{
    Publication, PublicationEdge, PublicationFilter, WebhookEvent, WebhookEventEdge,
};
use crate::domain::cursor;
use crate::error::{ApiError, ApiResult};
use crate::feed::{Feed, stream::FeedError};
use crate::store::{publications, queries};
use async_graphql::{Context, Subscription};
use futures::{Stream, StreamExt};

/// A resume position given out of band (SSE's `Last-Event-ID`); it wins over `after`.
#[derive(Clone)]
pub struct ResumeFrom(pub String);

/// Where a transport learns the cursor of the edge it is about to send (SSE's `id:`).
#[derive(Clone, Default)]
pub struct CursorSlot(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl CursorSlot {
    fn set(&self, cursor: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(cursor.to_owned());
    }

    /// The cursor of the edge just yielded, once.
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Live data, in commit order.
pub struct Subscription;

fn resume_cursor(ctx: &Context<'_>, after: Option<String>) -> Option<String> {
    ctx.data_opt::<ResumeFrom>().map(|r| r.0.clone()).or(after)
}

/// Ends the stream after its first error; a lag becomes a resumable error whose cursor
/// (`resume_at`, given out by `database`) marks everything delivered so far.
fn ending<T, S>(
    stream: S,
    resume_at: fn(i64, &str) -> String,
    database: String,
) -> impl Stream<Item = ApiResult<T>>
where
    S: Stream<Item = Result<T, FeedError>> + Send,
    T: Send,
{
    let mut ended = false;
    stream
        .map(move |item| match item {
            Ok(value) => Ok(value),
            Err(FeedError::Lagged(position)) => {
                Err(ApiError::SlowConsumer(resume_at(position, &database)))
            }
            Err(FeedError::Reset) => Err(ApiError::DatabaseChanged),
            Err(FeedError::Db(e)) => Err(ApiError::from(e)),
        })
        .take_while(move |item| {
            let go = !ended;
            ended = ended || item.is_err();
            futures::future::ready(go)
        })
}

/// The sequence number to resume after, once the cursor is known to belong to this database
/// and to point at something it committed (a cursor from a replaced database, or one ahead of
/// a database restored to an earlier point, would otherwise wait or skip in silence).
async fn resumable(feed: &Feed, resume: Option<cursor::Resume>) -> ApiResult<Option<i64>> {
    let Some(resume) = resume else {
        return Ok(None);
    };
    // While the database cannot be reached, the cursor is checked against what the feed
    // knows, and the stream waits for the database like any other.
    let stored = match queries::head(feed.db()).await {
        Ok(stored) => Some(stored),
        Err(e) if crate::store::is_unavailable(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let database = stored
        .as_ref()
        .map_or_else(|| feed.version().0, |s| s.database.clone());
    if resume
        .database
        .as_ref()
        .is_some_and(|tag| *tag != cursor::tag(&database))
    {
        return Err(ApiError::bad_input(
            "this cursor was given out by another database than the one this gateway now \
             serves (it was replaced); start again from a fresh page, without `after`",
        ));
    }
    if let Some(stored) = stored
        && resume.seq > stored.seq
    {
        return Err(ApiError::bad_input(format!(
            "this cursor is ahead of everything this database has committed (its newest event \
             is {}): the database was restored to an earlier point; start again from a fresh \
             page, without `after`",
            stored.seq
        )));
    }
    Ok(Some(resume.seq))
}

#[Subscription]
impl Subscription {
    /// Each voucher assignment as it is stored. With `after` (any publication cursor), first
    /// replays every stored assignment after it, then continues live: no gap, no duplicate, in
    /// commit order. Without `after`, live from now.
    async fn voucher_assigned(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only assignments matching this filter.")] filter: Option<
            PublicationFilter,
        >,
        #[graphql(
            desc = "Resume after this publication cursor (from a query page or an earlier edge)."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = ApiResult<PublicationEdge>>, ApiError> {
        let feed = ctx.data_unchecked::<Feed>().clone();
        let after = resume_cursor(ctx, after)
            .map(|c| cursor::decode_resume(&c).map_err(|e| ApiError::bad_input(e.to_string())))
            .transpose()?;
        let after = resumable(&feed, after).await?;
        let filter: publications::PublicationFilter = filter.unwrap_or_default().into();
        let slot = ctx.data_opt::<CursorSlot>().cloned();
        let (database, _) = feed.version();
        let tag = database.clone();
        let edges = crate::feed::stream::assignments(feed, filter, after).map(move |item| {
            item.map(|(_, (row, related))| {
                let cursor = cursor::publication(&publications::key_of(&row), &tag);
                if let Some(slot) = &slot {
                    slot.set(&cursor);
                }
                PublicationEdge {
                    cursor,
                    node: Publication::new(row, Some(related)),
                }
            })
        });
        Ok(ending(edges, cursor::position, database))
    }

    /// Each stored webhook delivery, same resume rule (`after` is a webhook event cursor).
    async fn webhook_event_received(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries of these routing types.")] types: Option<Vec<String>>,
        #[graphql(desc = "Resume after this webhook event cursor.")] after: Option<String>,
    ) -> Result<impl Stream<Item = ApiResult<WebhookEventEdge>>, ApiError> {
        let feed = ctx.data_unchecked::<Feed>().clone();
        let after = resume_cursor(ctx, after)
            .map(|c| {
                cursor::decode_event_resume(&c).map_err(|e| ApiError::bad_input(e.to_string()))
            })
            .transpose()?;
        let after = resumable(&feed, after).await?;
        let (database, _) = feed.version();
        let tag = database.clone();
        let filter = queries::EventFilter {
            types,
            ..Default::default()
        };
        let slot = ctx.data_opt::<CursorSlot>().cloned();
        let edges = crate::feed::stream::deliveries(feed, filter, after).map(move |item| {
            item.map(|(_, row)| {
                let cursor = cursor::event(row.id, &tag);
                if let Some(slot) = &slot {
                    slot.set(&cursor);
                }
                WebhookEventEdge {
                    cursor,
                    node: WebhookEvent::from(row),
                }
            })
        });
        Ok(ending(edges, cursor::event, database))
    }
}

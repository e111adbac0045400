//! A subscriber's stream: replay what is stored after its position, then the live batches,
//! with no gap and no duplicate at the seam, in commit order.

use super::{Batch, Feed};
use crate::store::publications::{self, PublicationFilter, PublicationMatcher};
use crate::store::queries::{self, EventFilter, EventMatcher};
use crate::store::related::{self, Related, Wants};
use entity::{publication, webhook_event};
use futures::Stream;
use sea_orm::DbErr;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// Rows read per replay query.
const REPLAY_PAGE: u64 = 200;

/// Why a subscriber's stream ended early.
#[derive(Debug)]
pub enum FeedError {
    /// The subscriber fell more than the queue's worth of batches behind; everything up to
    /// this sequence number was delivered (or did not match), so it resumes from here.
    Lagged(i64),
    /// The database was replaced or restored: the position means nothing any more.
    Reset,
    Db(DbErr),
}

/// What a subscription follows: its filter, how to replay it and how to pick live rows.
trait Follow: Send + 'static {
    type Item: Send + 'static;
    /// Stored items in `(after, upto]`, in commit order, at most `REPLAY_PAGE`, with their
    /// sequence numbers.
    fn replay(
        &self,
        feed: &Feed,
        after: i64,
        upto: i64,
    ) -> impl Future<Output = Result<Vec<(i64, Self::Item)>, DbErr>> + Send;
    /// The matching items of a live batch, with their sequence numbers.
    fn live(&self, batch: &Batch) -> Vec<(i64, Self::Item)>;
}

struct State<F: Follow> {
    feed: Feed,
    follow: F,
    rx: broadcast::Receiver<Arc<Batch>>,
    /// Everything at or before this sequence number has been handled.
    position: i64,
    /// While replaying: the head published when the subscription started.
    replay_until: Option<i64>,
    pending: VecDeque<(i64, F::Item)>,
    done: bool,
}

/// Follows `follow` from `after` (replaying what is stored after it) or from now.
fn follow<F: Follow>(
    feed: Feed,
    follow: F,
    after: Option<i64>,
) -> impl Stream<Item = Result<(i64, F::Item), FeedError>> {
    let (rx, head) = feed.subscribe();
    let state = State {
        feed,
        follow,
        rx,
        // The feed may not have published everything committed yet, so `after` can be ahead of
        // `head`: live batches up to it are then skipped, never replayed from `head`.
        position: after.unwrap_or(head),
        replay_until: after.filter(|a| *a < head).map(|_| head),
        pending: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = next(&mut state).await?;
        Some((item, state))
    })
}

async fn next<F: Follow>(state: &mut State<F>) -> Option<Result<(i64, F::Item), FeedError>> {
    loop {
        if let Some(item) = state.pending.pop_front() {
            return Some(Ok(item));
        }
        if state.done {
            return None;
        }
        if let Some(until) = state.replay_until {
            if state.position >= until {
                state.replay_until = None;
                continue;
            }
            match state
                .follow
                .replay(&state.feed, state.position, until)
                .await
            {
                Ok(rows) => {
                    state.position = if (rows.len() as u64) < REPLAY_PAGE {
                        until
                    } else {
                        rows.last().map_or(until, |r| r.0)
                    };
                    state.pending.extend(rows);
                }
                Err(e) => {
                    state.done = true;
                    return Some(Err(FeedError::Db(e)));
                }
            }
            continue;
        }
        match state.rx.recv().await {
            Ok(batch) => {
                if batch.reset {
                    state.done = true;
                    return Some(Err(FeedError::Reset));
                }
                if batch.upto <= state.position {
                    continue; // already replayed
                }
                let position = state.position;
                state.pending.extend(
                    state
                        .follow
                        .live(&batch)
                        .into_iter()
                        .filter(|(seq, _)| *seq > position),
                );
                state.position = batch.upto;
            }
            Err(RecvError::Lagged(_)) => {
                state.done = true;
                return Some(Err(FeedError::Lagged(state.position)));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

struct Assignments(PublicationFilter, PublicationMatcher);

impl Follow for Assignments {
    type Item = (publication::Model, Arc<Related>);

    async fn replay(
        &self,
        feed: &Feed,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(i64, Self::Item)>, DbErr> {
        let rows = publications::after_seq(feed.db(), &self.0, after, upto, REPLAY_PAGE).await?;
        let related = Arc::new(related::for_publications(feed.db(), &rows, Wants::all()).await?);
        Ok(rows
            .into_iter()
            .map(|row| (row.seq, (row, related.clone())))
            .collect())
    }

    fn live(&self, batch: &Batch) -> Vec<(i64, Self::Item)> {
        batch
            .publications
            .iter()
            .filter(|row| self.1.matches(row, &batch.related))
            .map(|row| (row.seq, (row.clone(), batch.related.clone())))
            .collect()
    }
}

/// Voucher assignments matching `filter`, from `after` (a sequence number) or from now.
pub fn assignments(
    feed: Feed,
    filter: PublicationFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<(i64, (publication::Model, Arc<Related>)), FeedError>> {
    let matcher = filter.matcher();
    follow(feed, Assignments(filter, matcher), after)
}

struct Deliveries(EventFilter, EventMatcher);

impl Follow for Deliveries {
    type Item = webhook_event::Model;

    async fn replay(
        &self,
        feed: &Feed,
        after: i64,
        upto: i64,
    ) -> Result<Vec<(i64, Self::Item)>, DbErr> {
        let rows = queries::events_after(feed.db(), &self.0, after, upto, REPLAY_PAGE).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }

    fn live(&self, batch: &Batch) -> Vec<(i64, Self::Item)> {
        batch
            .events
            .iter()
            .filter(|e| self.1.matches(e))
            .map(|e| (e.id, e.clone()))
            .collect()
    }
}

/// Stored webhook deliveries matching `filter`, from `after` (an event id) or from now.
pub fn deliveries(
    feed: Feed,
    filter: EventFilter,
    after: Option<i64>,
) -> impl Stream<Item = Result<(i64, webhook_event::Model), FeedError>> {
    let matcher = filter.matcher();
    follow(feed, Deliveries(filter, matcher), after)
}

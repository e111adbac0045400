//! The ingest rules, replayed in memory over a batch in commit order, from the stored state:
//! - a customer, campaign or voucher takes the facts of the payload with the newest facts time
//!   (its `updated_at`, else the event's time); on a tie the later event wins, and a stub made
//!   from a mere reference (the lowest facts time) never overwrites anything;
//! - a voucher whose payload leaves out its type takes its campaign's, as known at that event;
//! - a voucher's categories are those of the last applied payload that carried any;
//! - a publication belongs to the first event that carried it (its `seq`), and later copies
//!   change nothing;
//! - a deletion is final: the first deletion time stored for a customer, campaign or voucher
//!   stays, whatever arrives later and in whatever order (its columns still follow the newest
//!   facts, the deleted object's last facts among them). Voucherify never restores a deleted
//!   object nor reuses its id, so no fact can follow a deletion; a "newer" one only means that
//!   the times compared came from different clocks (an object's `updated_at`, an event's time).
//!
//! Pure: no I/O. The result is only the rows that must be written.

use super::stored::Before;
use crate::domain::delivery::Delivery;
use crate::domain::normalise::VoucherFacts;
use chrono::{DateTime, Utc};
use entity::{campaign, category, customer, publication, publication_voucher, voucher};
use std::collections::HashMap;

/// The rows to write, parents before children.
#[derive(Debug, Default)]
pub(super) struct After {
    pub customers: Vec<customer::Model>,
    pub campaigns: Vec<campaign::Model>,
    pub categories: Vec<category::Model>,
    pub vouchers: Vec<voucher::Model>,
    /// Vouchers whose category links are replaced, with their new categories.
    pub voucher_categories: HashMap<String, Vec<String>>,
    pub publications: Vec<publication::Model>,
    pub publication_vouchers: Vec<publication_voucher::Model>,
    /// Deletions of rows whose stored facts are newer than the deleted object's: only their
    /// `deleted_at` is written (unless one is stored already).
    pub deleted: Deleted,
}

/// `deleted_at` to set on stored rows, by id, per table.
#[derive(Debug, Default)]
pub(super) struct Deleted {
    pub customers: Vec<(String, DateTime<Utc>)>,
    pub campaigns: Vec<(String, DateTime<Utc>)>,
    pub vouchers: Vec<(String, DateTime<Utc>)>,
}

/// A row that a deletion may mark.
trait Deletable {
    fn deleted_at(&self) -> Option<DateTime<Utc>>;
    fn set_deleted_at(&mut self, at: Option<DateTime<Utc>>);
}

macro_rules! deletable {
    ($($entity:ident),*) => {$(
        impl Deletable for $entity::Model {
            fn deleted_at(&self) -> Option<DateTime<Utc>> {
                self.deleted_at
            }
            fn set_deleted_at(&mut self, at: Option<DateTime<Utc>>) {
                self.deleted_at = at;
            }
        }
    )*};
}

deletable!(customer, campaign, voucher);

/// A row's latest state during the replay: the facts time it holds and, once the batch wrote
/// it, the row to write; and the first time the batch saw it deleted.
struct Slot<M> {
    facts_at: i64,
    row: Option<M>,
    deleted_at: Option<DateTime<Utc>>,
}

/// Rows by id, starting from their stored facts times.
struct Slots<M>(HashMap<String, Slot<M>>);

impl<M: Deletable> Slots<M> {
    fn stored(facts_times: impl IntoIterator<Item = (String, i64)>) -> Self {
        Slots(
            facts_times
                .into_iter()
                .map(|(id, facts_at)| {
                    (
                        id,
                        Slot {
                            facts_at,
                            row: None,
                            deleted_at: None,
                        },
                    )
                })
                .collect(),
        )
    }

    /// `row` replaces the slot unless the slot's facts are newer; true when it did. A deletion
    /// counts either way.
    fn offer(&mut self, id: &str, facts_at: i64, row: M) -> bool {
        let slot = self.0.entry(id.to_owned()).or_insert(Slot {
            facts_at: i64::MIN,
            row: None,
            deleted_at: None,
        });
        slot.deleted_at = slot.deleted_at.or(row.deleted_at());
        if slot.facts_at <= facts_at {
            slot.facts_at = facts_at;
            slot.row = Some(row);
            true
        } else {
            false
        }
    }

    /// The rows the replay decided to write, each with the batch's first deletion of it (the
    /// store keeps one stored before); and the deletions of rows it does not write.
    fn written(self) -> (Vec<M>, Vec<(String, DateTime<Utc>)>) {
        let (mut rows, mut deleted) = (vec![], vec![]);
        for (id, slot) in self.0 {
            match (slot.row, slot.deleted_at) {
                (Some(mut row), at) => {
                    row.set_deleted_at(at);
                    rows.push(row);
                }
                (None, Some(at)) => deleted.push((id, at)),
                (None, None) => {}
            }
        }
        (rows, deleted)
    }
}

/// Replays `batch` (event id, delivery), in order, over `before`.
pub(super) fn replay(before: Before, batch: &[(i64, &Delivery)]) -> After {
    let mut customers = Slots::stored(before.customers);
    let mut campaign_types: HashMap<String, Option<String>> = HashMap::new();
    let mut campaign_names = before.campaign_names;
    let mut campaigns = Slots::stored(before.campaigns.into_iter().map(|(id, (at, kind))| {
        campaign_types.insert(id.clone(), kind);
        (id, at)
    }));
    let mut vouchers = Slots::stored(
        before
            .vouchers
            .into_iter()
            .map(|(id, (facts_at, _))| (id, facts_at)),
    );
    let mut publications_seen = before.publications;
    let mut categories: HashMap<String, category::Model> = HashMap::new();
    let mut after = After::default();
    for (event_id, delivery) in batch {
        let (event_id, n) = (*event_id, &delivery.normalised);
        for row in &n.customers {
            let row = customer::Model {
                event_id,
                ..row.clone()
            };
            customers.offer(&row.id.clone(), row.facts_at, row);
        }
        for row in &n.campaigns {
            let row = campaign::Model {
                event_id,
                ..row.clone()
            };
            let (id, name, voucher_type) =
                (row.id.clone(), row.name.clone(), row.voucher_type.clone());
            if campaigns.offer(&id, row.facts_at, row) {
                campaign_types.insert(id.clone(), voucher_type);
                campaign_names.insert(name, id);
            }
        }
        for row in &n.categories {
            categories.insert(row.id.clone(), row.clone());
        }
        // Campaigns this delivery's vouchers were linked to by name.
        let mut named: HashMap<&str, String> = HashMap::new();
        for facts in &n.vouchers {
            let VoucherFacts {
                row,
                type_known,
                category_ids,
                campaign_name,
            } = facts;
            let mut row = voucher::Model {
                event_id,
                ..row.clone()
            };
            if row.campaign_id.is_none()
                && let Some(id) = campaign_name.as_ref().and_then(|n| campaign_names.get(n))
            {
                row.campaign_id = Some(id.clone());
                named.insert(&facts.row.id, id.clone());
            }
            if !type_known
                && let Some(campaign_id) = &row.campaign_id
                && let Some(Some(kind)) = campaign_types.get(campaign_id)
            {
                row.voucher_type = kind.clone();
            }
            let id = row.id.clone();
            if vouchers.offer(&id, row.facts_at, row) && !category_ids.is_empty() {
                after.voucher_categories.insert(id, category_ids.clone());
            }
        }
        if let Some(facts) = &n.publication
            && publications_seen.insert(facts.row.id.clone())
        {
            let campaign_id = facts
                .row
                .campaign_id
                .clone()
                .or_else(|| named.get(facts.row.voucher_id.as_str()).cloned());
            let row = publication::Model {
                seq: event_id,
                received_at: delivery.received_at,
                campaign_id,
                ..facts.row.clone()
            };
            for (position, voucher_id) in facts.voucher_ids.iter().enumerate() {
                after.publication_vouchers.push(publication_voucher::Model {
                    publication_id: row.id.clone(),
                    voucher_id: voucher_id.clone(),
                    position: i32::try_from(position).unwrap_or(i32::MAX),
                });
            }
            after.publications.push(row);
        }
    }
    (after.customers, after.deleted.customers) = customers.written();
    (after.campaigns, after.deleted.campaigns) = campaigns.written();
    after.categories = categories.into_values().collect();
    (after.vouchers, after.deleted.vouchers) = vouchers.written();
    after
}

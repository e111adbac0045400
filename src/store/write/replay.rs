//! The ingest rules, replayed in memory over a batch in commit order, from the stored state:
//! - a customer, campaign or voucher takes the facts of the payload with the newest facts time
//!   (its `updated_at`, else the event's time); on a tie the later event wins, and a stub made
//!   from a mere reference (the lowest facts time) never overwrites anything;
//! - a voucher whose payload leaves out its type takes its campaign's, as known at that event;
//! - a voucher's categories are those of the last applied payload that carried any;
//! - a voucher known only by its code (keyed by `code_key`) is the voucher with an id that has
//!   that code when one is known (newest facts, then greatest id, should several share it);
//!   when a payload first brings the id of a voucher keyed by its code, the two are merged: the
//!   keyed row is offered to the id like any other facts (so newer facts win), its categories
//!   and every reference to it move to the id, and the keyed row is removed;
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
use crate::domain::normalise::{VoucherFacts, code_key, code_of_key};
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
    /// Vouchers keyed by their code merged into the voucher with their id: (key, id).
    pub merged: Vec<(String, String)>,
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
    let mut codes = Codes {
        real: before.real_by_code,
        keyed: before.code_keyed,
    };
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
        // Campaigns this delivery's vouchers were linked to by name; the ids its vouchers
        // known by code resolved to.
        let mut named: HashMap<&str, String> = HashMap::new();
        let mut resolved: HashMap<&str, String> = HashMap::new();
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
            row.id = codes.resolve(&mut vouchers, &mut after, &row);
            let id = row.id.clone();
            resolved.insert(&facts.row.id, id.clone());
            let code = row.code.clone();
            if vouchers.offer(&id, row.facts_at, row) && !category_ids.is_empty() {
                after
                    .voucher_categories
                    .insert(id.clone(), category_ids.clone());
            }
            codes.known(&vouchers, &id, code);
        }
        if let Some(facts) = &n.publication
            && publications_seen.insert(facts.row.id.clone())
        {
            let campaign_id = facts
                .row
                .campaign_id
                .clone()
                .or_else(|| named.get(facts.row.voucher_id.as_str()).cloned());
            let voucher_id = facts.row.voucher_id.as_str();
            let row = publication::Model {
                seq: event_id,
                received_at: delivery.received_at,
                campaign_id,
                voucher_id: resolved
                    .get(voucher_id)
                    .map_or(voucher_id, String::as_str)
                    .to_owned(),
                ..facts.row.clone()
            };
            for (position, voucher_id) in facts.voucher_ids.iter().enumerate() {
                let voucher_id = resolved.get(voucher_id.as_str()).unwrap_or(voucher_id);
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
    let merged: HashMap<String, String> = after.merged.iter().cloned().collect();
    let now = |id: &mut String| {
        if let Some(merged) = merged.get(id.as_str()) {
            id.clone_from(merged);
        }
    };
    after
        .publications
        .iter_mut()
        .for_each(|p| now(&mut p.voucher_id));
    let links = after.publication_vouchers.iter_mut();
    links.for_each(|link| now(&mut link.voucher_id));
    after
}

/// Vouchers by code during the replay.
struct Codes {
    /// The voucher with an id that a code names: facts time and id.
    real: HashMap<String, (i64, String)>,
    /// Stored rows keyed by code that the batch may merge.
    keyed: HashMap<String, voucher::Model>,
}

impl Codes {
    /// The id `row`'s facts belong to: for a voucher keyed by its code, the voucher with an id
    /// that has the code, if any; for one with an id, that id, after merging into it the row
    /// keyed by its code, if there is one.
    fn resolve(
        &mut self,
        vouchers: &mut Slots<voucher::Model>,
        after: &mut After,
        row: &voucher::Model,
    ) -> String {
        if let Some(code) = code_of_key(&row.id) {
            return self
                .real
                .get(code)
                .map_or(row.id.clone(), |(_, id)| id.clone());
        }
        let key = code_key(&row.code);
        let Some(slot) = vouchers.0.remove(&key) else {
            return row.id.clone();
        };
        let Slot {
            facts_at,
            row: keyed,
            deleted_at,
        } = slot;
        let Some(mut keyed) = keyed.or_else(|| self.keyed.remove(&key)) else {
            // Unreachable: the store reads every keyed row whose id the batch brings.
            let slot = Slot {
                facts_at,
                row: None,
                deleted_at,
            };
            vouchers.0.insert(key, slot);
            return row.id.clone();
        };
        keyed.id.clone_from(&row.id);
        keyed.deleted_at = keyed.deleted_at.or(deleted_at);
        vouchers.offer(&row.id, keyed.facts_at, keyed);
        if let Some(categories) = after.voucher_categories.remove(&key) {
            after.voucher_categories.insert(row.id.clone(), categories);
        }
        after.merged.push((key, row.id.clone()));
        row.id.clone()
    }

    /// Notes that the voucher `id` (when it is not keyed by code) has `code`.
    fn known(&mut self, vouchers: &Slots<voucher::Model>, id: &str, code: String) {
        let Some(slot) = vouchers.0.get(id).filter(|_| code_of_key(id).is_none()) else {
            return;
        };
        let newer = self
            .real
            .get(&code)
            .is_none_or(|(at, seen)| (slot.facts_at, id) >= (*at, seen.as_str()));
        if newer {
            self.real.insert(code, (slot.facts_at, id.to_owned()));
        }
    }
}

//! Group commit stores a batch in a few multi-row statements; what it stores must be what the
//! ingest rules say for the same deliveries in commit order. The rules are stated again here,
//! plainly, over the test's own description of each delivery (an oracle that shares no code
//! with the server), and both the batched writer and the one-delivery-per-transaction writer
//! must store exactly what the oracle predicts. Some deliveries delete a customer, voucher or
//! campaign, with facts older or newer than those stored. Some vouchers come with their code
//! only, before and after another delivery brings their id (which merges the two); one never
//! gets its id.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use std::collections::BTreeMap;

const DISCOUNT: &str = "DISCOUNT_VOUCHER";
const GIFT: &str = "GIFT_VOUCHER";

/// What delivery `i` says, before it is written as JSON: three customers, four vouchers and
/// two campaigns updated out of order; some vouchers leave their type to their campaign, some
/// carry categories; some publications are repeated.
struct Said {
    i: usize,
}

impl Said {
    fn at(&self, k: usize) -> String {
        format!("2024-01-01T00:00:{:02}Z", (self.i * k) % 60)
    }
    fn micros(&self, k: usize) -> i64 {
        micros(&self.at(k))
    }
    fn customer(&self) -> String {
        format!("cust_{}", self.i % 3)
    }
    fn holder(&self) -> String {
        format!("holder_{}", self.i % 5)
    }
    fn campaign(&self) -> String {
        format!("camp_{}", self.i % 2)
    }
    /// The voucher's id, when the delivery carries it: one in four deliveries carries a
    /// "late" voucher, known by its code only until (for some) a later one brings its id.
    fn voucher(&self) -> Option<String> {
        match self.late() {
            None => Some(format!("v_{}", self.i % 4)),
            Some(j) => (self.i >= 30 && self.i % 8 == 7).then(|| format!("v_late_{j}")),
        }
    }
    fn late(&self) -> Option<usize> {
        (self.i % 4 == 3).then_some(self.i % 5)
    }
    fn code(&self) -> String {
        match self.late() {
            None => format!("CODE-{}", self.i % 4),
            Some(j) => format!("LATE-{j}"),
        }
    }
    fn publication(&self) -> String {
        format!("pub_{}", self.i % 40)
    }
    /// Every fifth delivery carries no campaign object, and its voucher no type.
    fn has_campaign(&self) -> bool {
        !self.i.is_multiple_of(5)
    }
    fn campaign_type(&self) -> &'static str {
        if self.i.is_multiple_of(3) {
            GIFT
        } else {
            DISCOUNT
        }
    }
    fn voucher_type(&self) -> Option<&'static str> {
        self.has_campaign()
            .then_some(if self.i % 3 == 1 { GIFT } else { DISCOUNT })
    }
    /// Two deliveries in six delete a customer, a voucher or a campaign (in turn) instead,
    /// both the same one at different times.
    fn deletes(&self) -> Option<(&'static str, String)> {
        let n = self.i / 18;
        if !matches!(self.i % 6, 2 | 5) {
            return None;
        }
        match (self.i / 6) % 3 {
            0 => Some(("customer", format!("cust_{}", n % 3))),
            1 => Some(("voucher", format!("v_{}", n % 4))),
            _ => Some(("campaign", format!("camp_{}", n % 2))),
        }
    }
    /// The facts time of the deleted object: as old as the others' for every other deletion,
    /// newer than all of them for the rest.
    fn deleted_facts(&self, k: usize) -> String {
        match (self.i / 6).is_multiple_of(2) {
            true => format!("2024-01-01T00:01:{:02}Z", (self.i * k) % 60),
            false => self.at(k),
        }
    }
    /// When that deletion happened (the event's time, or the campaign's `deleted_at`).
    fn deleted_at(&self) -> String {
        format!("2024-02-01T00:{:02}:00Z", self.i % 60)
    }
    fn category(&self) -> Option<(String, String)> {
        (self.i.is_multiple_of(2) || self.i % 8 == 3).then(|| {
            (
                format!("cat_{}", self.i % 3),
                format!("Category {}", self.i),
            )
        })
    }

    /// The deletion's payload: the object as it last was, dated `at(k)` like any other.
    fn deletion(&self, member: &str, id: &str) -> Vec<u8> {
        let i = self.i;
        let object = match member {
            "customer" => {
                json!({"id": id, "name": format!("Gone {i}"), "updated_at": self.deleted_facts(7)})
            }
            "voucher" => json!({
                "id": id, "code": format!("GONE-{i}"), "type": self.deleted_type(),
                "campaign_id": self.campaign(), "holder_id": self.holder(), "updated_at": self.deleted_facts(11),
            }),
            _ => json!({"id": id, "name": format!("Gone {i}"),
                        "voucher": {"type": self.deleted_type()}, "updated_at": self.deleted_facts(13)}),
        };
        let mut data = json!({ member: object });
        let event_type = format!("{member}.deleted");
        let mut body = wrap(&event_type, &format!("ev_{i}"), data.take());
        match member {
            "campaign" => body["data"]["deleted_at"] = json!(self.deleted_at()),
            _ => body["event"]["created_at"] = json!(self.deleted_at()),
        }
        bytes(&body)
    }
    fn deleted_type(&self) -> &'static str {
        if self.i.is_multiple_of(2) {
            GIFT
        } else {
            DISCOUNT
        }
    }

    fn body(&self) -> Vec<u8> {
        let i = self.i;
        if let Some((member, id)) = self.deletes() {
            return self.deletion(member, &id);
        }
        let mut voucher = json!({
            "code": self.code(), "campaign_id": self.campaign(), "updated_at": self.at(11),
            "holder_id": self.holder(),
        });
        if let Some(id) = self.voucher() {
            voucher["id"] = json!(id);
        }
        if let Some(kind) = self.voucher_type() {
            voucher["type"] = json!(kind);
        }
        if let Some((id, name)) = self.category() {
            voucher["categories"] = json!([{"id": id, "name": name}]);
        }
        let mut data = json!({
            "customer": {"id": self.customer(), "name": format!("Name {i}"),
                         "email": format!("c{i}@example.com"), "updated_at": self.at(7)},
            "publication": {"id": self.publication(), "customer_id": self.customer(),
                            "created_at": "2024-05-01T10:00:00Z"},
            "voucher": voucher,
        });
        if self.has_campaign() {
            data["campaign"] = json!({
                "id": self.campaign(), "name": format!("Campaign {i}"),
                "voucher": {"type": self.campaign_type()}, "updated_at": self.at(13),
            });
        }
        bytes(&wrap(
            "customer.publication.succeeded",
            &format!("ev_{i}"),
            data,
        ))
    }
}

/// A row's stored facts time and its text as `dump` shows it.
type Rows = BTreeMap<String, (i64, String)>;

/// Newer facts win; on a tie the later event wins.
fn offer(rows: &mut Rows, id: &str, facts_at: i64, text: String) -> bool {
    let newer = rows.get(id).is_none_or(|(stored, _)| *stored <= facts_at);
    if newer {
        rows.insert(id.to_owned(), (facts_at, text));
    }
    newer
}

/// Deletion times by id, per table (customers, campaigns, vouchers): the first one stays.
type Deleted = [BTreeMap<String, i64>; 3];

fn micros(at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at)
        .expect("time")
        .timestamp_micros()
}

/// The rules, applied one delivery at a time in commit order: `(event id, delivery)`; and how
/// many deletions carried the newest facts of their row, and how many older ones.
fn oracle(committed: &[(i64, Said)]) -> (Vec<Vec<String>>, [usize; 2]) {
    const STUB: i64 = i64::MIN;
    let (mut customers, mut campaigns, mut vouchers) = (Rows::new(), Rows::new(), Rows::new());
    let mut campaign_types: BTreeMap<String, Option<&str>> = BTreeMap::new();
    let mut categories = BTreeMap::new();
    let mut voucher_categories: BTreeMap<String, String> = BTreeMap::new();
    let mut publications: BTreeMap<String, String> = BTreeMap::new();
    // The voucher with an id that each code names.
    let mut real_of: BTreeMap<String, String> = BTreeMap::new();
    let mut deleted = Deleted::default();
    let mut outdated = [0, 0];
    for (event, s) in committed {
        // A deletion: the object's last facts, offered like any others; deleted for good, at
        // the first deletion time.
        if let Some((member, id)) = s.deletes() {
            let (i, at) = (s.i, micros(&s.deleted_at()));
            let newest = match member {
                "customer" => {
                    let f = micros(&s.deleted_facts(7));
                    let text = format!("{id}|Gone {i}||{f}|{event}");
                    let newest = offer(&mut customers, &id, f, text);
                    deleted[0].entry(id).or_insert(at);
                    newest
                }
                "voucher" => {
                    let (h, camp) = (s.holder(), s.campaign());
                    offer(&mut customers, &h, STUB, format!("{h}|||{STUB}|{event}"));
                    let stub = format!("{camp}|{camp}||{STUB}|{event}");
                    if offer(&mut campaigns, &camp, STUB, stub) {
                        campaign_types.insert(camp, None);
                    }
                    let (kind, f) = (s.deleted_type(), micros(&s.deleted_facts(11)));
                    let text = format!("{id}|{kind}|{h}|{f}|{event}");
                    let newest = offer(&mut vouchers, &id, f, text);
                    deleted[2].entry(id).or_insert(at);
                    newest
                }
                _ => {
                    let (kind, f) = (s.deleted_type(), micros(&s.deleted_facts(13)));
                    let text = format!("{id}|Gone {i}|{kind}|{f}|{event}");
                    let newest = offer(&mut campaigns, &id, f, text);
                    if newest {
                        campaign_types.insert(id.clone(), Some(kind));
                    }
                    deleted[1].entry(id).or_insert(at);
                    newest
                }
            };
            outdated[usize::from(!newest)] += 1;
            continue;
        }
        let (c, f) = (s.customer(), s.micros(7));
        let text = format!("{c}|Name {}|c{}@example.com|{f}|{event}", s.i, s.i);
        offer(&mut customers, &c, f, text);
        // A voucher's holder is known only by reference: a stub that never overwrites facts.
        let h = s.holder();
        offer(&mut customers, &h, STUB, format!("{h}|||{STUB}|{event}"));
        let camp = s.campaign();
        let (name, kind, facts) = match s.has_campaign() {
            true => (
                format!("Campaign {}", s.i),
                Some(s.campaign_type()),
                s.micros(13),
            ),
            false => (camp.clone(), None, STUB),
        };
        let text = format!("{camp}|{name}|{}|{facts}|{event}", kind.unwrap_or(""));
        if offer(&mut campaigns, &camp, facts, text) {
            campaign_types.insert(camp.clone(), kind);
        }
        if let Some((id, name)) = s.category() {
            categories.insert(id, name);
        }
        // A voucher without a type takes its campaign's, as known at this event.
        let kind = s
            .voucher_type()
            .or_else(|| campaign_types.get(&camp).copied().flatten())
            .unwrap_or(DISCOUNT);
        // A voucher known by its code only is the one with that code and an id, if any, else
        // keyed by its code. The first id for a keyed code merges the keyed row into it: the
        // keyed facts are offered to the id, its categories and publications move there.
        let code = s.code();
        let key = format!("v_code:{code}");
        let v = match s.voucher() {
            None => real_of.get(&code).cloned().unwrap_or(key),
            Some(id) => {
                if let Some((facts, text)) = vouchers.remove(&key) {
                    offer(&mut vouchers, &id, facts, text.replacen(&key, &id, 1));
                    if let Some(category) = voucher_categories.remove(&key) {
                        voucher_categories.insert(id.clone(), category);
                    }
                    for p in publications.values_mut() {
                        *p = p.replace(&format!("|{key}|"), &format!("|{id}|"));
                    }
                }
                real_of.insert(code, id.clone());
                id
            }
        };
        let f = s.micros(11);
        if offer(&mut vouchers, &v, f, format!("{v}|{kind}|{h}|{f}|{event}"))
            && let Some((category, _)) = s.category()
        {
            voucher_categories.insert(v.clone(), category);
        }
        // A publication belongs to the first event that carried it.
        publications
            .entry(s.publication())
            .or_insert_with(|| format!("{}|{c}|{v}|{event}", s.publication()));
    }
    let texts = |rows: Rows| rows.into_values().map(|(_, t)| t).collect::<Vec<_>>();
    let deleted = deleted.map(|table| {
        let rows = table.into_iter().map(|(id, at)| format!("{id}|{at}"));
        rows.collect::<Vec<_>>()
    });
    let mut all = vec![
        texts(customers),
        texts(campaigns),
        texts(vouchers),
        categories
            .iter()
            .map(|(id, n)| format!("{id}|{n}"))
            .collect(),
        voucher_categories
            .iter()
            .map(|(v, c)| format!("{v}|{c}"))
            .collect(),
        publications.values().cloned().collect(),
        publications
            .values()
            .map(|p| {
                let mut parts = p.split('|');
                let (id, voucher) = (parts.next(), parts.nth(1));
                format!("{}|{}|0", id.unwrap_or(""), voucher.unwrap_or(""))
            })
            .collect(),
    ];
    all.extend(deleted);
    (all, outdated)
}

/// Every stored row the rules decide, as text, table by table, sorted.
async fn dump(app: &TestApp) -> Vec<Vec<String>> {
    let mut all = vec![];
    for sql in [
        "SELECT id || '|' || COALESCE(name, '') || '|' || COALESCE(email, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM customers",
        "SELECT id || '|' || name || '|' || COALESCE(voucher_type, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM campaigns",
        "SELECT id || '|' || voucher_type || '|' || COALESCE(holder_id, '') || '|' || CAST(facts_at AS TEXT) || '|' || CAST(event_id AS TEXT) FROM vouchers",
        "SELECT id || '|' || name FROM categories",
        "SELECT voucher_id || '|' || category_id FROM voucher_categories",
        "SELECT id || '|' || customer_id || '|' || voucher_id || '|' || CAST(seq AS TEXT) FROM publications",
        "SELECT publication_id || '|' || voucher_id || '|' || CAST(position AS TEXT) FROM publication_vouchers",
    ] {
        let mut rows: Vec<String> = app.texts(sql).await.into_iter().flatten().collect();
        rows.sort();
        all.push(rows);
    }
    // Deletion times, read as instants (each database writes them as text its own way).
    for table in ["customers", "campaigns", "vouchers"] {
        let sql = format!("SELECT id, deleted_at FROM {table} WHERE deleted_at IS NOT NULL");
        let backend = app.db.get_database_backend();
        let mut rows: Vec<String> = app
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("query")
            .into_iter()
            .map(|row| {
                let id: String = row.try_get_by_index(0).expect("id");
                let at: DateTime<Utc> = row.try_get_by_index(1).expect("deleted_at");
                format!("{id}|{}", at.timestamp_micros())
            })
            .collect();
        rows.sort();
        all.push(rows);
    }
    all
}

/// The deliveries in the order they were committed, with their event ids.
async fn committed(app: &TestApp) -> Vec<(i64, Said)> {
    let rows = app
        .texts("SELECT CAST(id AS TEXT) || '|' || event_id FROM webhook_events ORDER BY id")
        .await;
    rows.into_iter()
        .flatten()
        .map(|row| {
            let (id, event) = row.split_once("|ev_").expect("id|ev_n");
            let i = event.parse().expect("n");
            (id.parse().expect("event id"), Said { i })
        })
        .collect()
}

async fn what_is_stored_is_what_the_rules_say(backend: Backend) {
    let bodies: Vec<Vec<u8>> = (0..64).map(|i| Said { i }.body()).collect();
    // All at once: the writer takes them in batches.
    let Some(batched) = TestApp::spawn(backend).await else {
        return;
    };
    batched.post_all(bodies.clone()).await;
    // The same, each delivery in a transaction of its own.
    let Some(single) = TestApp::spawn_with(backend, |c| c.ingest_one_by_one = true).await else {
        return;
    };
    single.post_all(bodies).await;
    for app in [&batched, &single] {
        let (expected, deletions) = oracle(&committed(app).await);
        assert!(expected.iter().all(|t| !t.is_empty()), "{expected:?}");
        // Deletions with the newest facts of their row, and with older ones (only their time
        // is written).
        assert!(deletions.iter().all(|n| *n > 0), "{deletions:?}");
        // Vouchers still keyed by their code, and ones merged into their id.
        let vouchers = &expected[2];
        assert!(
            vouchers.iter().any(|v| v.starts_with("v_code:LATE-2|")),
            "{vouchers:?}"
        );
        let merged = ["v_late_0|", "v_late_3|", "v_late_4|"];
        assert!(
            merged
                .iter()
                .all(|m| vouchers.iter().any(|v| v.starts_with(m))),
            "{vouchers:?}"
        );
        assert!(
            !vouchers.iter().any(|v| v.starts_with("v_code:LATE-0|")),
            "{vouchers:?}"
        );
        assert_eq!(
            dump(app).await,
            expected.into_iter().map(sorted).collect::<Vec<_>>()
        );
    }
    // And the batches really were batches.
    let statements = batched
        .statements
        .load(std::sync::atomic::Ordering::Relaxed);
    let singles = single.statements.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        statements < singles,
        "batched {statements} statements vs one by one {singles}"
    );
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

crate::on_both!(what_is_stored_is_what_the_rules_say);

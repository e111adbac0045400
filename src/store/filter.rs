//! Filters described once, as data, and rendered twice: as SQL for pages and replay, and in
//! memory for the live rows the feed carries. A subscription that resumes replays with the SQL
//! rendering and then follows live rows with the in-memory one; since both are read off the
//! same terms, the two can never disagree on what matches.

use crate::store::related::Related;
use entity::{campaign, customer, publication, publication_voucher, voucher};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, ModelTrait, Value};
use std::cmp::Ordering;

/// How a term compares the value it reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(Value),
    OneOf(Vec<Value>),
    /// Strictly after (greater than).
    After(Value),
    /// Strictly before (less than).
    Before(Value),
}

/// Where a term reads its value, seen from the filtered row.
#[derive(Debug, Clone, Copy)]
pub enum Path<C> {
    /// A column of the row itself.
    Own(C),
    /// A column of the publication's customer.
    Customer(customer::Column),
    /// A column of the publication's campaign.
    Campaign(campaign::Column),
    /// A column of any of the publication's vouchers.
    AnyVoucher(voucher::Column),
    /// Any of the publication's voucher ids (whether or not its row is known).
    AnyVoucherId,
}

/// One condition of a filter; a filter is all of its terms.
#[derive(Debug, Clone)]
pub struct Term<C> {
    pub path: Path<C>,
    pub test: Test,
}

impl<C> Term<C> {
    pub fn new(path: Path<C>, test: Test) -> Self {
        Term { path, test }
    }
}

impl Test {
    /// The SQL rendering, applied to `expr`.
    fn sql(&self, expr: Expr) -> SimpleExpr {
        match self {
            Test::Equals(v) => expr.eq(v.clone()),
            Test::OneOf(vs) => expr.is_in(vs.clone()),
            Test::After(v) => expr.gt(v.clone()),
            Test::Before(v) => expr.lt(v.clone()),
        }
    }

    /// The in-memory rendering, applied to `have` (SQL's rules: NULL matches nothing).
    fn holds(&self, have: &Value) -> bool {
        match self {
            Test::Equals(v) => !is_null(have) && have == v,
            Test::OneOf(vs) => !is_null(have) && vs.contains(have),
            Test::After(v) => order(have, v) == Some(Ordering::Greater),
            Test::Before(v) => order(have, v) == Some(Ordering::Less),
        }
    }
}

fn is_null(value: &Value) -> bool {
    *value == value.as_null()
}

/// The order of two values of the kinds filters compare (times, numbers, text).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::ChronoDateTimeUtc(Some(a)), Value::ChronoDateTimeUtc(Some(b))) => Some(a.cmp(b)),
        (Value::BigInt(Some(a)), Value::BigInt(Some(b))) => Some(a.cmp(b)),
        (Value::String(Some(a)), Value::String(Some(b))) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The SQL condition of `terms` on a table's own columns.
pub fn own_condition<E: EntityTrait>(terms: &[(E::Column, Test)]) -> Condition {
    terms.iter().fold(Condition::all(), |cond, (column, test)| {
        cond.add(test.sql(Expr::col((E::default(), *column))))
    })
}

/// True when `row` meets every term on its own columns.
pub fn own_matches<M: ModelTrait>(
    terms: &[(<M::Entity as EntityTrait>::Column, Test)],
    row: &M,
) -> bool {
    terms
        .iter()
        .all(|(column, test)| test.holds(&row.get(*column)))
}

/// The SQL condition of `terms` over publications.
pub fn publication_condition(terms: &[Term<publication::Column>]) -> Condition {
    use publication::Column as P;
    terms.iter().fold(Condition::all(), |cond, term| {
        let test = &term.test;
        cond.add(match term.path {
            Path::Own(column) => test.sql(Expr::col((publication::Entity, column))),
            Path::Customer(column) => P::CustomerId.in_subquery(ids_where(
                customer::Entity,
                customer::Column::Id,
                test.sql(Expr::col((customer::Entity, column))),
            )),
            Path::Campaign(column) => P::CampaignId.in_subquery(ids_where(
                campaign::Entity,
                campaign::Column::Id,
                test.sql(Expr::col((campaign::Entity, column))),
            )),
            Path::AnyVoucher(column) => P::Id.in_subquery(
                links()
                    .inner_join(
                        voucher::Entity,
                        Expr::col((voucher::Entity, voucher::Column::Id)).equals((
                            publication_voucher::Entity,
                            publication_voucher::Column::VoucherId,
                        )),
                    )
                    .and_where(test.sql(Expr::col((voucher::Entity, column))))
                    .to_owned(),
            ),
            Path::AnyVoucherId => P::Id.in_subquery(
                links()
                    .and_where(test.sql(Expr::col((
                        publication_voucher::Entity,
                        publication_voucher::Column::VoucherId,
                    ))))
                    .to_owned(),
            ),
        })
    })
}

/// True when the live publication `row` meets every term; `related` must hold its customer,
/// campaign and vouchers (the feed reads them with every batch).
pub fn publication_matches(
    terms: &[Term<publication::Column>],
    row: &publication::Model,
    related: &Related,
) -> bool {
    let voucher_ids = related
        .publication_vouchers
        .get(&row.id)
        .map_or(std::slice::from_ref(&row.voucher_id), Vec::as_slice);
    terms.iter().all(|term| {
        let test = &term.test;
        match term.path {
            Path::Own(column) => match (test, own_text(row, column)) {
                // The common live filters (customer, campaign, channel) without copying the
                // row's text into a `Value` for every row and every subscription.
                (Test::Equals(Value::String(Some(want))), Some(have)) => have == Some(want),
                _ => test.holds(&row.get(column)),
            },
            Path::Customer(column) => related
                .customers
                .get(&row.customer_id)
                .is_some_and(|c| test.holds(&c.get(column))),
            Path::Campaign(column) => row
                .campaign_id
                .as_ref()
                .and_then(|id| related.campaigns.get(id))
                .is_some_and(|c| test.holds(&c.get(column))),
            Path::AnyVoucher(column) => voucher_ids
                .iter()
                .filter_map(|id| related.vouchers.get(id))
                .any(|v| test.holds(&v.get(column))),
            Path::AnyVoucherId => voucher_ids
                .iter()
                .any(|id| test.holds(&Value::from(id.clone()))),
        }
    })
}

/// The text of `row`'s `column`, borrowed, for the text columns live filters test by equality;
/// `None` for any other column.
fn own_text(row: &publication::Model, column: publication::Column) -> Option<Option<&str>> {
    use publication::Column as P;
    match column {
        P::CustomerId => Some(Some(&row.customer_id)),
        P::CampaignId => Some(row.campaign_id.as_deref()),
        P::Channel => Some(row.channel.as_deref()),
        _ => None,
    }
}

/// `SELECT id FROM entity WHERE condition`.
fn ids_where<E: EntityTrait>(entity: E, id: E::Column, condition: SimpleExpr) -> SelectStatement {
    Query::select()
        .column(id)
        .from(entity)
        .and_where(condition)
        .to_owned()
}

/// `SELECT publication_id FROM publication_vouchers`, to be narrowed.
fn links() -> SelectStatement {
    Query::select()
        .column((
            publication_voucher::Entity,
            publication_voucher::Column::PublicationId,
        ))
        .from(publication_voucher::Entity)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn tests_follow_sql_rules_in_memory() {
        let t = |s| Value::from(Utc.timestamp_opt(s, 0).single().expect("time"));
        assert!(Test::After(t(1)).holds(&t(2)));
        assert!(!Test::After(t(2)).holds(&t(2)), "strictly after");
        assert!(Test::Before(t(2)).holds(&t(1)));
        assert!(!Test::Before(t(1)).holds(&t(1)), "strictly before");
        let text = |s: &str| Value::from(s.to_owned());
        assert!(Test::Equals(text("a")).holds(&text("a")));
        assert!(
            !Test::Equals(text("a")).holds(&Value::String(None)),
            "NULL is not equal"
        );
        assert!(Test::OneOf(vec![text("a"), text("b")]).holds(&text("b")));
        assert!(!Test::OneOf(vec![text("a")]).holds(&Value::String(None)));
        assert!(!Test::After(t(1)).holds(&Value::ChronoDateTimeUtc(None)));
    }
}

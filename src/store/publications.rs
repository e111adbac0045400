//! Publication pages: combinable filters, two orderings, keyset both ways, counts on demand.

use super::filter::{self, Path, Term, Test};
use super::queries::{Page, Window};
use super::related::Related;
use crate::domain::cursor::PublicationKey;
use chrono::{DateTime, Utc};
use entity::{campaign, customer, publication, voucher};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Value,
};

/// Which timestamp orders a list of publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    CreatedAt,
    ReceivedAt,
}

/// An ordering of publications; ties are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            field: SortField::CreatedAt,
            descending: true,
        }
    }
}

/// Filters on publications; every field narrows the set.
#[derive(Debug, Clone, Default)]
pub struct PublicationFilter {
    pub customer_id: Option<String>,
    pub customer_source_id: Option<String>,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    /// Any of the publication's vouchers has this code.
    pub voucher_code: Option<String>,
    /// Any of the publication's vouchers has this type.
    pub voucher_type: Option<String>,
    /// The publication assigned this voucher (among others).
    pub voucher_id: Option<String>,
    pub channel: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl PublicationFilter {
    /// The one description of this filter, as terms.
    fn terms(&self) -> Vec<Term<publication::Column>> {
        use publication::Column as P;
        let text = |v: &Option<String>| v.clone().map(|v| Test::Equals(v.into()));
        let time = |v: Option<DateTime<Utc>>, test: fn(Value) -> Test| v.map(|t| test(t.into()));
        [
            (Path::Own(P::CustomerId), text(&self.customer_id)),
            (
                Path::Customer(customer::Column::SourceId),
                text(&self.customer_source_id),
            ),
            (Path::Own(P::CampaignId), text(&self.campaign_id)),
            (
                Path::Campaign(campaign::Column::Name),
                text(&self.campaign_name),
            ),
            (
                Path::AnyVoucher(voucher::Column::Code),
                text(&self.voucher_code),
            ),
            (
                Path::AnyVoucher(voucher::Column::VoucherType),
                text(&self.voucher_type),
            ),
            (Path::AnyVoucherId, text(&self.voucher_id)),
            (Path::Own(P::Channel), text(&self.channel)),
            (
                Path::Own(P::CreatedAt),
                time(self.created_after, Test::After),
            ),
            (
                Path::Own(P::CreatedAt),
                time(self.created_before, Test::Before),
            ),
        ]
        .into_iter()
        .filter_map(|(path, test)| Some(Term::new(path, test?)))
        .collect()
    }

    /// The SQL condition (pages, counts and replay).
    pub fn condition(&self) -> Condition {
        filter::publication_condition(&self.terms())
    }

    /// The same test in memory, for live rows, built once for every row it will test.
    pub fn matcher(&self) -> PublicationMatcher {
        PublicationMatcher(self.terms())
    }
}

/// A `PublicationFilter` as an in-memory test (the feed tests every live row against every
/// subscription's filter).
pub struct PublicationMatcher(Vec<Term<publication::Column>>);

impl PublicationMatcher {
    /// Whether `row` passes; `related` must hold the publication's customer, campaign and
    /// vouchers.
    pub fn matches(&self, row: &publication::Model, related: &Related) -> bool {
        filter::publication_matches(&self.0, row, related)
    }
}

/// A publication with the customer, first voucher and campaign it refers to.
pub type Joined = (
    publication::Model,
    Option<customer::Model>,
    Option<voucher::Model>,
    Option<campaign::Model>,
);

/// One page of publications under `sort`, by keyset on (timestamp, id).
pub async fn page(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
) -> Result<Page<publication::Model>, DbErr> {
    let rows = page_select(filter, sort, window).all(db).await?;
    Ok(Page::from_probe(rows, window))
}

/// The same page with what each row refers to directly, read in the same statement.
pub async fn page_joined(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
) -> Result<Page<Joined>, DbErr> {
    let rows = page_select(filter, sort, window)
        .find_also_related(customer::Entity)
        .find_also_related(voucher::Entity)
        .find_also(publication::Entity, campaign::Entity)
        .all(db)
        .await?;
    Ok(Page::from_probe(rows, window))
}

fn page_select(
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
) -> Select<publication::Entity> {
    page_order(filter, sort, window).limit(window.size + 1)
}

/// The page's select without its `LIMIT` (of `window.size + 1`: a probe row tells whether more
/// follow), for `narrow`, which writes it into the text.
pub(super) fn page_order(
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
) -> Select<publication::Entity> {
    let column = match sort.field {
        SortField::CreatedAt => publication::Column::CreatedAt,
        SortField::ReceivedAt => publication::Column::ReceivedAt,
    };
    let key = |k: &PublicationKey| {
        let time = match sort.field {
            SortField::CreatedAt => k.created_at,
            SortField::ReceivedAt => k.received_at,
        };
        Expr::tuple([Expr::val(time), Expr::val(k.id.clone())])
    };
    let row = || {
        Expr::tuple([
            Expr::col((publication::Entity, column)),
            Expr::col((publication::Entity, publication::Column::Id)),
        ])
    };
    let mut cond = filter.condition();
    // "After" means further along the requested order.
    if let Some(after) = &window.after {
        cond = cond.add(if sort.descending {
            row().lt(key(after))
        } else {
            row().gt(key(after))
        });
    }
    if let Some(before) = &window.before {
        cond = cond.add(if sort.descending {
            row().gt(key(before))
        } else {
            row().lt(key(before))
        });
    }
    let read_descending = sort.descending != window.backward;
    let order = if read_descending {
        Order::Desc
    } else {
        Order::Asc
    };
    publication::Entity::find()
        .filter(cond)
        .order_by(column, order.clone())
        .order_by(publication::Column::Id, order)
}

/// One publication by id.
pub async fn by_id(
    db: &DatabaseConnection,
    id: String,
) -> Result<Option<publication::Model>, DbErr> {
    publication::Entity::find_by_id(id).one(db).await
}

/// One publication by id, with the customer, first voucher and campaign it refers to.
pub async fn by_id_joined(db: &DatabaseConnection, id: String) -> Result<Option<Joined>, DbErr> {
    let found = publication::Entity::find_by_id(id)
        .find_also_related(customer::Entity)
        .find_also_related(voucher::Entity)
        .find_also(publication::Entity, campaign::Entity)
        .one(db)
        .await?;
    Ok(found)
}

/// How many publications match `filter`.
pub async fn count(db: &DatabaseConnection, filter: &PublicationFilter) -> Result<u64, DbErr> {
    publication::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await
}

/// The cursor key of a stored publication.
pub fn key_of(row: &publication::Model) -> PublicationKey {
    PublicationKey {
        seq: row.seq,
        created_at: row.created_at,
        received_at: row.received_at,
        id: row.id.clone(),
    }
}

/// Publications matching `filter` with `seq` in `(after, upto]`, in commit order.
pub async fn after_seq(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<publication::Model>, DbErr> {
    publication::Entity::find()
        .filter(filter.condition())
        .filter(publication::Column::Seq.gt(after))
        .filter(publication::Column::Seq.lte(upto))
        .order_by_asc(publication::Column::Seq)
        .limit(limit)
        .all(db)
        .await
}

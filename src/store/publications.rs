//! Publication pages: combinable filters, two orderings, keyset both ways, counts on demand.

use super::queries::{Page, Window};
use super::related::Related;
use crate::domain::cursor::PublicationKey;
use chrono::{DateTime, Utc};
use entity::{campaign, customer, publication, publication_voucher, voucher};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
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
    /// The SQL condition for this filter.
    pub fn condition(&self) -> Condition {
        use publication::Column as P;
        let mut cond = Condition::all();
        if let Some(id) = &self.customer_id {
            cond = cond.add(P::CustomerId.eq(id.clone()));
        }
        if let Some(source) = &self.customer_source_id {
            cond = cond.add(P::CustomerId.in_subquery(ids_where(
                customer::Entity,
                customer::Column::Id,
                customer::Column::SourceId,
                source,
            )));
        }
        if let Some(id) = &self.campaign_id {
            cond = cond.add(P::CampaignId.eq(id.clone()));
        }
        if let Some(name) = &self.campaign_name {
            cond = cond.add(P::CampaignId.in_subquery(ids_where(
                campaign::Entity,
                campaign::Column::Id,
                campaign::Column::Name,
                name,
            )));
        }
        let by_voucher = |column: voucher::Column, value: &str| {
            P::Id.in_subquery(
                Query::select()
                    .column((
                        publication_voucher::Entity,
                        publication_voucher::Column::PublicationId,
                    ))
                    .from(publication_voucher::Entity)
                    .inner_join(
                        voucher::Entity,
                        Expr::col((voucher::Entity, voucher::Column::Id)).equals((
                            publication_voucher::Entity,
                            publication_voucher::Column::VoucherId,
                        )),
                    )
                    .and_where(Expr::col((voucher::Entity, column)).eq(value))
                    .to_owned(),
            )
        };
        if let Some(code) = &self.voucher_code {
            cond = cond.add(by_voucher(voucher::Column::Code, code));
        }
        if let Some(kind) = &self.voucher_type {
            cond = cond.add(by_voucher(voucher::Column::VoucherType, kind));
        }
        if let Some(id) = &self.voucher_id {
            cond = cond.add(
                P::Id.in_subquery(
                    Query::select()
                        .column(publication_voucher::Column::PublicationId)
                        .from(publication_voucher::Entity)
                        .and_where(
                            Expr::col(publication_voucher::Column::VoucherId).eq(id.as_str()),
                        )
                        .to_owned(),
                ),
            );
        }
        if let Some(channel) = &self.channel {
            cond = cond.add(P::Channel.eq(channel.clone()));
        }
        if let Some(after) = self.created_after {
            cond = cond.add(P::CreatedAt.gt(after));
        }
        if let Some(before) = self.created_before {
            cond = cond.add(P::CreatedAt.lt(before));
        }
        cond
    }
}

fn ids_where<E: EntityTrait>(
    entity: E,
    id: E::Column,
    column: E::Column,
    value: &str,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(id)
        .from(entity)
        .and_where(Expr::col(column).eq(value))
        .to_owned()
}

/// One page of publications under `sort`, by keyset on (timestamp, id).
pub async fn page(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
) -> Result<Page<publication::Model>, DbErr> {
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
    let rows = publication::Entity::find()
        .filter(cond)
        .order_by(column, order.clone())
        .order_by(publication::Column::Id, order)
        .limit(window.size + 1)
        .all(db)
        .await?;
    Ok(Page::from_probe(rows, window))
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

impl PublicationFilter {
    /// The same test as `condition`, in memory, for live rows; `related` must hold the
    /// publication's customer, campaign and vouchers.
    pub fn matches(&self, row: &publication::Model, related: &Related) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        let customer = related.customers.get(&row.customer_id);
        let campaign = row
            .campaign_id
            .as_ref()
            .and_then(|id| related.campaigns.get(id));
        let voucher_ids = related
            .publication_vouchers
            .get(&row.id)
            .cloned()
            .unwrap_or_else(|| vec![row.voucher_id.clone()]);
        let vouchers: Vec<&entity::voucher::Model> = voucher_ids
            .iter()
            .filter_map(|id| related.vouchers.get(id))
            .collect();
        eq(&self.customer_id, Some(&row.customer_id))
            && eq(
                &self.customer_source_id,
                customer.and_then(|c| c.source_id.as_deref()),
            )
            && eq(&self.campaign_id, row.campaign_id.as_deref())
            && eq(&self.campaign_name, campaign.map(|c| c.name.as_str()))
            && self
                .voucher_code
                .as_ref()
                .is_none_or(|code| vouchers.iter().any(|v| &v.code == code))
            && self
                .voucher_type
                .as_ref()
                .is_none_or(|kind| vouchers.iter().any(|v| &v.voucher_type == kind))
            && self
                .voucher_id
                .as_ref()
                .is_none_or(|id| voucher_ids.contains(id))
            && eq(&self.channel, row.channel.as_deref())
            && self.created_after.is_none_or(|t| row.created_at > t)
            && self.created_before.is_none_or(|t| row.created_at < t)
    }
}

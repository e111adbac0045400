//! Customers, vouchers and campaigns: lookups and filtered pages by id. The batch reads by id
//! are in `related`.

use super::queries::{Page, Window};
use crate::domain::normalise::code_of_key;
use entity::{campaign, category, customer, voucher, voucher_category};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Filters on customers.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub email: Option<String>,
    pub source_id: Option<String>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Deleted customers too (by default a list leaves them out).
    pub include_deleted: bool,
}

impl CustomerFilter {
    pub fn condition(&self) -> Condition {
        use customer::Column as C;
        let mut cond = live(C::DeletedAt, self.include_deleted);
        if let Some(email) = &self.email {
            cond = cond.add(C::Email.eq(email.clone()));
        }
        if let Some(source) = &self.source_id {
            cond = cond.add(C::SourceId.eq(source.clone()));
        }
        if let Some(part) = &self.name_contains {
            let pattern = format!("%{}%", escape_like(&part.to_lowercase()));
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col(C::Name)))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
            );
        }
        cond
    }
}

/// Filters on vouchers.
#[derive(Debug, Clone, Default)]
pub struct VoucherFilter {
    pub holder_id: Option<String>,
    pub campaign_id: Option<String>,
    pub voucher_type: Option<String>,
    pub active: Option<bool>,
    /// A category id or name.
    pub category: Option<String>,
    /// Deleted vouchers too (by default a list leaves them out).
    pub include_deleted: bool,
}

impl VoucherFilter {
    pub fn condition(&self) -> Condition {
        use voucher::Column as V;
        let mut cond = live(V::DeletedAt, self.include_deleted);
        if let Some(holder) = &self.holder_id {
            cond = cond.add(V::HolderId.eq(holder.clone()));
        }
        if let Some(campaign) = &self.campaign_id {
            cond = cond.add(V::CampaignId.eq(campaign.clone()));
        }
        if let Some(kind) = &self.voucher_type {
            cond = cond.add(V::VoucherType.eq(kind.clone()));
        }
        if let Some(active) = self.active {
            cond = cond.add(V::Active.eq(active));
        }
        if let Some(category) = &self.category {
            let in_category = Query::select()
                .column((
                    voucher_category::Entity,
                    voucher_category::Column::VoucherId,
                ))
                .from(voucher_category::Entity)
                .inner_join(
                    category::Entity,
                    Expr::col((category::Entity, category::Column::Id)).equals((
                        voucher_category::Entity,
                        voucher_category::Column::CategoryId,
                    )),
                )
                .cond_where(
                    Condition::any()
                        .add(
                            Expr::col((category::Entity, category::Column::Id))
                                .eq(category.as_str()),
                        )
                        .add(
                            Expr::col((category::Entity, category::Column::Name))
                                .eq(category.as_str()),
                        ),
                )
                .to_owned();
            cond = cond.add(V::Id.in_subquery(in_category));
        }
        cond
    }
}

/// Filters on campaigns.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    /// Deleted campaigns too (by default a list leaves them out).
    pub include_deleted: bool,
}

impl CampaignFilter {
    pub fn condition(&self) -> Condition {
        live(campaign::Column::DeletedAt, self.include_deleted)
    }
}

/// Every row, or only those not deleted.
fn live(deleted_at: impl ColumnTrait, include_deleted: bool) -> Condition {
    match include_deleted {
        true => Condition::all(),
        false => Condition::all().add(deleted_at.is_null()),
    }
}

/// Where several rows share a name, code or source id (Voucherify frees them when it deletes
/// an object), the live one first, then by id.
fn live_first<E: EntityTrait>(
    select: Select<E>,
    deleted_at: E::Column,
    id: E::Column,
) -> Select<E> {
    select
        .order_by_asc(Expr::col(deleted_at).is_not_null())
        .order_by_asc(id)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A page of `select`, ascending by the string primary key `id`.
async fn page_by_id<E: EntityTrait>(
    db: &DatabaseConnection,
    select: Select<E>,
    id: E::Column,
    window: &Window<String>,
) -> Result<Page<E::Model>, DbErr> {
    let rows = by_id_window(select, id, window).all(db).await?;
    Ok(Page::from_probe(rows, window))
}

/// `select` narrowed to `window`, ascending by the string primary key `id`.
fn by_id_window<E: EntityTrait>(
    select: Select<E>,
    id: E::Column,
    window: &Window<String>,
) -> Select<E> {
    by_id_order(select, id, window).limit(window.size + 1)
}

fn by_id_order<E: EntityTrait>(
    select: Select<E>,
    id: E::Column,
    window: &Window<String>,
) -> Select<E> {
    let mut select = select;
    if let Some(after) = &window.after {
        select = select.filter(id.gt(after.clone()));
    }
    if let Some(before) = &window.before {
        select = select.filter(id.lt(before.clone()));
    }
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    select.order_by(id, order)
}

pub async fn customers(
    db: &DatabaseConnection,
    filter: &CustomerFilter,
    window: &Window<String>,
) -> Result<Page<customer::Model>, DbErr> {
    let select = customer::Entity::find().filter(filter.condition());
    page_by_id(db, select, customer::Column::Id, window).await
}

pub async fn count_customers(
    db: &DatabaseConnection,
    filter: &CustomerFilter,
) -> Result<u64, DbErr> {
    customer::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await
}

pub async fn vouchers(
    db: &DatabaseConnection,
    filter: &VoucherFilter,
    window: &Window<String>,
) -> Result<Page<voucher::Model>, DbErr> {
    let select = voucher::Entity::find().filter(filter.condition());
    page_by_id(db, select, voucher::Column::Id, window).await
}

/// The select of a page of vouchers by id without its `LIMIT` (of `window.size + 1`), for
/// `narrow`, which writes it into the text.
pub(super) fn voucher_order(
    filter: &VoucherFilter,
    window: &Window<String>,
) -> Select<voucher::Entity> {
    let select = voucher::Entity::find().filter(filter.condition());
    by_id_order(select, voucher::Column::Id, window)
}

/// The same page with each voucher's campaign, read in the same statement.
pub async fn vouchers_with_campaigns(
    db: &DatabaseConnection,
    filter: &VoucherFilter,
    window: &Window<String>,
) -> Result<Page<(voucher::Model, Option<campaign::Model>)>, DbErr> {
    let select = voucher::Entity::find().filter(filter.condition());
    let rows = by_id_window(select, voucher::Column::Id, window)
        .find_also_related(campaign::Entity)
        .all(db)
        .await?;
    Ok(Page::from_probe(rows, window))
}

pub async fn count_vouchers(db: &DatabaseConnection, filter: &VoucherFilter) -> Result<u64, DbErr> {
    voucher::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await
}

pub async fn campaigns(
    db: &DatabaseConnection,
    filter: &CampaignFilter,
    window: &Window<String>,
) -> Result<Page<campaign::Model>, DbErr> {
    let select = campaign::Entity::find().filter(filter.condition());
    page_by_id(db, select, campaign::Column::Id, window).await
}

pub async fn count_campaigns(
    db: &DatabaseConnection,
    filter: &CampaignFilter,
) -> Result<u64, DbErr> {
    campaign::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await
}

/// The customer with this id, or else the one with this source id (a live one first).
/// Deleted customers are found too.
pub async fn customer(
    db: &DatabaseConnection,
    id: Option<String>,
    source_id: Option<String>,
) -> Result<Option<customer::Model>, DbErr> {
    match (id, source_id) {
        (Some(id), _) => customer::Entity::find_by_id(id).one(db).await,
        (None, Some(source)) => {
            let select = customer::Entity::find().filter(customer::Column::SourceId.eq(source));
            let select = live_first(select, customer::Column::DeletedAt, customer::Column::Id);
            select.one(db).await
        }
        (None, None) => Ok(None),
    }
}

/// The voucher with this id, or else the one with this code (a live one first). Deleted
/// vouchers are found too. A code key (`v_code:…`) whose row was merged into the voucher with
/// its id names the voucher with that code.
pub async fn voucher(
    db: &DatabaseConnection,
    id: Option<String>,
    code: Option<String>,
) -> Result<Option<voucher::Model>, DbErr> {
    match (id, code) {
        (Some(id), _) => {
            let found = voucher::Entity::find_by_id(id.clone()).one(db).await?;
            match (found, code_of_key(&id)) {
                (None, Some(code)) => Box::pin(voucher(db, None, Some(code.to_owned()))).await,
                (found, _) => Ok(found),
            }
        }
        (None, Some(code)) => {
            let select = voucher::Entity::find().filter(voucher::Column::Code.eq(code));
            let select = live_first(select, voucher::Column::DeletedAt, voucher::Column::Id);
            select.one(db).await
        }
        (None, None) => Ok(None),
    }
}

/// The campaign with this id, or else the one with this name (a live one first). Deleted
/// campaigns are found too.
pub async fn campaign(
    db: &DatabaseConnection,
    id: Option<String>,
    name: Option<String>,
) -> Result<Option<campaign::Model>, DbErr> {
    match (id, name) {
        (Some(id), _) => campaign::Entity::find_by_id(id).one(db).await,
        (None, Some(name)) => {
            let select = campaign::Entity::find().filter(campaign::Column::Name.eq(name));
            let select = live_first(select, campaign::Column::DeletedAt, campaign::Column::Id);
            select.one(db).await
        }
        (None, None) => Ok(None),
    }
}

/// The category with this id.
pub async fn category(db: &DatabaseConnection, id: &str) -> Result<Option<category::Model>, DbErr> {
    category::Entity::find_by_id(id.to_owned()).one(db).await
}

//! Narrow pages: the rows of a publication or voucher page with only the columns an answer
//! asks for (and the keys and references every page needs), joined with what they refer to in
//! the same statement and read by position.
//!
//! Why: decoding a joined page into whole models through sea-orm reads every column by name
//! (a name built and searched for per column per row) and parses every JSON column, used or
//! not; for a 50-row page with its customers, vouchers and campaigns that was half of the
//! CPU of a request written directly (BENCHMARKS.md).
//!
//! The columns not read hold placeholders (empty, zero, null, none), and JSON columns other
//! than a voucher's value are never read. Only `graphql::direct` reads these rows, and it asks
//! for the columns of the fields it writes; its differential test would see one it forgot.

use super::directory::{self, VoucherFilter};
use super::publications::{self, Joined, PublicationFilter, Sort};
use super::queries::{Page, Window};
use crate::domain::cursor::PublicationKey;
use entity::{campaign, customer, publication, voucher};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, QueryFilter,
    QueryResult, QuerySelect, QueryTrait, Related, Select, Statement, TryGetable,
};
use std::collections::HashMap;

/// The columns a page is asked for, per table; `None`: that table is not joined. The keys and
/// references every page needs are read whether listed or not.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub publication: Vec<publication::Column>,
    pub customer: Option<Vec<customer::Column>>,
    pub voucher: Option<Vec<voucher::Column>>,
    pub campaign: Option<Vec<campaign::Column>>,
}

/// A page of publications under `sort`, with the columns `columns` asks for, in one statement.
pub async fn publications(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    sort: Sort,
    window: &Window<PublicationKey>,
    columns: &Columns,
) -> Result<Page<Joined>, DbErr> {
    let select = publications::page_order(filter, sort, window);
    let rows = joined(db, select, columns, Some(window.size + 1)).await?;
    Ok(Page::from_probe(rows, window))
}

/// One publication by id, with the columns `columns` asks for, in one statement.
pub async fn publication(
    db: &DatabaseConnection,
    id: String,
    columns: &Columns,
) -> Result<Option<Joined>, DbErr> {
    let rows = joined(db, publication::Entity::find_by_id(id), columns, None).await?;
    Ok(rows.into_iter().next())
}

/// The publications `select` selects (at most `limit`), with the columns `columns` asks for.
async fn joined(
    db: &DatabaseConnection,
    select: Select<publication::Entity>,
    columns: &Columns,
    limit: Option<u64>,
) -> Result<Vec<Joined>, DbErr> {
    let own = with_keys::<publication::Entity>(&columns.publication);
    let customer = columns
        .customer
        .as_deref()
        .map(with_keys::<customer::Entity>);
    let voucher = columns.voucher.as_deref().map(with_keys::<voucher::Entity>);
    let campaign = columns
        .campaign
        .as_deref()
        .map(with_keys::<campaign::Entity>);
    let select = select_columns(select.select_only(), &own);
    let select = join(select, relation::<customer::Entity>(), customer.as_deref());
    let select = join(select, relation::<voucher::Entity>(), voucher.as_deref());
    let select = join(select, relation::<campaign::Entity>(), campaign.as_deref());
    let rows = db.query_all_raw(with_limit(db, select, limit)).await?;
    rows.iter()
        .map(|row| {
            let mut at = At { row, i: 0 };
            Ok((
                read::<publication::Entity>(&mut at, &own)?,
                optional::<customer::Entity>(&mut at, customer.as_deref())?,
                optional::<voucher::Entity>(&mut at, voucher.as_deref())?,
                optional::<campaign::Entity>(&mut at, campaign.as_deref())?,
            ))
        })
        .collect()
}

/// A page of vouchers by id with the columns `voucher` asks for, and each one's campaign when
/// `campaign` lists its columns, in one statement.
pub async fn vouchers(
    db: &DatabaseConnection,
    filter: &VoucherFilter,
    window: &Window<String>,
    voucher: &[voucher::Column],
    campaign: Option<&[campaign::Column]>,
) -> Result<Page<(voucher::Model, Option<campaign::Model>)>, DbErr> {
    let own = with_keys::<voucher::Entity>(voucher);
    let campaign = campaign.map(with_keys::<campaign::Entity>);
    let select = select_columns(directory::voucher_order(filter, window).select_only(), &own);
    let to = <voucher::Entity as Related<campaign::Entity>>::to();
    let select = join(select, to, campaign.as_deref());
    let rows = db
        .query_all_raw(with_limit(db, select, Some(window.size + 1)))
        .await?;
    let rows = rows
        .iter()
        .map(|row| {
            let mut at = At { row, i: 0 };
            Ok((
                read::<voucher::Entity>(&mut at, &own)?,
                optional::<campaign::Entity>(&mut at, campaign.as_deref())?,
            ))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok(Page::from_probe(rows, window))
}

/// The campaigns with these ids, with the columns `columns` asks for, in one statement (none
/// asked, no statement).
pub async fn campaigns(
    db: &DatabaseConnection,
    ids: &[String],
    columns: &[campaign::Column],
) -> Result<HashMap<String, campaign::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let own = with_keys::<campaign::Entity>(columns);
    let select = select_columns(campaign::Entity::find().select_only(), &own)
        .filter(campaign::Column::Id.is_in(ids.iter().cloned()));
    let rows = db.query_all_raw(with_limit(db, select, None)).await?;
    rows.iter()
        .map(|row| {
            let model = read::<campaign::Entity>(&mut At { row, i: 0 }, &own)?;
            Ok((model.id.clone(), model))
        })
        .collect()
}

/// The statement of `select`, its `LIMIT` written as a number rather than bound. With the
/// limit bound, PostgreSQL cannot tell how many rows a prepared statement's plan will read, so
/// it plans a page's joins again on every execution: measured, that doubled its CPU for a
/// 50-row page (BENCHMARKS.md). A page size is one of few values, so each keeps its plan.
fn with_limit<S: QueryTrait>(db: &DatabaseConnection, select: S, limit: Option<u64>) -> Statement {
    let mut statement = select.build(db.get_database_backend());
    if let Some(limit) = limit {
        // A number of our own making, after the last clause of a SELECT without locking.
        statement.sql.push_str(&format!(" LIMIT {limit}"));
    }
    statement
}

fn relation<E: EntityTrait>() -> sea_orm::RelationDef
where
    publication::Entity: Related<E>,
{
    <publication::Entity as Related<E>>::to()
}

/// `select` with a table left-joined through `to` and its `columns`; unchanged without them.
fn join<S: QuerySelect, C: sea_orm::ColumnTrait>(
    select: S,
    to: sea_orm::RelationDef,
    columns: Option<&[C]>,
) -> S {
    match columns {
        Some(columns) => select_columns(select.join(JoinType::LeftJoin, to), columns),
        None => select,
    }
}

/// `E`'s keys (its id first), then the columns asked for, each once.
fn with_keys<E: Narrow>(asked: &[E::Column]) -> Vec<E::Column> {
    let mut columns: Vec<E::Column> = E::KEYS.to_vec();
    for c in asked {
        let same = |k: &E::Column| std::mem::discriminant(k) == std::mem::discriminant(c);
        if !columns.iter().any(same) {
            columns.push(*c);
        }
    }
    columns
}

fn select_columns<C: sea_orm::ColumnTrait, S: QuerySelect>(select: S, columns: &[C]) -> S {
    columns.iter().fold(select, |s, c| s.column(*c))
}

/// A row, read column after column.
struct At<'a> {
    row: &'a QueryResult,
    i: usize,
}

impl At<'_> {
    fn next<T: TryGetable>(&mut self) -> Result<T, DbErr> {
        let value = self.row.try_get_by_index(self.i);
        self.i += 1;
        value
    }
}

fn read<E: Narrow>(at: &mut At<'_>, columns: &[E::Column]) -> Result<E::Model, DbErr> {
    let mut model = E::blank();
    for column in columns {
        E::set(&mut model, *column, at)?;
    }
    Ok(model)
}

/// A joined row's columns: none when it was not joined, or the join found nothing.
fn optional<E: Narrow>(
    at: &mut At<'_>,
    columns: Option<&[E::Column]>,
) -> Result<Option<E::Model>, DbErr> {
    let Some(columns) = columns else {
        return Ok(None);
    };
    let id: Option<String> = at.row.try_get_by_index(at.i)?;
    if id.is_none() {
        at.i += columns.len();
        return Ok(None);
    }
    read::<E>(at, columns).map(Some)
}

/// A table read narrowly: the keys every page reads (its id first), a model with
/// placeholders, and how a column read fills its field.
trait Narrow: EntityTrait {
    const KEYS: &'static [Self::Column];
    fn blank() -> Self::Model;
    /// Reads `column`'s value at `at` into `model`.
    fn set(model: &mut Self::Model, column: Self::Column, at: &mut At<'_>) -> Result<(), DbErr>;
}

/// Matches each column to its field: `$field` is read for `$column`; any other column (JSON
/// columns this module never reads) is refused.
macro_rules! narrow {
    ($entity:ident, keys: [$($key:ident),*], blank: $blank:expr, fields: {$($column:ident => $field:ident),* $(,)?}) => {
        impl Narrow for $entity::Entity {
            const KEYS: &'static [$entity::Column] = &[$($entity::Column::$key),*];

            fn blank() -> $entity::Model {
                $blank
            }

            fn set(
                model: &mut $entity::Model,
                column: $entity::Column,
                at: &mut At<'_>,
            ) -> Result<(), DbErr> {
                match column {
                    $($entity::Column::$column => model.$field = at.next()?,)*
                    #[allow(unreachable_patterns)]
                    other => {
                        return Err(DbErr::Custom(format!(
                            "{other:?} of {} is not read narrowly",
                            stringify!($entity)
                        )))
                    }
                }
                Ok(())
            }
        }
    };
}

narrow!(publication,
    keys: [Id, Seq, CreatedAt, ReceivedAt, CustomerId, VoucherId, CampaignId],
    blank: publication::Model {
        id: String::new(),
        seq: 0,
        result: String::new(),
        channel: None,
        source_id: None,
        tracking_id: None,
        metadata: serde_json::Value::Null,
        created_at: chrono::DateTime::UNIX_EPOCH,
        received_at: chrono::DateTime::UNIX_EPOCH,
        customer_id: String::new(),
        voucher_id: String::new(),
        campaign_id: None,
        voucher_types: String::new(),
    },
    fields: {
        Id => id, Seq => seq, Result => result, Channel => channel, SourceId => source_id,
        TrackingId => tracking_id, CreatedAt => created_at, ReceivedAt => received_at,
        CustomerId => customer_id, VoucherId => voucher_id, CampaignId => campaign_id,
    }
);

narrow!(customer,
    keys: [Id],
    blank: customer::Model {
        id: String::new(),
        source_id: None,
        name: None,
        email: None,
        metadata: serde_json::Value::Null,
        address: None,
        created_at: None,
        updated_at: None,
        facts_at: 0,
        event_id: 0,
        deleted_at: None,
    },
    fields: {
        Id => id, SourceId => source_id, Name => name, Email => email, CreatedAt => created_at,
        UpdatedAt => updated_at, DeletedAt => deleted_at,
    }
);

narrow!(voucher,
    keys: [Id, CampaignId],
    blank: voucher::Model {
        id: String::new(),
        code: String::new(),
        voucher_type: String::new(),
        active: None,
        campaign_id: None,
        holder_id: None,
        discount: None,
        gift: None,
        loyalty_card: None,
        metadata: serde_json::Value::Null,
        assets: None,
        validity_timeframe: None,
        validity_day_of_week: None,
        validity_hours: None,
        additional_info: None,
        publish_count: None,
        redemption_quantity: None,
        redemption_redeemed_quantity: None,
        start_date: None,
        expiration_date: None,
        created_at: None,
        updated_at: None,
        facts_at: 0,
        event_id: 0,
        deleted_at: None,
    },
    fields: {
        Id => id, Code => code, VoucherType => voucher_type, Active => active,
        CampaignId => campaign_id, HolderId => holder_id, Discount => discount, Gift => gift,
        LoyaltyCard => loyalty_card, AdditionalInfo => additional_info,
        PublishCount => publish_count, StartDate => start_date,
        ExpirationDate => expiration_date, CreatedAt => created_at, UpdatedAt => updated_at,
        DeletedAt => deleted_at,
    }
);

narrow!(campaign,
    keys: [Id],
    blank: campaign::Model {
        id: String::new(),
        name: String::new(),
        campaign_type: None,
        kind: None,
        description: None,
        active: None,
        is_referral_code: None,
        voucher_type: None,
        metadata: serde_json::Value::Null,
        auto_join: None,
        join_once: None,
        voucher_template: None,
        start_date: None,
        expiration_date: None,
        created_at: None,
        updated_at: None,
        facts_at: 0,
        event_id: 0,
        deleted_at: None,
    },
    fields: {
        Id => id, Name => name, CampaignType => campaign_type, Kind => kind,
        Description => description, Active => active, IsReferralCode => is_referral_code,
        AutoJoin => auto_join, JoinOnce => join_once,
    }
);

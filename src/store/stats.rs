//! Exact assignment counts from `assignment_counts` (whole minutes) and `publications` (the
//! partial minutes at a range's edges): the analytics series and the `totalCount` of
//! publications filtered only by campaign, voucher type, channel and creation time. The number
//! of statements does not grow with the number of publications.

use super::publications::PublicationFilter;
pub use super::write::counts::minute_of as minute;
use super::write::counts::minute_of;
use chrono::{DateTime, Duration, Utc};
use entity::{assignment_count, publication, publication_voucher, voucher};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, Query, QueryStatementBuilder, SelectStatement,
};
use sea_orm::{Condition, ConnectionTrait, DatabaseConnection, DbErr};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What groups a series (`StatsDimension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    VoucherType,
    Campaign,
    Channel,
}

/// The counts' own filter: the dimensions they are kept by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dims {
    pub voucher_type: Option<String>,
    pub campaign_id: Option<String>,
    pub channel: Option<String>,
}

/// One group's key: the values of the grouped dimensions (the others `None`).
pub type GroupKey = (Option<String>, Option<String>, Option<String>);

/// Counts per bucket (bucket index → count, only non-zero ones), in all and per group.
#[derive(Debug, Default)]
pub struct Series {
    pub total: BTreeMap<i64, i64>,
    pub groups: BTreeMap<GroupKey, BTreeMap<i64, i64>>,
}

/// Counts in `[from, to)` (both from 1970 on) in buckets of `bucket_minutes` (UTC-aligned:
/// bucket `b` starts at minute `b × bucket_minutes`), per group of `group_by`.
pub async fn series(
    db: &DatabaseConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_minutes: i64,
    group_by: &BTreeSet<Dimension>,
    dims: &Dims,
) -> Result<Series, DbErr> {
    let (first, end) = whole_minutes(Some((from, false)), Some(to));
    let by_type = group_by.contains(&Dimension::VoucherType);
    let mut series = Series::default();
    let key = |kind: &str, campaign: &str, channel: &str| -> GroupKey {
        let some =
            |d: Dimension, v: &str| (group_by.contains(&d) && !v.is_empty()).then(|| v.to_owned());
        (
            some(Dimension::VoucherType, kind),
            some(Dimension::Campaign, campaign),
            some(Dimension::Channel, channel),
        )
    };
    // Whole minutes.
    if first < end {
        use assignment_count::Column as A;
        // The width is inlined (it is one of three constants), so that PostgreSQL sees the
        // selected and the grouped expression as the same one.
        let bucket = Expr::cust(format!("\"minute\" / {bucket_minutes}"));
        let mut read = Query::select();
        read.expr(bucket.clone())
            .column(A::VoucherType)
            .column(A::CampaignId)
            .column(A::Channel)
            .expr(Func::cast_as(
                Func::sum(Expr::col(A::Count)),
                Alias::new("BIGINT"),
            ))
            .from(assignment_count::Entity)
            .and_where(Expr::col(A::Minute).gte(first))
            .and_where(Expr::col(A::Minute).lt(end))
            .add_group_by([
                bucket,
                Expr::col(A::VoucherType),
                Expr::col(A::CampaignId),
                Expr::col(A::Channel),
            ]);
        match (&dims.voucher_type, by_type) {
            (Some(kind), _) => read.and_where(Expr::col(A::VoucherType).eq(kind.as_str())),
            (None, false) => read.and_where(Expr::col(A::VoucherType).eq("")),
            (None, true) => &mut read,
        };
        if let Some(campaign) = &dims.campaign_id {
            read.and_where(Expr::col(A::CampaignId).eq(campaign.as_str()));
        }
        if let Some(channel) = &dims.channel {
            read.and_where(Expr::col(A::Channel).eq(channel.as_str()));
        }
        for row in db.query_all(&read).await? {
            let (b, kind, campaign, channel, count): (i64, String, String, String, i64) = (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
            );
            // With a type filter every row read is that type's; grouped by type without one,
            // the "every type" rows make the series and the typed rows the groups.
            let in_total = dims.voucher_type.is_some() || kind.is_empty();
            let in_group =
                !group_by.is_empty() && (dims.voucher_type.is_some() || by_type != kind.is_empty());
            if in_total {
                *series.total.entry(b).or_default() += count;
            }
            if in_group {
                let group = series
                    .groups
                    .entry(key(&kind, &campaign, &channel))
                    .or_default();
                *group.entry(b).or_default() += count;
            }
        }
    }
    // The partial minutes at the edges, from the publications themselves.
    for (created_at, campaign, channel, types) in edges(db, from, to, first, end, dims).await? {
        let b = minute_of(created_at).div_euclid(bucket_minutes);
        *series.total.entry(b).or_default() += 1;
        if group_by.is_empty() {
            continue;
        }
        let kinds: Vec<&str> = match (&dims.voucher_type, by_type) {
            (Some(kind), _) => vec![kind.as_str()],
            (None, true) => types.iter().map(String::as_str).collect(),
            (None, false) => vec![""],
        };
        for kind in kinds {
            let group = series
                .groups
                .entry(key(kind, &campaign, &channel))
                .or_default();
            *group.entry(b).or_default() += 1;
        }
    }
    Ok(series)
}

/// The whole minutes `[first, end)` inside a range from `lower` (its instant, and whether it is
/// excluded) to `upper` (excluded); either side may be open.
fn whole_minutes(lower: Option<(DateTime<Utc>, bool)>, upper: Option<DateTime<Utc>>) -> (i64, i64) {
    let first = match lower {
        None => i64::MIN,
        Some((at, excluded)) => {
            let minute = minute_of(at);
            let on_boundary =
                at.timestamp().rem_euclid(60) == 0 && at.timestamp_subsec_nanos() == 0;
            match on_boundary && !excluded {
                true => minute,
                false => minute + 1,
            }
        }
    };
    let end = upper.map_or(i64::MAX, minute_of);
    (first, end)
}

fn minute_start(minute: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::minutes(minute)
}

/// The publications matching `dims` in `[from, to)` outside the whole minutes `[first, end)`,
/// with the distinct types of their vouchers.
async fn edges(
    db: &DatabaseConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    first: i64,
    end: i64,
    dims: &Dims,
) -> Result<Vec<(DateTime<Utc>, String, String, BTreeSet<String>)>, DbErr> {
    use publication::Column as P;
    let created = || Expr::col((publication::Entity, P::CreatedAt));
    let window = match first < end {
        true => created()
            .gte(from)
            .and(created().lt(minute_start(first)))
            .or(created().gte(minute_start(end)).and(created().lt(to))),
        false => created().gte(from).and(created().lt(to)),
    };
    let filter = PublicationFilter {
        voucher_type: dims.voucher_type.clone(),
        campaign_id: dims.campaign_id.clone(),
        channel: dims.channel.clone(),
        ..PublicationFilter::default()
    };
    let read = Query::select()
        .column((publication::Entity, P::Id))
        .column((publication::Entity, P::CreatedAt))
        .column((publication::Entity, P::CampaignId))
        .column((publication::Entity, P::Channel))
        .column((voucher::Entity, voucher::Column::VoucherType))
        .from(publication::Entity)
        .left_join(
            publication_voucher::Entity,
            Expr::col((
                publication_voucher::Entity,
                publication_voucher::Column::PublicationId,
            ))
            .equals((publication::Entity, P::Id)),
        )
        .left_join(
            voucher::Entity,
            Expr::col((voucher::Entity, voucher::Column::Id)).equals((
                publication_voucher::Entity,
                publication_voucher::Column::VoucherId,
            )),
        )
        .cond_where(filter.condition())
        .and_where(window)
        .to_owned();
    type Edge = (DateTime<Utc>, String, String, BTreeSet<String>);
    let mut by_id: HashMap<String, Edge> = HashMap::new();
    for row in db.query_all(&read).await? {
        let id: String = row.try_get_by_index(0)?;
        let kind: Option<String> = row.try_get_by_index(4)?;
        if !by_id.contains_key(&id) {
            let campaign: Option<String> = row.try_get_by_index(2)?;
            let channel: Option<String> = row.try_get_by_index(3)?;
            let edge = (
                row.try_get_by_index(1)?,
                campaign.unwrap_or_default(),
                channel.unwrap_or_default(),
                BTreeSet::new(),
            );
            by_id.insert(id.clone(), edge);
        }
        if let (Some(edge), Some(kind)) = (by_id.get_mut(&id), kind) {
            edge.3.insert(kind);
        }
    }
    Ok(by_id.into_values().collect())
}

/// The dimensions of `filter` when it is made only of what the counts are kept by (campaign,
/// voucher type, channel, creation time), for `count`.
pub fn countable(filter: &PublicationFilter) -> Option<Dims> {
    let PublicationFilter {
        customer_id: None,
        customer_source_id: None,
        campaign_id,
        campaign_name: None,
        voucher_code: None,
        voucher_type,
        voucher_id: None,
        channel,
        created_after: _,
        created_before: _,
    } = filter
    else {
        return None;
    };
    Some(Dims {
        voucher_type: voucher_type.clone(),
        campaign_id: campaign_id.clone(),
        channel: channel.clone(),
    })
}

/// How many publications match `filter`, whose dimensions are `dims` (see `countable`): whole
/// minutes from the counts and the edges from the publications, in one statement.
pub async fn count(
    db: &DatabaseConnection,
    filter: &PublicationFilter,
    dims: &Dims,
) -> Result<u64, DbErr> {
    use assignment_count::Column as A;
    let (first, end) = whole_minutes(
        filter.created_after.map(|t| (t, true)),
        filter.created_before,
    );
    let mut minutes = Query::select();
    minutes
        .expr(Func::coalesce([
            Func::sum(Expr::col(A::Count)).into(),
            Expr::val(0i64),
        ]))
        .from(assignment_count::Entity)
        .and_where(Expr::col(A::VoucherType).eq(dims.voucher_type.clone().unwrap_or_default()));
    if first != i64::MIN {
        minutes.and_where(Expr::col(A::Minute).gte(first));
    }
    if end != i64::MAX {
        minutes.and_where(Expr::col(A::Minute).lt(end));
    }
    if let Some(campaign) = &dims.campaign_id {
        minutes.and_where(Expr::col(A::CampaignId).eq(campaign.as_str()));
    }
    if let Some(channel) = &dims.channel {
        minutes.and_where(Expr::col(A::Channel).eq(channel.as_str()));
    }
    // The edges: after `created_after` up to the first whole minute, and from the end of the
    // last whole minute up to `created_before` (with no whole minute in the range, the
    // publications are counted directly over the range).
    let created = || Expr::col((publication::Entity, publication::Column::CreatedAt));
    let mut edges = Query::select();
    edges
        .expr(Func::count(Expr::col(Asterisk)))
        .from(publication::Entity)
        .cond_where(filter.condition());
    if first >= end {
        return single(db, edges).await;
    }
    let mut outside = Condition::any();
    if first != i64::MIN {
        outside = outside.add(created().lt(minute_start(first)));
    }
    if end != i64::MAX {
        outside = outside.add(created().gte(minute_start(end)));
    }
    let sum = Func::cast_as(
        Expr::SubQuery(None, Box::new(minutes.into_sub_query_statement())),
        Alias::new("BIGINT"),
    );
    let mut both = Query::select();
    both.expr(sum);
    let with_edges = !outside.is_empty();
    if with_edges {
        edges.cond_where(outside);
        both.expr(Expr::SubQuery(
            None,
            Box::new(edges.into_sub_query_statement()),
        ));
    }
    let mut total = 0i64;
    if let Some(row) = db.query_one(&both).await? {
        total += row.try_get_by_index::<i64>(0)?;
        if with_edges {
            total += row.try_get_by_index::<i64>(1)?;
        }
    }
    Ok(u64::try_from(total).unwrap_or(0))
}

async fn single(db: &DatabaseConnection, read: SelectStatement) -> Result<u64, DbErr> {
    let n: i64 = match db.query_one(&read).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

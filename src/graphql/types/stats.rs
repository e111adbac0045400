//! `assignmentStats`: exact assignment counts over a time range, per UTC-aligned bucket and
//! per group (API.md, "Analytics").

use super::{Campaign, VoucherType};
use crate::error::{ApiError, ApiResult};
use crate::graphql::loaders::Lookup;
use crate::graphql::scalars::DateTime;
use crate::graphql::{analytics_db, db};
use crate::store::stats::{self, Dimension, Dims, GroupKey};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::Duration;
use sea_orm::DatabaseConnection;
use std::collections::{BTreeMap, BTreeSet};

/// Most buckets one answer may hold, over the series and every group.
pub const MAX_BUCKETS: i64 = 100_000;

/// The width of a bucket; buckets are aligned to UTC (hours on the hour, days at midnight).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum StatsBucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
}

impl StatsBucket {
    fn minutes(self) -> i64 {
        match self {
            StatsBucket::Minute => 1,
            StatsBucket::Hour => 60,
            StatsBucket::Day => 1440,
        }
    }
}

/// What the counts can be grouped by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum StatsDimension {
    /// The type of the assigned vouchers (an assignment of several types counts in each).
    VoucherType,
    /// The campaign of the assigned voucher.
    Campaign,
    /// The channel of the assignment.
    Channel,
}

/// Narrows the counts; every field given must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct StatsFilter {
    /// Only assignments that include a voucher of this type.
    pub voucher_type: Option<VoucherType>,
    /// Only vouchers of this campaign (`camp_…`).
    pub campaign_id: Option<ID>,
    /// Only assignments published through this channel.
    pub channel: Option<String>,
}

/// A bucket's count; `start` is the bucket's UTC start (the first bucket may start before
/// `from` but counts only from it).
#[derive(SimpleObject, Debug)]
pub struct StatsBucketCount {
    /// Where the bucket starts (UTC).
    pub start: DateTime,
    /// Assignments made in the bucket, within the range.
    pub count: i64,
}

/// Exact assignment counts over a range.
#[derive(SimpleObject)]
pub struct AssignmentStats {
    /// Assignments made in the range.
    pub total: i64,
    /// Every bucket of the range, oldest first, zeros included.
    pub buckets: Vec<StatsBucketCount>,
    /// One entry per combination of the `groupBy` dimensions that has assignments in the range.
    pub groups: Vec<StatsGroup>,
}

/// One combination of the `groupBy` dimensions (the others are null), with its own total and
/// buckets.
pub struct StatsGroup {
    voucher_type: Option<String>,
    campaign_id: Option<String>,
    channel: Option<String>,
    total: i64,
    buckets: Vec<StatsBucketCount>,
}

/// One combination of the `groupBy` dimensions (the others are null), with its own total and
/// buckets.
#[Object]
impl StatsGroup {
    /// The voucher type, when grouped by it.
    async fn voucher_type(&self) -> Option<VoucherType> {
        self.voucher_type.as_deref().map(VoucherType::parse)
    }
    /// The campaign, when grouped by it (null for assignments of no campaign).
    async fn campaign(&self, ctx: &Context<'_>) -> ApiResult<Option<Campaign>> {
        let Some(id) = &self.campaign_id else {
            return Ok(None);
        };
        Ok(Lookup::default()
            .campaign(ctx, id)
            .await?
            .map(Campaign::from))
    }
    /// The channel, when grouped by it.
    async fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }
    /// This group's assignments in the range.
    async fn total(&self) -> i64 {
        self.total
    }
    /// This group's buckets, oldest first, zeros included.
    async fn buckets(&self) -> &[StatsBucketCount] {
        &self.buckets
    }
}

/// What `assignmentStats` was asked.
#[derive(Debug, Clone)]
pub struct StatsArgs {
    pub from: DateTime,
    pub to: DateTime,
    pub bucket: StatsBucket,
    pub group_by: Vec<StatsDimension>,
    pub filter: Option<StatsFilter>,
}

/// The counts of one `assignmentStats`, before they are laid out as buckets: buckets `first..=last`
/// of `width` minutes (bucket `b` starts at minute `b × width`), their non-zero counts in all
/// and per group (groups with assignments only, in key order).
pub struct Counted {
    pub total: i64,
    pub first: i64,
    pub last: i64,
    pub width: i64,
    pub series: BTreeMap<i64, i64>,
    pub groups: Vec<(GroupKey, i64, BTreeMap<i64, i64>)>,
}

impl Counted {
    /// Where bucket `b` starts.
    pub fn start(&self, b: i64) -> DateTime {
        DateTime(chrono::DateTime::UNIX_EPOCH + Duration::minutes(b * self.width))
    }

    /// Every bucket of the range with its count from `counts`, zeros included.
    pub fn dense<'a>(
        &'a self,
        counts: &'a BTreeMap<i64, i64>,
    ) -> impl Iterator<Item = (i64, i64)> + 'a {
        (self.first..=self.last).map(|b| (b, counts.get(&b).copied().unwrap_or(0)))
    }
}

/// Counts assignments in `[from, to)`: the arguments checked (`BAD_USER_INPUT` saying what is
/// allowed), then one read of the counts (`store::stats::series`).
pub async fn count(
    db: &DatabaseConnection,
    analytics: &DatabaseConnection,
    args: StatsArgs,
) -> ApiResult<Counted> {
    let StatsArgs {
        from,
        to,
        bucket,
        group_by,
        filter,
    } = args;
    let (from, to) = (from.0, to.0);
    if from >= to {
        return Err(ApiError::bad_input(
            "`from` must be before `to` (the range is [from, to))",
        ));
    }
    if from < chrono::DateTime::UNIX_EPOCH {
        return Err(ApiError::bad_input(
            "`from` must be 1970-01-01T00:00:00Z or later",
        ));
    }
    let width = bucket.minutes();
    let first = stats::minute_of(from).div_euclid(width);
    let last = stats::minute_of(to - Duration::nanoseconds(1)).div_euclid(width);
    let count = last - first + 1;
    if count > MAX_BUCKETS {
        return Err(too_many(count, bucket));
    }
    let group_by: BTreeSet<Dimension> = group_by
        .into_iter()
        .map(|d| match d {
            StatsDimension::VoucherType => Dimension::VoucherType,
            StatsDimension::Campaign => Dimension::Campaign,
            StatsDimension::Channel => Dimension::Channel,
        })
        .collect();
    let filter = filter.unwrap_or_default();
    let dims = Dims {
        voucher_type: filter.voucher_type.map(|t| t.as_str().to_owned()),
        campaign_id: filter.campaign_id.map(|id| id.0),
        channel: filter.channel,
    };
    let series = stats::series(db, analytics, from, to, width, &group_by, &dims).await?;
    let groups: Vec<_> = series
        .groups
        .into_iter()
        .map(|(key, counts)| (key, counts.values().sum::<i64>(), counts))
        .filter(|(_, total, _)| *total > 0)
        .collect();
    let total_buckets = count * (1 + groups.len() as i64);
    if total_buckets > MAX_BUCKETS {
        return Err(too_many(total_buckets, bucket));
    }
    Ok(Counted {
        total: series.total.values().sum(),
        first,
        last,
        width,
        series: series.total,
        groups,
    })
}

/// Counts assignments in `[from, to)`, as the resolvers answer them.
pub async fn assignment_stats(ctx: &Context<'_>, args: StatsArgs) -> ApiResult<AssignmentStats> {
    let counted = count(db(ctx), analytics_db(ctx), args).await?;
    let dense = |counts: &BTreeMap<i64, i64>| -> Vec<StatsBucketCount> {
        counted
            .dense(counts)
            .map(|(b, count)| StatsBucketCount {
                start: counted.start(b),
                count,
            })
            .collect()
    };
    let groups = counted
        .groups
        .iter()
        .map(
            |((voucher_type, campaign_id, channel), total, counts)| StatsGroup {
                voucher_type: voucher_type.clone(),
                campaign_id: campaign_id.clone(),
                channel: channel.clone(),
                total: *total,
                buckets: dense(counts),
            },
        )
        .collect();
    Ok(AssignmentStats {
        total: counted.total,
        buckets: dense(&counted.series),
        groups,
    })
}

fn too_many(count: i64, bucket: StatsBucket) -> ApiError {
    ApiError::bad_input(format!(
        "the answer would hold {count} buckets ({bucket:?} buckets over the range, for the \
         series and each group); at most {MAX_BUCKETS} are allowed: narrow the range, use a \
         wider bucket or group by fewer dimensions"
    ))
}

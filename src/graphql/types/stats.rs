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
#[derive(InputObject, Default, Debug)]
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

/// Counts assignments in `[from, to)`.
pub async fn assignment_stats(
    ctx: &Context<'_>,
    from: DateTime,
    to: DateTime,
    bucket: StatsBucket,
    group_by: Vec<StatsDimension>,
    filter: Option<StatsFilter>,
) -> ApiResult<AssignmentStats> {
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
    let series = stats::series(
        db(ctx),
        analytics_db(ctx),
        from,
        to,
        width,
        &group_by,
        &dims,
    )
    .await?;
    let total_buckets = count * (1 + series.groups.len() as i64);
    if total_buckets > MAX_BUCKETS {
        return Err(too_many(total_buckets, bucket));
    }
    let dense = |counts: &BTreeMap<i64, i64>| -> Vec<StatsBucketCount> {
        (first..=last)
            .map(|b| StatsBucketCount {
                start: DateTime(chrono::DateTime::UNIX_EPOCH + Duration::minutes(b * width)),
                count: counts.get(&b).copied().unwrap_or(0),
            })
            .collect()
    };
    let groups = series
        .groups
        .iter()
        .map(
            |((voucher_type, campaign_id, channel), counts): (&GroupKey, _)| StatsGroup {
                voucher_type: voucher_type.clone(),
                campaign_id: campaign_id.clone(),
                channel: channel.clone(),
                total: counts.values().sum(),
                buckets: dense(counts),
            },
        )
        .filter(|g| g.total > 0)
        .collect();
    Ok(AssignmentStats {
        total: series.total.values().sum(),
        buckets: dense(&series.total),
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

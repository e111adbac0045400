//! Exact assignment counts from `assignment_totals` or `assignment_counts` (a range's whole days,
//! hours and minutes), `assignment_changes` (what batches appended and no fold has moved into
//! those yet, by minute) and `publications` (the partial minutes at its edges): the analytics
//! series and the `totalCount` of publications filtered only by campaign, voucher type, channel
//! and creation time. A count that groups or filters by at most one dimension reads the totals
//! (a row per span and value); one that combines dimensions reads every stored combination. All
//! of it is one statement, so it sees each change either still appended or already folded, never
//! both. The number of statements does not grow with the number of publications.

use super::publications::PublicationFilter;
use super::write::counts::{BY_CAMPAIGN, BY_CHANNEL, BY_TYPE};
pub use super::write::counts::{Change, WIDTHS, fold, minute_of, types_json};
use chrono::{DateTime, Duration, Utc};
use entity::{assignment_change, assignment_count, assignment_total, publication};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, Iden, Query, QueryStatementBuilder, SelectStatement,
    UnionType,
};
use sea_orm::{Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use std::collections::{BTreeMap, BTreeSet};

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

impl Dimension {
    /// Its name in `assignment_totals`.
    fn name(self) -> &'static str {
        match self {
            Dimension::VoucherType => BY_TYPE,
            Dimension::Campaign => BY_CAMPAIGN,
            Dimension::Channel => BY_CHANNEL,
        }
    }
}

/// The one dimension a count groups or filters by, and the value the filter fixes it to: what
/// `assignment_totals` can answer. No dimension at all is the voucher type's "every type" row;
/// two or more need `assignment_counts`.
fn single(group_by: &BTreeSet<Dimension>, dims: &Dims) -> Option<(Dimension, Option<String>)> {
    let fixed = [
        (Dimension::VoucherType, &dims.voucher_type),
        (Dimension::Campaign, &dims.campaign_id),
        (Dimension::Channel, &dims.channel),
    ];
    let mut involved: BTreeSet<Dimension> = group_by.clone();
    involved.extend(fixed.iter().filter(|(_, v)| v.is_some()).map(|(d, _)| *d));
    let mut involved = involved.into_iter();
    match (involved.next(), involved.next()) {
        (None, _) => Some((Dimension::VoucherType, Some(String::new()))),
        (Some(d), None) => {
            let value = fixed
                .iter()
                .find(|(f, _)| *f == d)
                .and_then(|(_, v)| (*v).clone());
            Some((d, value))
        }
        (Some(_), Some(_)) => None,
    }
}

/// The rows of `assignment_totals` in `rows` (see `spanning`), for a count `single` says it can
/// answer, times `sign`, in the rows' common shape: (bucket, voucher type or `""`, campaign,
/// channel, count).
fn totals(
    rows: Condition,
    sign: i64,
    bucket_minutes: i64,
    dimension: Dimension,
    group_by: &BTreeSet<Dimension>,
) -> SelectStatement {
    use assignment_total::Column as T;
    let bucket = Expr::cust(format!("\"minute\" / {bucket_minutes}"));
    let grouped = group_by.contains(&dimension);
    let as_column = |d: Dimension| match d == dimension && (grouped || d == Dimension::VoucherType)
    {
        true => Expr::col(T::Value),
        false => Expr::val(""),
    };
    let mut read = Query::select();
    read.expr_as(bucket.clone(), ROW[0])
        .expr_as(as_column(Dimension::VoucherType), ROW[1])
        .expr_as(as_column(Dimension::Campaign), ROW[2])
        .expr_as(as_column(Dimension::Channel), ROW[3])
        .expr_as(summed(T::Count, sign), ROW[4])
        .expr_as(no_types(), ROW[5])
        .from(assignment_total::Entity)
        .cond_where(rows);
    match grouped || dimension == Dimension::VoucherType {
        true => read.add_group_by([bucket, Expr::col(T::Value)]),
        false => read.add_group_by([bucket]),
    };
    read
}

/// `SUM(count)` as a BIGINT, times `sign`.
fn summed(count: impl sea_orm::sea_query::IntoColumnRef, sign: i64) -> Expr {
    let sum = Expr::from(Func::cast_as(
        Func::sum(Expr::col(count)),
        Alias::new("BIGINT"),
    ));
    match sign {
        1 => sum,
        _ => sum.mul(sign),
    }
}

/// Rows of `table` (`assignment_counts`, or `assignment_changes`, whose rows are per-minute
/// combinations too) within `rows`, for a count by `group_by` under `dims`, times `sign`, in
/// the rows' common shape: (bucket, voucher type or `""`, campaign, channel, count).
fn combinations(
    table: impl Iden + 'static,
    rows: Condition,
    sign: i64,
    bucket_minutes: i64,
    group_by: &BTreeSet<Dimension>,
    dims: &Dims,
) -> SelectStatement {
    use assignment_count::Column as A;
    // The width is inlined (it is one of three constants), so that PostgreSQL sees the
    // selected and the grouped expression as the same one.
    let bucket = Expr::cust(format!("\"minute\" / {bucket_minutes}"));
    // Only the dimensions asked for are grouped by (the others read as `""`), so the rows read
    // are buckets × groups, not every stored combination.
    let mut grouped = vec![bucket.clone(), Expr::col(A::VoucherType)];
    let mut dimension = |d: Dimension, column: A| match group_by.contains(&d) {
        true => {
            grouped.push(Expr::col(column));
            Expr::col(column)
        }
        false => Expr::val(""),
    };
    let (campaign, channel) = (
        dimension(Dimension::Campaign, A::CampaignId),
        dimension(Dimension::Channel, A::Channel),
    );
    let mut read = Query::select();
    read.expr_as(bucket, ROW[0])
        .expr_as(Expr::col(A::VoucherType), ROW[1])
        .expr_as(campaign, ROW[2])
        .expr_as(channel, ROW[3])
        .expr_as(summed(A::Count, sign), ROW[4])
        .expr_as(no_types(), ROW[5])
        .from(table)
        .cond_where(rows)
        .cond_where(matching(dims, group_by.contains(&Dimension::VoucherType)))
        .add_group_by(grouped);
    read
}

/// The per-combination rows (`assignment_counts`, `assignment_changes`) that count what `dims`
/// asks for: the type's rows under a type filter, the "every type" rows unless `by_type`
/// (which wants every type's, and the "every type" rows for the series).
fn matching(dims: &Dims, by_type: bool) -> Condition {
    use assignment_count::Column as A;
    let mut all = Condition::all();
    match (&dims.voucher_type, by_type) {
        (Some(kind), _) => all = all.add(Expr::col(A::VoucherType).eq(kind.as_str())),
        (None, false) => all = all.add(Expr::col(A::VoucherType).eq("")),
        (None, true) => {}
    }
    if let Some(campaign) = &dims.campaign_id {
        all = all.add(Expr::col(A::CampaignId).eq(campaign.as_str()));
    }
    if let Some(channel) = &dims.channel {
        all = all.add(Expr::col(A::Channel).eq(channel.as_str()));
    }
    all
}

/// The rows of `assignment_changes` (each a minute's) in the whole minutes `[first, end)`
/// (`i64::MIN`/`i64::MAX`: open).
fn minutes_within(first: i64, end: i64) -> Condition {
    let minute = || Expr::col(assignment_change::Column::Minute);
    let mut within = Condition::all();
    if first != i64::MIN {
        within = within.add(minute().gte(first));
    }
    if end != i64::MAX {
        within = within.add(minute().lt(end));
    }
    within
}

/// The columns of every row the counts are read as: bucket, voucher type (or `""`), campaign,
/// channel, count, and the kept voucher types of the publications an edge's row counts, if it
/// carries them (see `edges`); named so that `series` can gather them into one JSON array.
const ROW: [&str; 6] = ["b", "kind", "campaign", "channel", "n", "types"];

/// One group's key: the values of the grouped dimensions (the others `None`).
pub type GroupKey = (Option<String>, Option<String>, Option<String>);

/// Counts per bucket (bucket index → count, only non-zero ones), in all and per group.
#[derive(Debug, Default)]
pub struct Series {
    pub total: BTreeMap<i64, i64>,
    pub groups: BTreeMap<GroupKey, BTreeMap<i64, i64>>,
}

/// Counts in `[from, to)` (both from 1970 on) in buckets of `bucket_minutes` (UTC-aligned:
/// bucket `b` starts at minute `b × bucket_minutes`), per group of `group_by`; read through
/// `generic` (connections with `GENERIC_PLANS`) unless a voucher type filter asks for `db`.
pub async fn series(
    db: &DatabaseConnection,
    generic: &DatabaseConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_minutes: i64,
    group_by: &BTreeSet<Dimension>,
    dims: &Dims,
) -> Result<Series, DbErr> {
    let now = Utc::now();
    let ((first, end), ranges) = edge_ranges(from, to, now);
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
    // Rows of (bucket, voucher type or "" for every type, campaign, channel, count), from the
    // whole spans and from the edges, read in one statement.
    let mut parts: Vec<SelectStatement> = Vec::new();
    if first < end {
        let one = single(group_by, dims);
        let each = match &one {
            Some((dimension, value)) => of_dimension(*dimension, value.clone()),
            None => Condition::all(),
        };
        let spans = spanning(first, end, bucket_minutes, minute_of(now), each);
        for (rows, sign) in spans {
            let Some(rows) = rows else { continue };
            parts.push(match &one {
                Some((dimension, _)) => totals(rows, sign, bucket_minutes, *dimension, group_by),
                None => combinations(
                    assignment_count::Entity,
                    rows,
                    sign,
                    bucket_minutes,
                    group_by,
                    dims,
                ),
            });
        }
    }
    // The changes appended and not yet folded into either, for the same whole minutes.
    if first < end {
        parts.push(combinations(
            assignment_change::Entity,
            minutes_within(first, end),
            1,
            bucket_minutes,
            group_by,
            dims,
        ));
    }
    // The partial minutes at the edges, from the publications themselves, in the same shape.
    let backend = db.get_database_backend();
    parts.extend(edges(&ranges, bucket_minutes, dims, group_by));
    let mut parts = parts.into_iter();
    let mut rows: Vec<(i64, String, String, String, i64, Option<String>)> = Vec::new();
    if let Some(mut read) = parts.next() {
        for part in parts {
            read.union(UnionType::All, part);
        }
        // Under a voucher type filter the edges test each publication's vouchers through a
        // subquery whose generic plan hashes every voucher of the type: left to custom plans.
        let through = match dims.voucher_type {
            None => generic,
            Some(_) => db,
        };
        // The rows come back as one JSON array in one row: a row at a time, SQLite's driver
        // hands each from its worker thread to the caller (hundreds of thread switches for a
        // series), and PostgreSQL's is decoded field by field.
        let columns = ROW.join(", ");
        let all = match backend {
            DbBackend::Postgres => {
                format!("COALESCE(json_agg(json_build_array({columns}))::text, '[]')")
            }
            _ => format!("json_group_array(json_array({columns}))"),
        };
        let whole = Query::select()
            .expr(Expr::cust(all))
            .from_subquery(read, Alias::new("counted"))
            .to_owned();
        if let Some(row) = through.query_one(&whole).await? {
            let text: String = row.try_get_by_index(0)?;
            rows = serde_json::from_str(&text)
                .map_err(|e| DbErr::Custom(format!("the counts' rows as JSON: {e}")))?;
        }
    }
    let mut add = |b: i64, kind: &str, campaign: &str, channel: &str, count: i64| {
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
                .entry(key(kind, campaign, channel))
                .or_default();
            *group.entry(b).or_default() += count;
        }
    };
    for (b, kind, campaign, channel, count, types) in rows {
        add(b, &kind, &campaign, &channel, count);
        // An edge's row of publications with these kept types: a row of each type too.
        if let Some(types) = types {
            let types: BTreeSet<String> = serde_json::from_str(&types)
                .map_err(|e| DbErr::Custom(format!("a publication's kept types: {e}")))?;
            for kind in types.iter().filter(|kind| !kind.is_empty()) {
                add(b, kind, &campaign, &channel, count);
            }
        }
    }
    // What an edge took away nets out against its whole minute: a group may be left at zero.
    series.total.retain(|_, n| *n != 0);
    for group in series.groups.values_mut() {
        group.retain(|_, n| *n != 0);
    }
    series.groups.retain(|_, group| !group.is_empty());
    Ok(series)
}

/// The session settings of the connections `series` reads through on PostgreSQL (a pool of
/// their own, so nothing else is planned this way). PostgreSQL plans these statements afresh on
/// every execution (its custom plans, which it keeps choosing for them), and planning was most of
/// a counter's time: 0.7–1.8 ms against 0.1–0.15 ms executing, at 1M publications. A generic
/// plan is made once per connection and statement shape, and the statements are written so
/// that it is the index walk a custom plan would choose (see `edges`). Its cost is reckoned for
/// edges of unknown length: high enough for PostgreSQL to compile it (JIT, 15 ms on every
/// execution) or to start parallel workers (3–4 ms), neither worth it for statements that
/// execute in a tenth of a millisecond.
pub const GENERIC_PLANS: [(&str, &str); 3] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("jit", "off"),
    ("max_parallel_workers_per_gather", "0"),
];

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

/// The whole minutes `[first, end)` as aligned spans of the kept widths no wider than
/// `widest`: whole days in the middle, whole hours beside them, whole ten minutes beside those,
/// minutes at the sides; as (width, first minute, end minute), where `i64::MIN`/`i64::MAX` mean
/// open.
fn spans(first: i64, end: i64, widest: i64) -> Vec<(i64, i64, i64)> {
    fn go(lo: i64, hi: i64, widths: &[i64], out: &mut Vec<(i64, i64, i64)>) {
        let Some((&width, narrower)) = widths.split_first() else {
            return;
        };
        if lo >= hi {
            return;
        }
        if narrower.is_empty() {
            out.push((width, lo, hi));
            return;
        }
        let a = match lo {
            i64::MIN => lo,
            _ => lo.div_euclid(width) * width + if lo.rem_euclid(width) == 0 { 0 } else { width },
        };
        let b = match hi {
            i64::MAX => hi,
            _ => hi.div_euclid(width) * width,
        };
        if a < b {
            out.push((width, a, b));
            go(lo, a, narrower, out);
            go(b, hi, narrower, out);
        } else {
            go(lo, hi, narrower, out);
        }
    }
    let mut out = vec![];
    go(first, end, &widths_to(widest), &mut out);
    out
}

/// The kept widths no wider than `widest`, widest first.
fn widths_to(widest: i64) -> Vec<i64> {
    WIDTHS
        .iter()
        .rev()
        .copied()
        .filter(|w| *w <= widest)
        .collect()
}

/// A span of kept rows read with a sign: (width, first minute, end minute, 1 or -1).
type Span = (i64, i64, i64, i64);

/// The whole minutes `[first, end)` as signed aligned spans of the kept widths no wider than
/// `widest`, that read the fewest rows: a span may reach past a side of the range, and what it
/// reads there is taken away again by spans of the narrower widths. A window of the last day
/// by day, for one, reads today's row and yesterday's (less its hours before the window's
/// start) where `spans` read every hour, ten minutes and minute of it. Rows of blocks that
/// start after `now` (a minute) do not exist yet and cost nothing, so a window that ends now
/// reads the block it ends in whole. Open ranges are left to `spans`.
fn signed_spans(first: i64, end: i64, widest: i64, now: i64) -> Vec<Span> {
    if first == i64::MIN || end == i64::MAX {
        return spans(first, end, widest)
            .into_iter()
            .map(|(width, lo, hi)| (width, lo, hi, 1))
            .collect();
    }
    fewest(first, end, &widths_to(widest), now).1
}

/// The fewest rows (blocks that may hold some) that read `[lo, hi)` from spans of `widths`
/// (widest first, the last 1), and those spans.
fn fewest(lo: i64, hi: i64, widths: &[i64], now: i64) -> (i64, Vec<Span>) {
    let blocks = |width: i64, lo: i64, hi: i64| blocks(width, lo, hi, now);
    let Some((&width, narrower)) = widths.split_first() else {
        return (0, vec![]);
    };
    if lo >= hi {
        return (0, vec![]);
    }
    if narrower.is_empty() {
        return (blocks(width, lo, hi), vec![(width, lo, hi, 1)]);
    }
    // Without this width, then with each choice of aligned sides around `lo` and `hi`.
    let mut best = fewest(lo, hi, narrower, now);
    // The aligned sides at or around a minute: itself when aligned.
    let around = |at: i64| {
        let below = at.div_euclid(width) * width;
        std::iter::once(below).chain((below != at).then_some(below + width))
    };
    for a in around(lo) {
        for b in around(hi) {
            let middle = blocks(width, a, b);
            if a >= b || middle >= best.0 {
                continue;
            }
            // Between a side of the range and the aligned side: added when inside the range,
            // taken away when outside.
            let side = |x: i64, y: i64| match x <= y {
                true => fewest(x, y, narrower, now),
                false => {
                    let (rows, spans) = fewest(y, x, narrower, now);
                    let taken = spans.into_iter().map(|(w, l, h, s)| (w, l, h, -s));
                    (rows, taken.collect())
                }
            };
            let (left, right) = (side(lo, a), side(b, hi));
            let rows = middle + left.0 + right.0;
            if rows < best.0 {
                let mut spans = vec![(width, a, b, 1)];
                spans.extend(left.1);
                spans.extend(right.1);
                best = (rows, spans);
            }
        }
    }
    best
}

/// The blocks of `width` in `[lo, hi)` (aligned) that start at or before `now`: the rows per
/// value a span of them may read.
fn blocks(width: i64, lo: i64, hi: i64, now: i64) -> i64 {
    let hi = std::cmp::min(hi, now.div_euclid(width) * width + width);
    std::cmp::max((hi - lo) / width, 0)
}

/// The rows of `assignment_counts` or `assignment_totals` (both keyed by `width` and `minute`)
/// that make up the whole minutes `[first, end)` (see `signed_spans`), each also meeting
/// `each`: those to add, and those to take away (none: `None`). `each` is repeated in every
/// span's condition, not put beside them, so that every span is one range of the table's key
/// (`assignment_totals` is keyed by dimension first: given the dimension beside an OR of spans,
/// SQLite read all of the dimension's rows).
fn spanning(
    first: i64,
    end: i64,
    widest: i64,
    now: i64,
    each: Condition,
) -> [(Option<Condition>, i64); 2] {
    let (width_of, minute) = (
        || Expr::col(Alias::new("width")),
        || Expr::col(Alias::new("minute")),
    );
    let spans = signed_spans(first, end, widest, now);
    [1, -1].map(|sign| {
        let signed = spans.iter().filter(|span| span.3 == sign);
        let any = signed.fold(None, |any: Option<Condition>, &(width, lo, hi, _)| {
            let mut span = each.clone().add(width_of().eq(width as i32));
            if lo != i64::MIN {
                span = span.add(minute().gte(lo));
            }
            if hi != i64::MAX {
                span = span.add(minute().lt(hi));
            }
            Some(any.unwrap_or_else(Condition::any).add(span))
        });
        (any, sign)
    })
}

/// The rows of `assignment_totals` of `dimension`, and of `value` if given.
fn of_dimension(dimension: Dimension, value: Option<String>) -> Condition {
    use assignment_total::Column as T;
    let mut of = Condition::all().add(Expr::col(T::Dimension).eq(dimension.name()));
    if let Some(value) = value {
        of = of.add(Expr::col(T::Value).eq(value));
    }
    of
}

fn minute_start(minute: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::minutes(minute)
}

/// A part of a minute counted from the publications: those created in `[lo, hi)`, added
/// (`sign` 1) or taken away (-1).
type Edge = (DateTime<Utc>, DateTime<Utc>, i64);

/// The whole minutes `[first, end)` that a series over `[from, to)` reads from the counts, and
/// the edges that make it exact. A partial minute at either side is either counted from the
/// publications, or its whole minute is read from the counts and the rest of it taken away:
/// whichever leaves the shorter part to count, so an edge is at most half a minute. The part
/// of a minute after `now` is taken as empty (publications are created before they are
/// received), so a window ending now reads its last minute from the counts and takes away
/// next to nothing.
fn edge_ranges(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ((i64, i64), Vec<Edge>) {
    let (mut first, mut end) = whole_minutes(Some((from, false)), Some(to));
    let mut ranges = vec![];
    if first >= end {
        // No whole minute: at most two partial ones, each counted.
        let next = minute_start(minute_of(from) + 1);
        if next < to {
            ranges.push((from, next, 1));
            ranges.push((next, to, 1));
        } else if from < to {
            ranges.push((from, to, 1));
        }
        return ((first, end), ranges);
    }
    let (lower, start) = (minute_start(first - 1), minute_start(first));
    if from > lower && from < start {
        match from - lower < start - from {
            true => {
                first -= 1;
                ranges.push((lower, from, -1));
            }
            false => ranges.push((from, start, 1)),
        }
    }
    let (start, upper) = (minute_start(end), minute_start(end + 1));
    if to > start {
        let rest = std::cmp::max(std::cmp::min(upper, now) - to, Duration::zero());
        match rest < to - start {
            true => {
                end += 1;
                ranges.push((to, upper, -1));
            }
            false => ranges.push((start, to, 1)),
        }
    }
    ((first, end), ranges)
}

/// The publications matching `dims` in each of `ranges`, counted like `assignment_counts`
/// rows: (bucket, voucher type or `""`, campaign, channel, count, times the range's sign),
/// typed rows only when grouped by type without a type filter (under one, the rows carry it).
/// Each range lies inside one minute and is its own index range.
fn edges(
    ranges: &[Edge],
    bucket_minutes: i64,
    dims: &Dims,
    group_by: &BTreeSet<Dimension>,
) -> Vec<SelectStatement> {
    use publication::Column as P;
    let filter = PublicationFilter {
        voucher_type: dims.voucher_type.clone(),
        campaign_id: dims.campaign_id.clone(),
        channel: dims.channel.clone(),
        ..PublicationFilter::default()
    };
    let label = dims.voucher_type.clone().unwrap_or_default();
    // Grouped by type without a type filter, each row also carries the publications' kept
    // types (`publications.voucher_types`), and `series` counts it in every type of the set as
    // well as in every type's row: no lookup of each publication's vouchers.
    let typed = group_by.contains(&Dimension::VoucherType) && dims.voucher_type.is_none();
    let branch = |(lo, hi, sign): Edge| {
        let created = || Expr::col((publication::Entity, P::CreatedAt));
        // Only the dimensions asked for are grouped by; the others read as `""`.
        let mut grouped = vec![];
        let mut dimension = |d: Dimension, column: P| match group_by.contains(&d) {
            true => {
                let column = Expr::col((publication::Entity, column));
                grouped.push(column.clone());
                Func::coalesce([column, Expr::val("")]).into()
            }
            false => Expr::val(""),
        };
        let (campaign, channel) = (
            dimension(Dimension::Campaign, P::CampaignId),
            dimension(Dimension::Channel, P::Channel),
        );
        let types = match typed {
            true => {
                let types = Expr::col((publication::Entity, P::VoucherTypes));
                grouped.push(types.clone());
                types
            }
            false => no_types(),
        };
        let count = Expr::from(Func::cast_as(
            Func::count(Expr::col(Asterisk)),
            Alias::new("BIGINT"),
        ));
        let mut read = Query::select();
        read.expr_as(Expr::val(minute_of(lo).div_euclid(bucket_minutes)), ROW[0])
            .expr_as(Expr::val(label.as_str()), ROW[1])
            .expr_as(campaign, ROW[2])
            .expr_as(channel, ROW[3])
            .expr_as(count.mul(sign), ROW[4])
            .expr_as(types, ROW[5])
            .from(publication::Entity)
            .cond_where(filter.condition())
            .and_where(created().gte(lo))
            .and_where(created().lt(hi));
        if !grouped.is_empty() {
            read.add_group_by(grouped);
        }
        read
    };
    ranges.iter().map(|range| branch(*range)).collect()
}

/// The `types` of a row that carries none (`ROW`).
fn no_types() -> Expr {
    Expr::cust("CAST(NULL AS TEXT)")
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
    let (first, end) = whole_minutes(
        filter.created_after.map(|t| (t, true)),
        filter.created_before,
    );
    let sum = |count: Expr| Func::coalesce([Func::sum(count).into(), Expr::val(0i64)]);
    // The whole minutes from the kept counts: what the spans add, and what they take away.
    let one = single(&BTreeSet::new(), dims);
    let each = match &one {
        Some((dimension, value)) => {
            of_dimension(*dimension, Some(value.clone().unwrap_or_default()))
        }
        None => Condition::all(),
    };
    let now = minute_of(Utc::now());
    let mut kept = vec![];
    for (rows, sign) in spanning(first, end, 1440, now, each) {
        let Some(rows) = rows else { continue };
        let mut minutes = Query::select();
        match one {
            Some(_) => minutes
                .expr(sum(Expr::col(assignment_total::Column::Count)))
                .from(assignment_total::Entity)
                .cond_where(rows),
            None => minutes
                .expr(sum(Expr::col(assignment_count::Column::Count)))
                .from(assignment_count::Entity)
                .cond_where(matching(dims, false))
                .cond_where(rows),
        };
        kept.push((minutes, sign));
    }
    // The changes appended and not yet folded, for the same whole minutes.
    let unfolded = Query::select()
        .expr(sum(Expr::col(assignment_change::Column::Count)))
        .from(assignment_change::Entity)
        .cond_where(minutes_within(first, end))
        .cond_where(matching(dims, false))
        .to_owned();
    let created = || Expr::col((publication::Entity, publication::Column::CreatedAt));
    let counted = |range: Condition| {
        let within = PublicationFilter {
            created_after: None,
            created_before: None,
            ..filter.clone()
        };
        Query::select()
            .expr(Func::count(Expr::col(Asterisk)))
            .from(publication::Entity)
            .cond_where(within.condition())
            .cond_where(range)
            .to_owned()
    };
    if first >= end {
        // No whole minute in the range (it is under two minutes long): count it directly.
        let all = counted(filter.condition());
        let n: i64 = match db.query_one(&all).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        return Ok(u64::try_from(n).unwrap_or(0));
    }
    // The edges, each its own index range: after `created_after` up to the first whole
    // minute, and from the end of the last whole minute up to `created_before`.
    let mut edges = vec![];
    if let Some(after) = filter.created_after {
        edges.push(counted(
            Condition::all()
                .add(created().gt(after))
                .add(created().lt(minute_start(first))),
        ));
    }
    if let Some(before) = filter.created_before {
        edges.push(counted(
            Condition::all()
                .add(created().gte(minute_start(end)))
                .add(created().lt(before)),
        ));
    }
    let unfolded = Func::cast_as(
        Expr::SubQuery(None, Box::new(unfolded.into_sub_query_statement())),
        Alias::new("BIGINT"),
    );
    let mut all = Query::select();
    all.expr(unfolded);
    let parts = 1 + kept.len() + edges.len();
    for (minutes, sign) in kept {
        let sum = Expr::from(Func::cast_as(
            Expr::SubQuery(None, Box::new(minutes.into_sub_query_statement())),
            Alias::new("BIGINT"),
        ));
        all.expr(sum.mul(sign));
    }
    for edge in edges {
        all.expr(Expr::SubQuery(
            None,
            Box::new(edge.into_sub_query_statement()),
        ));
    }
    let mut total = 0i64;
    if let Some(row) = db.query_one(&all).await? {
        for part in 0..parts {
            total += row.try_get_by_index::<i64>(part)?;
        }
    }
    Ok(u64::try_from(total).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::{blocks, edge_ranges, minute_of, signed_spans, spans};
    use chrono::{Duration, TimeZone, Utc};

    /// Every instant around a range is counted once if it lies in the range and not at all
    /// otherwise, by the whole minutes and the signed edges together; and no edge has more
    /// than half a minute before `now` to count.
    #[test]
    fn whole_minutes_and_edges_count_each_instant_of_the_range_once() {
        let base = Utc.timestamp_opt(1_800_000_000 / 60 * 60, 0).unwrap();
        let ms = Duration::milliseconds;
        for (from, length) in [
            (0, 60_000),
            (0, 3_600_000),
            (1, 3_600_000),
            (10_000, 3_599_999),
            (29_999, 86_400_000),
            (30_000, 61_000),
            (30_001, 90_500),
            (59_999, 120_002),
            (45_000, 30_000),
            (45_000, 20_000),
            (12_345, 7_654_321),
        ] {
            let (from, to) = (base + ms(from), base + ms(from + length));
            for now in [
                from - ms(1),
                to - ms(25_000),
                to - ms(1),
                to,
                to + ms(5_000),
                to + ms(90_000),
            ] {
                let ((first, end), ranges) = edge_ranges(from, to, now);
                let mut t = from - ms(120_000);
                while t < to + ms(120_000) {
                    let whole = i64::from((first..end).contains(&minute_of(t)));
                    let edges: i64 = ranges
                        .iter()
                        .filter(|(lo, hi, _)| *lo <= t && t < *hi)
                        .map(|(_, _, sign)| sign)
                        .sum();
                    let inside = i64::from(from <= t && t < to);
                    assert_eq!(
                        whole + edges,
                        inside,
                        "{from} {to} {now}: at {t}, {ranges:?}"
                    );
                    t += ms(250);
                }
                if first < end {
                    for (lo, hi, _) in &ranges {
                        let counted = (*hi).min(now.max(*lo)) - *lo;
                        assert!(counted <= ms(30_000), "{from} {to} {now}: {ranges:?}");
                    }
                }
            }
        }
    }

    /// Every minute of the range is covered once, by aligned spans no wider than asked.
    fn check(first: i64, end: i64, widest: i64) {
        let spans = spans(first, end, widest);
        let mut covered: Vec<i64> = spans.iter().flat_map(|&(_, lo, hi)| lo..hi).collect();
        covered.sort();
        assert_eq!(
            covered,
            (first..end).collect::<Vec<_>>(),
            "{first}..{end}: {spans:?}"
        );
        for (width, lo, hi) in spans {
            assert!(
                width <= widest && lo % width == 0 && hi % width == 0,
                "{width} {lo} {hi}"
            );
        }
    }

    /// Signed spans count every minute of the range once and no other, are aligned, no wider
    /// than asked, and read no more rows than `spans` (counting blocks that start after `now`
    /// as empty); a window of the last day by day reads two days' rows and a few minutes'.
    #[test]
    fn signed_spans_count_each_minute_once_and_read_fewer_rows() {
        let rows = |spans: &[(i64, i64, i64, i64)], now: i64| -> i64 {
            spans
                .iter()
                .map(|&(w, lo, hi, _)| blocks(w, lo, hi, now))
                .sum()
        };
        let day = 1440 * 20_000;
        let mut seed = 7u64;
        let mut next = |n: i64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            i64::try_from(seed >> 33).expect("31 bits").rem_euclid(n)
        };
        for _ in 0..400 {
            let first = day + next(3 * 1440);
            let longest = [61, 1441, 4000][usize::try_from(next(3)).expect("0 to 2")];
            let end = first + 1 + next(longest);
            let now = end - 5 + next(100);
            for widest in [1, 10, 60, 1440] {
                let signed = signed_spans(first, end, widest, now);
                let mut net = std::collections::BTreeMap::<i64, i64>::new();
                for &(w, lo, hi, sign) in &signed {
                    assert!(
                        w <= widest && lo % w == 0 && hi % w == 0 && lo < hi,
                        "{signed:?}"
                    );
                    assert!(sign == 1 || sign == -1);
                    for m in lo..hi {
                        *net.entry(m).or_default() += sign;
                    }
                }
                net.retain(|_, n| *n != 0);
                assert_eq!(
                    net.keys().copied().collect::<Vec<_>>(),
                    (first..end).collect::<Vec<_>>(),
                    "{first}..{end} now {now} widest {widest}: {signed:?}"
                );
                assert!(net.values().all(|n| *n == 1), "{signed:?}");
                let plain: Vec<_> = spans(first, end, widest)
                    .into_iter()
                    .map(|(w, lo, hi)| (w, lo, hi, 1))
                    .collect();
                assert!(
                    rows(&signed, now) <= rows(&plain, now),
                    "{signed:?} {plain:?}"
                );
            }
        }
        // The last day by day, ending in the minute from 00:03 now: yesterday's row less its
        // first three minutes, and today's (or its first ten minutes') row: five rows where
        // `spans` reads 23 hours, five ten minutes and ten minutes.
        let (first, end) = (day + 3, day + 1440 + 3);
        let signed = signed_spans(first, end, 1440, end - 1);
        assert_eq!(rows(&signed, end - 1), 2 + 3, "{signed:?}");
        let plain: Vec<_> = spans(first, end, 1440)
            .into_iter()
            .map(|(w, lo, hi)| (w, lo, hi, 1))
            .collect();
        assert_eq!(rows(&plain, end - 1), 23 + 5 + 7 + 3, "{plain:?}");
    }

    #[test]
    fn ranges_split_into_days_hours_and_minutes() {
        for (first, end) in [
            (0, 1),
            (59, 61),
            (1439, 2 * 1440 + 61),
            (61, 3 * 1440 - 7),
            (5, 5),
        ] {
            for widest in [1, 10, 60, 1440] {
                check(first, end, widest);
            }
        }
        assert_eq!(spans(1440, 3 * 1440, 1440), vec![(1440, 1440, 2880 + 1440)]);
        assert_eq!(
            spans(i64::MIN, i64::MAX, 1440),
            vec![(1440, i64::MIN, i64::MAX)]
        );
        assert_eq!(spans(30, 90, 1440), vec![(10, 30, 90)]);
        assert_eq!(
            spans(31, 89, 60),
            vec![(10, 40, 80), (1, 31, 40), (1, 80, 89)]
        );
    }
}

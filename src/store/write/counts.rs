//! Keeps the assignment counts exact. A batch appends what it changes to `assignment_changes`, in
//! its own transaction: a row per minute and combination of voucher type, campaign and channel
//! (the entities say what each row counts). A new publication adds one to its minute's "every
//! type" row and to the row of each distinct type among its vouchers. A stored publication moves
//! between type rows when one of its vouchers changes type or is merged from its code key into
//! its id: its contribution is read before the batch's rows are written and again after, and the
//! difference appended. Minutes are UTC minutes since the epoch, rounded down.
//!
//! `fold` moves appended changes into `assignment_counts` (each minute's, hour's and day's row)
//! and `assignment_totals` (the same by one dimension at a time), deleting them in the same
//! transaction; every read of the counts adds the changes not yet folded (`store::stats`). A
//! batch used to upsert its ~130 count rows itself: appending its ~30 changes costs it a fraction
//! of that, and a fold upserts each row once for all the batches it folds.

use super::replay::After;
use chrono::{DateTime, Utc};
use entity::{
    assignment_change, assignment_count, assignment_total, publication, publication_voucher,
    voucher,
};
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Func, InsertStatement, JoinType, LockBehavior,
    LockType, OnConflict, Order, Query, SelectStatement, WithClause,
};
use sea_orm::{
    ActiveValue, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryTrait, TransactionTrait, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The UTC minute (since the epoch) an instant falls in.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// The spans counted, in minutes: a minute, ten, an hour, a day (UTC-aligned; each divides the
/// next).
pub const WIDTHS: [i64; 4] = [1, 10, 60, 1440];

/// A row of `assignment_changes`: minute, voucher type (`""`: every type), campaign, channel.
type ChangeKey = (i64, String, String, String);

/// A row of `assignment_counts`: width, first minute, voucher type (`""`: every type),
/// campaign, channel.
type Key = (i64, i64, String, String, String);

/// `assignment_totals`' dimensions.
pub const BY_TYPE: &str = "type";
pub const BY_CAMPAIGN: &str = "campaign";
pub const BY_CHANNEL: &str = "channel";

/// A row of `assignment_totals`: width, first minute, dimension, value.
type TotalKey = (i64, i64, &'static str, String);

/// What a batch changes in the counts: known before its rows are written, completed after.
#[derive(Debug, Default)]
pub struct Change {
    changes: HashMap<ChangeKey, i64>,
    /// Stored publications whose contribution is read again once the rows are written.
    restated: Vec<String>,
}

impl Change {
    /// Counts one publication (`sign` 1) or takes it back (-1) in its minute.
    pub fn add(
        &mut self,
        sign: i64,
        created_at: DateTime<Utc>,
        campaign_id: Option<&str>,
        channel: Option<&str>,
        types: &BTreeSet<String>,
    ) {
        let minute = minute_of(created_at);
        let (campaign, channel) = (campaign_id.unwrap_or_default(), channel.unwrap_or_default());
        for kind in std::iter::once("").chain(types.iter().map(String::as_str)) {
            let key = (
                minute,
                kind.to_owned(),
                campaign.to_owned(),
                channel.to_owned(),
            );
            *self.changes.entry(key).or_default() += sign;
        }
    }
}

/// Plans the change `after` makes, given each stored voucher's type before the batch; reads the
/// current contribution of stored publications whose vouchers change type (one statement to
/// find them, one to read them, only when a stored voucher's type changes or a voucher keyed by
/// its code is merged).
pub(super) async fn before_write<C: ConnectionTrait>(
    txn: &C,
    stored_types: &HashMap<String, String>,
    after: &mut After,
) -> Result<Change, DbErr> {
    let written: HashMap<&str, &str> = after
        .vouchers
        .iter()
        .map(|v| (v.id.as_str(), v.voucher_type.as_str()))
        .collect();
    let type_now = |id: &str| {
        written
            .get(id)
            .copied()
            .or_else(|| stored_types.get(id).map(String::as_str))
    };
    let mut vouchers_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for link in &after.publication_vouchers {
        vouchers_of
            .entry(link.publication_id.as_str())
            .or_default()
            .push(link.voucher_id.as_str());
    }
    let mut change = Change::default();
    for p in &mut after.publications {
        let types = vouchers_of
            .get(p.id.as_str())
            .into_iter()
            .flatten()
            .filter_map(|v| type_now(v))
            .map(str::to_owned)
            .collect();
        p.voucher_types = types_json(&types);
        change.add(
            1,
            p.created_at,
            p.campaign_id.as_deref(),
            p.channel.as_deref(),
            &types,
        );
    }
    // A voucher without a row has no stored publications: a publication links only the
    // vouchers its own delivery describes, and those rows are written with it (the tests check
    // this in every store they fill). So only stored vouchers that change type, and vouchers
    // keyed by their code merged into their id (which take that voucher's type), move
    // publications between type rows; nearly every batch has neither and reads nothing here.
    let mut changed: Vec<String> = written
        .iter()
        .filter(|(id, kind)| {
            stored_types
                .get(**id)
                .is_some_and(|stored| stored != **kind)
        })
        .map(|(id, _)| (*id).to_owned())
        .collect();
    changed.extend(after.merged.iter().map(|(key, _)| key.clone()));
    if changed.is_empty() {
        return Ok(change);
    }
    // The batch's own publications are not stored yet, so these are all earlier ones.
    let find = Query::select()
        .distinct()
        .column(publication_voucher::Column::PublicationId)
        .from(publication_voucher::Entity)
        .and_where(Expr::col(publication_voucher::Column::VoucherId).is_in(changed))
        .to_owned();
    let mut restated = Vec::new();
    for row in txn.query_all(&find).await? {
        restated.push(row.try_get_by_index::<String>(0)?);
    }
    for (_, (created_at, campaign_id, channel, types)) in contributions(txn, &restated).await? {
        change.add(
            -1,
            created_at,
            campaign_id.as_deref(),
            channel.as_deref(),
            &types,
        );
    }
    change.restated = restated;
    Ok(change)
}

/// Completes `change` once the batch's rows are written, and applies it; restates the types
/// kept on the publications it moved between type rows.
pub(super) async fn after_write<C: ConnectionTrait>(
    txn: &C,
    mut change: Change,
) -> Result<(), DbErr> {
    let mut restated = Vec::new();
    for (id, (created_at, campaign_id, channel, types)) in
        contributions(txn, &change.restated).await?
    {
        change.add(
            1,
            created_at,
            campaign_id.as_deref(),
            channel.as_deref(),
            &types,
        );
        restated.push((id, Expr::val(types_json(&types))));
    }
    for chunk in restated.chunks(RESTATED_ROWS) {
        let Some((first, rest)) = chunk.split_first() else {
            continue;
        };
        let update = Query::update()
            .table(publication::Entity)
            .value(
                publication::Column::VoucherTypes,
                super::rows::case_of(publication::Column::Id, first, rest),
            )
            .and_where(
                Expr::col(publication::Column::Id).is_in(chunk.iter().map(|(id, _)| id.clone())),
            )
            .to_owned();
        txn.execute(&update).await?;
    }
    change.write(txn).await
}

/// Most publications one statement restates the types of (each binds three values).
const RESTATED_ROWS: usize = 5_000;

/// The kept form of a publication's voucher types (`publications.voucher_types`): a JSON array
/// of the distinct types, sorted.
pub fn types_json(types: &BTreeSet<String>) -> String {
    // A set of strings always serialises.
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

impl Change {
    /// Appends the change to `assignment_changes` (nothing when it changes no count).
    pub async fn write<C: ConnectionTrait>(self, txn: &C) -> Result<(), DbErr> {
        let mut changes: Vec<_> = self.changes.into_iter().filter(|(_, d)| *d != 0).collect();
        if changes.is_empty() {
            return Ok(());
        }
        changes.sort_unstable();
        let statements = match txn.get_database_backend() {
            DbBackend::Postgres => vec![append_postgres(changes)?],
            _ => append_sqlite(changes),
        };
        run(txn, statements).await
    }
}

/// Runs `statements` in turn.
async fn run<C: ConnectionTrait>(txn: &C, statements: Vec<InsertStatement>) -> Result<(), DbErr> {
    for statement in statements {
        txn.execute(&statement).await?;
    }
    Ok(())
}

/// `assignment_changes`' columns but its id.
const CHANGE_COLUMNS: [assignment_change::Column; 5] = {
    use assignment_change::Column as C;
    [
        C::Minute,
        C::VoucherType,
        C::CampaignId,
        C::Channel,
        C::Count,
    ]
};

/// PostgreSQL: the rows from arrays, one per column, so that the text is the same whatever the
/// number of rows: prepared and planned once per connection, where a multi-row VALUES would be
/// parsed and planned on nearly every batch.
fn append_postgres(changes: Vec<(ChangeKey, i64)>) -> Result<InsertStatement, DbErr> {
    let mut arrays = (vec![], vec![], vec![], vec![], vec![]);
    for ((minute, kind, campaign, channel), count) in changes {
        arrays.0.push(minute);
        arrays.1.push(kind);
        arrays.2.push(campaign);
        arrays.3.push(channel);
        arrays.4.push(count);
    }
    let (m, t, ca, ch, c) = arrays;
    let arrays: [Value; 5] = [m.into(), t.into(), ca.into(), ch.into(), c.into()];
    let mut read = Query::select();
    for array in arrays {
        read.expr(Func::cust("unnest").arg(Expr::val(array)));
    }
    let mut insert = Query::insert();
    insert
        .into_table(assignment_change::Entity)
        .columns(CHANGE_COLUMNS)
        .select_from(read)
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(insert)
}

/// SQLite: multi-row inserts of at most `SQLITE_ROWS` rows each.
fn append_sqlite(changes: Vec<(ChangeKey, i64)>) -> Vec<InsertStatement> {
    changes
        .chunks(SQLITE_ROWS)
        .map(|chunk| {
            let rows = chunk
                .iter()
                .map(
                    |((minute, kind, campaign, channel), count)| assignment_change::ActiveModel {
                        id: ActiveValue::NotSet,
                        minute: ActiveValue::Set(*minute),
                        voucher_type: ActiveValue::Set(kind.clone()),
                        campaign_id: ActiveValue::Set(campaign.clone()),
                        channel: ActiveValue::Set(channel.clone()),
                        count: ActiveValue::Set(*count),
                    },
                );
            assignment_change::Entity::insert_many(rows).into_query()
        })
        .collect()
}

/// Most changes one fold's transaction moves.
const FOLD_BATCH: u64 = 20_000;

/// Moves the changes in `assignment_changes` into `assignment_counts` and `assignment_totals`,
/// a transaction of at most `FOLD_BATCH` at a time, until none is left; returns how many it
/// moved. Each change is deleted in the transaction that adds it, so it is counted once however
/// many folds run at once (on PostgreSQL each takes changes the others have not locked, and
/// upserts in key order, so that two never deadlock).
pub async fn fold(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut moved = 0;
    loop {
        let txn = db.begin().await?;
        let taken = take(&txn).await?;
        let n = taken.len() as u64;
        if n > 0 {
            apply(&txn, taken).await?;
        }
        txn.commit().await?;
        moved += n;
        if n < FOLD_BATCH {
            return Ok(moved);
        }
    }
}

/// Deletes up to `FOLD_BATCH` changes, oldest first, returning them.
async fn take<C: ConnectionTrait>(txn: &C) -> Result<Vec<(ChangeKey, i64)>, DbErr> {
    use assignment_change::Column as C;
    let mut oldest = Query::select();
    oldest
        .column(C::Id)
        .from(assignment_change::Entity)
        .order_by(C::Id, Order::Asc)
        .limit(FOLD_BATCH);
    if txn.get_database_backend() == DbBackend::Postgres {
        oldest.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let delete = Query::delete()
        .from_table(assignment_change::Entity)
        .and_where(Expr::col(C::Id).in_subquery(oldest))
        .returning(Query::returning().columns(CHANGE_COLUMNS))
        .to_owned();
    let mut taken = Vec::new();
    for row in txn.query_all(&delete).await? {
        let key = (
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
            row.try_get_by_index(3)?,
        );
        taken.push((key, row.try_get_by_index(4)?));
    }
    Ok(taken)
}

/// Adds `changes` to every span they fall in: the combination's minute, ten minutes, hour and
/// day rows of `assignment_counts`, and `assignment_totals`' rows by type (from every row: `""`
/// is every type), campaign and channel (from the "every type" rows, which count each
/// publication once).
async fn apply<C: ConnectionTrait>(txn: &C, changes: Vec<(ChangeKey, i64)>) -> Result<(), DbErr> {
    let mut counts: BTreeMap<Key, i64> = BTreeMap::new();
    let mut totals: BTreeMap<TotalKey, i64> = BTreeMap::new();
    for ((minute, kind, campaign, channel), count) in changes {
        for width in WIDTHS {
            let start = minute.div_euclid(width) * width;
            if kind.is_empty() {
                *totals
                    .entry((width, start, BY_CAMPAIGN, campaign.clone()))
                    .or_default() += count;
                *totals
                    .entry((width, start, BY_CHANNEL, channel.clone()))
                    .or_default() += count;
            }
            *totals
                .entry((width, start, BY_TYPE, kind.clone()))
                .or_default() += count;
            let key = (
                width,
                start,
                kind.clone(),
                campaign.clone(),
                channel.clone(),
            );
            *counts.entry(key).or_default() += count;
        }
    }
    let totals: Vec<_> = totals.into_iter().filter(|(_, d)| *d != 0).collect();
    let counts: Vec<_> = counts.into_iter().filter(|(_, d)| *d != 0).collect();
    if totals.is_empty() && counts.is_empty() {
        return Ok(());
    }
    let statements = match txn.get_database_backend() {
        DbBackend::Postgres => vec![add_postgres(totals, counts)?],
        _ => add_sqlite(totals, counts),
    };
    run(txn, statements).await
}

/// The keys of `assignment_totals` and `assignment_counts`.
const TOTAL_KEYS: [assignment_total::Column; 4] = {
    use assignment_total::Column as T;
    [T::Width, T::Minute, T::Dimension, T::Value]
};
const COUNT_KEYS: [assignment_count::Column; 5] = {
    use assignment_count::Column as A;
    [
        A::Width,
        A::Minute,
        A::VoucherType,
        A::CampaignId,
        A::Channel,
    ]
};

/// `ON CONFLICT (keys) DO UPDATE SET count = count + excluded.count`.
fn adding<E: EntityTrait>(
    keys: impl IntoIterator<Item = E::Column>,
    count: E::Column,
) -> OnConflict {
    let mut on_conflict = OnConflict::columns(keys);
    on_conflict.value(
        count,
        Expr::col((E::default(), count)).add(Expr::col((Alias::new("excluded"), count))),
    );
    on_conflict
}

/// PostgreSQL: the totals' upsert as a data-modifying WITH (run once whether or not the
/// statement reads it) before the counts', each reading its rows from arrays, one per column,
/// so that the text is the same whatever the number of rows: prepared and planned once per
/// connection, where a multi-row VALUES would be parsed and planned on every batch.
fn add_postgres(
    totals: Vec<(TotalKey, i64)>,
    counts: Vec<(Key, i64)>,
) -> Result<InsertStatement, DbErr> {
    let mut columns = (vec![], vec![], vec![], vec![], vec![]);
    for ((width, minute, dimension, value), count) in totals {
        columns.0.push(width as i32);
        columns.1.push(minute);
        columns.2.push(dimension.to_owned());
        columns.3.push(value);
        columns.4.push(count);
    }
    let (w, m, d, v, c) = columns;
    let add_totals = add_arrays::<assignment_total::Entity>(
        &TOTAL_KEYS,
        assignment_total::Column::Count,
        vec![w.into(), m.into(), d.into(), v.into(), c.into()],
    )?;
    let mut columns = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for ((width, minute, voucher_type, campaign_id, channel), count) in counts {
        columns.0.push(width as i32);
        columns.1.push(minute);
        columns.2.push(voucher_type);
        columns.3.push(campaign_id);
        columns.4.push(channel);
        columns.5.push(count);
    }
    let (w, m, t, ca, ch, c) = columns;
    let mut add_counts = add_arrays::<assignment_count::Entity>(
        &COUNT_KEYS,
        assignment_count::Column::Count,
        vec![w.into(), m.into(), t.into(), ca.into(), ch.into(), c.into()],
    )?;
    let mut cte = CommonTableExpression::new();
    cte.table_name(Alias::new("totals")).query(add_totals);
    add_counts.with_cte(WithClause::new().cte(cte).to_owned());
    Ok(add_counts)
}

/// `INSERT INTO … (keys, count) SELECT unnest($1), unnest($2), … ON CONFLICT (keys) DO UPDATE
/// SET count = count + excluded.count`, with `arrays` holding the rows column by column.
fn add_arrays<E: EntityTrait>(
    keys: &[E::Column],
    count: E::Column,
    arrays: Vec<Value>,
) -> Result<InsertStatement, DbErr> {
    let mut read = Query::select();
    for array in arrays {
        read.expr(Func::cust("unnest").arg(Expr::val(array)));
    }
    let mut insert = Query::insert();
    insert
        .into_table(E::default())
        .columns(keys.iter().copied().chain([count]))
        .select_from(read)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(adding::<E>(keys.iter().copied(), count));
    Ok(insert)
}

/// SQLite, which has no data-modifying WITH and no arrays: multi-row upserts for each table, of
/// at most `SQLITE_ROWS` rows each. (Sending the two as one SQL text measured no faster: SQLite
/// has no round trip to save.)
fn add_sqlite(totals: Vec<(TotalKey, i64)>, counts: Vec<(Key, i64)>) -> Vec<InsertStatement> {
    use assignment_count::Column as A;
    use assignment_total::Column as T;
    let totals = totals
        .into_iter()
        .map(|((width, minute, dimension, value), count)| {
            assignment_total::Model {
                width: width as i32,
                minute,
                dimension: dimension.to_owned(),
                value,
                count,
            }
            .into_active_model()
        });
    let counts = counts.into_iter().map(
        |((width, minute, voucher_type, campaign_id, channel), count)| {
            assignment_count::Model {
                width: width as i32,
                minute,
                voucher_type,
                campaign_id,
                channel,
                count,
            }
            .into_active_model()
        },
    );
    let totals = upserts::<assignment_total::Entity>(
        totals.collect(),
        adding::<assignment_total::Entity>(TOTAL_KEYS, T::Count),
    );
    let counts = upserts::<assignment_count::Entity>(
        counts.collect(),
        adding::<assignment_count::Entity>(COUNT_KEYS, A::Count),
    );
    totals.into_iter().chain(counts).collect()
}

/// Most rows one SQLite statement writes: six values a row stays well under the 32,766 values
/// a statement can bind.
const SQLITE_ROWS: usize = 1_000;

/// The multi-row upserts of `rows`, `SQLITE_ROWS` at a time.
fn upserts<E: EntityTrait>(
    rows: Vec<E::ActiveModel>,
    on_conflict: OnConflict,
) -> Vec<InsertStatement> {
    rows.chunks(SQLITE_ROWS)
        .map(|chunk| {
            E::insert_many(chunk.to_vec())
                .on_conflict(on_conflict.clone())
                .into_query()
        })
        .collect()
}

/// A publication as counted: created_at, campaign, channel and the distinct types of its
/// vouchers that have rows.
type Counted = (
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    BTreeSet<String>,
);

/// Joins a select from `publications` with each of its vouchers' rows (through
/// `publication_vouchers`), for their types.
fn join_vouchers(read: &mut SelectStatement, join: JoinType) {
    read.join(
        join,
        publication_voucher::Entity,
        Expr::col((
            publication_voucher::Entity,
            publication_voucher::Column::PublicationId,
        ))
        .equals((publication::Entity, publication::Column::Id)),
    )
    .join(
        join,
        voucher::Entity,
        Expr::col((voucher::Entity, voucher::Column::Id)).equals((
            publication_voucher::Entity,
            publication_voucher::Column::VoucherId,
        )),
    );
}

/// Each of the stored publications `ids` as counted: created_at, campaign, channel and the
/// distinct types of its vouchers that have rows.
async fn contributions<C: ConnectionTrait>(
    txn: &C,
    ids: &[String],
) -> Result<Vec<(String, Counted)>, DbErr> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    use publication::Column as P;
    let mut read = Query::select()
        .column((publication::Entity, P::Id))
        .column((publication::Entity, P::CreatedAt))
        .column((publication::Entity, P::CampaignId))
        .column((publication::Entity, P::Channel))
        .column((voucher::Entity, voucher::Column::VoucherType))
        .from(publication::Entity)
        .to_owned();
    join_vouchers(&mut read, JoinType::LeftJoin);
    read.and_where(Expr::col((publication::Entity, P::Id)).is_in(ids.to_vec()));
    let mut by_id: HashMap<String, Counted> = HashMap::new();
    for row in txn.query_all(&read).await? {
        let id: String = row.try_get_by_index(0)?;
        let kind: Option<String> = row.try_get_by_index(4)?;
        let entry = match by_id.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert((
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                BTreeSet::new(),
            )),
        };
        entry.3.extend(kind);
    }
    Ok(by_id.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::minute_of;
    use chrono::{TimeZone, Utc};

    #[test]
    fn minutes_round_down_on_both_sides_of_the_epoch() {
        let at = |s| Utc.timestamp_opt(s, 0).single().expect("an instant");
        assert_eq!(minute_of(at(0)), 0);
        assert_eq!(minute_of(at(59)), 0);
        assert_eq!(minute_of(at(60)), 1);
        assert_eq!(minute_of(at(-1)), -1);
        assert_eq!(minute_of(at(-60)), -1);
        assert_eq!(minute_of(at(-61)), -2);
    }
}

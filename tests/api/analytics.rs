//! Analytics: assignment counts kept at ingest answer `assignmentStats` and `totalCount`
//! exactly, for any range and grouping, whatever order the deliveries came in.

use crate::helpers::*;
use crate::on_both;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom, seq::SliceRandom};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

on_both!(
    counts_equal_the_publications_for_random_ranges_and_groupings,
    nonsense_ranges_are_refused,
    only_the_counters_pool_plans_generically,
    appended_changes_count_before_and_after_they_are_folded,
    concurrent_folds_move_each_change_once,
);

const TYPES: [&str; 3] = ["DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD"];
const CHANNELS: [&str; 3] = ["API", "Automation", "voucherify-web-ui"];

/// A publication as counted: created_at, campaign, channel, and its vouchers (or their types).
type Counted<V> = (DateTime<Utc>, Option<String>, Option<String>, V);
/// A group: voucher type, campaign, channel.
type Group = (Option<String>, Option<String>, Option<String>);

/// What the test posted, as the gateway must understand it.
#[derive(Default)]
struct Model {
    /// Publication id → created_at, campaign, channel, voucher ids.
    publications: BTreeMap<String, Counted<Vec<String>>>,
    /// Voucher id → (updated_at, send order, type): the newest facts win.
    vouchers: HashMap<String, (DateTime<Utc>, usize, String)>,
}

impl Model {
    fn types_of(&self, vouchers: &[String]) -> BTreeSet<String> {
        vouchers
            .iter()
            .filter_map(|v| self.vouchers.get(v).map(|(_, _, t)| t.clone()))
            .collect()
    }

    /// Publications in `[from, to)` matching the filter, as (created_at, campaign, channel,
    /// types).
    fn matching(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &Value,
    ) -> Vec<Counted<BTreeSet<String>>> {
        self.publications
            .values()
            .filter(|(at, _, _, _)| from <= *at && *at < to)
            .map(|(at, campaign, channel, vouchers)| {
                (
                    *at,
                    campaign.clone(),
                    channel.clone(),
                    self.types_of(vouchers),
                )
            })
            .filter(|(_, campaign, channel, types)| {
                filter["campaignId"]
                    .as_str()
                    .is_none_or(|c| campaign.as_deref() == Some(c))
                    && filter["channel"]
                        .as_str()
                        .is_none_or(|c| channel.as_deref() == Some(c))
                    && filter["voucherType"]
                        .as_str()
                        .is_none_or(|t| types.contains(t))
            })
            .collect()
    }
}

/// A publication delivery: `vouchers` (id, described type or none, updated_at) — the first is
/// the payload's `voucher`, undescribed ones are only listed in `vouchers_id`.
fn delivery(
    n: usize,
    publication: &str,
    created_at: DateTime<Utc>,
    campaign: Option<&str>,
    channel: Option<&str>,
    voucher: (&str, &str, DateTime<Utc>),
    also: &[String],
) -> Vec<u8> {
    let (voucher_id, kind, updated_at) = voucher;
    let mut ids = vec![voucher_id.to_owned()];
    ids.extend(also.iter().cloned());
    let mut v = json!({
        "id": voucher_id, "code": format!("CODE-{voucher_id}"), "type": kind,
        "holder_id": "cust_1", "metadata": {},
        "updated_at": updated_at.to_rfc3339(), "created_at": "2024-01-01T00:00:00Z",
    });
    if let Some(c) = campaign {
        v["campaign_id"] = json!(c);
    }
    let mut p = json!({"id": publication, "result": "SUCCESS", "customer_id": "cust_1",
        "created_at": created_at.to_rfc3339(), "metadata": {}, "vouchers_id": ids});
    if let Some(c) = channel {
        p["channel"] = json!(c);
    }
    let mut data = json!({
        "customer": {"id": "cust_1", "name": "One", "metadata": {}},
        "publication": p,
        "voucher": v,
    });
    if let Some(c) = campaign {
        data["campaign"] = json!({"id": c, "name": format!("Campaign {c}")});
    }
    bytes(&wrap(
        "customer.publication.succeeded",
        &format!("ev_stats_{n}"),
        data,
    ))
}

/// Random deliveries over three days, posted out of order with duplicates; returns the model.
async fn post_random(app: &TestApp, rng: &mut StdRng, publications: usize) -> Model {
    let base = Utc
        .with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("base");
    let mut model = Model::default();
    let mut bodies = vec![];
    let mut order = 0;
    let voucher_ids: Vec<String> = (0..publications).map(|i| format!("v_s{i}")).collect();
    for i in 0..publications {
        let id = format!("pub_s{i}");
        // Instants on minute and hour boundaries too, and inside them down to microseconds.
        let at = match rng.random_range(0..4) {
            0 => base + Duration::minutes(rng.random_range(0..3 * 1440)),
            _ => base + Duration::microseconds(rng.random_range(0..3 * 86_400_000_000i64)),
        };
        let campaign = [Some("camp_a"), Some("camp_b"), None]
            .choose(rng)
            .copied()
            .flatten();
        let channel = [
            Some("API"),
            Some("Automation"),
            Some("voucherify-web-ui"),
            None,
        ]
        .choose(rng)
        .copied()
        .flatten();
        // The voucher is this publication's own or an earlier one (a voucher published twice,
        // described anew: its type may change, and its earlier publications move with it).
        let voucher = match i > 0 && rng.random_range(0..6) == 0 {
            true => voucher_ids[rng.random_range(0..i)].clone(),
            false => voucher_ids[i].clone(),
        };
        // Ids listed in `vouchers_id` but not described are not assigned (the normaliser's rule).
        let also: Vec<String> = match rng.random_range(0..5) {
            0 => vec![format!("v_undescribed{i}")],
            _ => vec![],
        };
        let kind = *TYPES.choose(rng).expect("a type");
        let updated = base + Duration::seconds(rng.random_range(0..1_000_000));
        let body = delivery(
            i,
            &id,
            at,
            campaign,
            channel,
            (&voucher, kind, updated),
            &also,
        );
        let vouchers = vec![voucher.clone()];
        model.publications.insert(
            id,
            (
                at,
                campaign.map(str::to_owned),
                channel.map(str::to_owned),
                vouchers,
            ),
        );
        bodies.push((body, voucher, updated, kind));
    }
    bodies.shuffle(rng);
    for (_, voucher, updated, kind) in &bodies {
        order += 1;
        let newer = model
            .vouchers
            .get(voucher)
            .is_none_or(|(at, _, _)| *updated >= *at);
        if newer {
            model
                .vouchers
                .insert(voucher.clone(), (*updated, order, (*kind).to_owned()));
        }
    }
    // Duplicates: some deliveries twice, one of them in the same burst.
    let mut sent: Vec<Vec<u8>> = bodies.into_iter().map(|(b, _, _, _)| b).collect();
    let again: Vec<Vec<u8>> = sent.iter().step_by(7).cloned().collect();
    sent.extend(again);
    // In order, so the model's "later wins on a tie" is the gateway's too.
    for chunk in sent.chunks(16) {
        app.post_all(chunk.to_vec()).await;
    }
    model
}

const STATS: &str = "query($from: DateTime!, $to: DateTime!, $bucket: StatsBucket!, $groupBy: [StatsDimension!]!, $filter: StatsFilter) {
  assignmentStats(from: $from, to: $to, bucket: $bucket, groupBy: $groupBy, filter: $filter) {
    total
    buckets { start count }
    groups { voucherType campaign { id } channel total buckets { start count } }
  }
}";

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What `assignmentStats` must answer, computed from the model.
fn expected(
    model: &Model,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    width: i64,
    group_by: &[&str],
    filter: &Value,
) -> Value {
    let bucket_of = |at: DateTime<Utc>| at.timestamp().div_euclid(60).div_euclid(width);
    let first = bucket_of(from);
    let last = bucket_of(to - Duration::nanoseconds(1));
    let rows = model.matching(from, to, filter);
    let dense = |counts: &BTreeMap<i64, i64>| -> Vec<Value> {
        (first..=last)
            .map(|b| {
                let start = DateTime::UNIX_EPOCH + Duration::minutes(b * width);
                json!({"start": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                       "count": counts.get(&b).copied().unwrap_or(0)})
            })
            .collect()
    };
    let mut total = BTreeMap::new();
    let mut groups: BTreeMap<Group, BTreeMap<i64, i64>> = BTreeMap::new();
    for (at, campaign, channel, types) in &rows {
        *total.entry(bucket_of(*at)).or_insert(0) += 1;
        if group_by.is_empty() {
            continue;
        }
        let kinds: Vec<Option<String>> = match (
            filter["voucherType"].as_str(),
            group_by.contains(&"VOUCHER_TYPE"),
        ) {
            (Some(t), true) => vec![Some(t.to_owned())],
            (None, true) => types.iter().cloned().map(Some).collect(),
            (_, false) => vec![None],
        };
        for kind in kinds {
            let key = (
                kind,
                campaign.clone().filter(|_| group_by.contains(&"CAMPAIGN")),
                channel.clone().filter(|_| group_by.contains(&"CHANNEL")),
            );
            *groups
                .entry(key)
                .or_default()
                .entry(bucket_of(*at))
                .or_insert(0) += 1;
        }
    }
    let groups: Vec<Value> = groups
        .iter()
        .map(|((kind, campaign, channel), counts)| {
            json!({"voucherType": kind, "campaign": campaign.as_ref().map(|c| json!({"id": c})),
                   "channel": channel, "total": counts.values().sum::<i64>(), "buckets": dense(counts)})
        })
        .collect();
    json!({"total": total.values().sum::<i64>(), "buckets": dense(&total), "groups": groups})
}

/// Groups in a canonical order, so answers compare whatever order groups come in.
fn canonical(mut answer: Value) -> Value {
    if let Some(groups) = answer["groups"].as_array_mut() {
        groups.sort_by_key(|g| g.to_string());
    }
    answer
}

async fn counts_equal_the_publications_for_random_ranges_and_groupings(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    let seed: u64 = std::env::var("PUBGATE_STATS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let model = post_random(&app, &mut rng, 160).await;
    assert_eq!(
        app.count("publications").await,
        model.publications.len() as i64,
        "every publication stored once"
    );
    let mut stored = app
        .texts("SELECT id || ' ' || voucher_type FROM vouchers ORDER BY id")
        .await;
    stored.sort();
    let mut posted: Vec<Option<String>> = model
        .vouchers
        .iter()
        .map(|(id, (_, _, kind))| Some(format!("{id} {kind}")))
        .collect();
    posted.sort();
    assert_eq!(
        stored, posted,
        "each voucher has the type of its newest facts (seed {seed})"
    );
    let base = Utc
        .with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("base");
    let dims = ["VOUCHER_TYPE", "CAMPAIGN", "CHANNEL"];
    let created: Vec<DateTime<Utc>> = model.publications.values().map(|p| p.0).collect();
    for case in 0..60 {
        let (bucket, width, span) = match rng.random_range(0..3) {
            0 => ("MINUTE", 1, 6 * 3600),
            1 => ("HOUR", 60, 4 * 86_400),
            _ => ("DAY", 1440, 5 * 86_400),
        };
        let start = base - Duration::hours(6);
        let from = match rng.random_range(0..3) {
            0 => start + Duration::minutes(rng.random_range(0..span / 60)),
            _ => start + Duration::microseconds(rng.random_range(0..span * 1_000_000)),
        };
        let length = Duration::microseconds(rng.random_range(1..span * 1_000_000));
        // A window starting or ending next to a publication, so that the partial minutes at
        // its edges (counted from the publications, or taken away from their whole minute)
        // hold some: spread over three days, few minutes do.
        let near = |rng: &mut StdRng| {
            let at = created.choose(rng).expect("a publication");
            *at + Duration::microseconds(rng.random_range(-40_000_000..40_000_000))
        };
        let (from, to) = match rng.random_range(0..4) {
            0 => {
                let from = near(&mut rng);
                (from, from + length)
            }
            1 => {
                let to = near(&mut rng);
                (to - length, to)
            }
            _ => (from, from + length),
        };
        let group_by: Vec<&str> = dims
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.4))
            .collect();
        let mut filter = json!({});
        if rng.random_bool(0.3) {
            filter["voucherType"] = json!(TYPES.choose(&mut rng));
        }
        if rng.random_bool(0.3) {
            filter["campaignId"] = json!(["camp_a", "camp_b"].choose(&mut rng));
        }
        if rng.random_bool(0.2) {
            filter["channel"] = json!(CHANNELS.choose(&mut rng));
        }
        let answer = app
            .graphql(
                STATS,
                json!({"from": stamp(from), "to": stamp(to), "bucket": bucket,
                       "groupBy": group_by, "filter": filter}),
            )
            .await;
        assert!(answer["errors"].is_null(), "{answer}");
        // What COUNT(*) over the publications says (a customer filter keeps the kept counts
        // out of it), and what the test posted, must agree first.
        let mut direct_filter = filter.clone();
        direct_filter["customerId"] = json!("cust_1");
        direct_filter["createdAfter"] = json!(stamp(from - Duration::microseconds(1)));
        direct_filter["createdBefore"] = json!(stamp(to));
        let direct = total_count(&app, &direct_filter).await;
        assert_eq!(
            direct,
            json!(model.matching(from, to, &filter).len()),
            "COUNT(*) and the model, case {case} of seed {seed}: {direct_filter}"
        );
        let want = expected(&model, from, to, width, &group_by, &filter);
        let summary = |v: &Value| -> Vec<String> {
            let mut g: Vec<String> = v["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    format!(
                        "{} {} {} = {}",
                        g["voucherType"], g["campaign"]["id"], g["channel"], g["total"]
                    )
                })
                .collect();
            g.sort();
            g.insert(0, format!("total {}", v["total"]));
            g
        };
        assert_eq!(
            summary(&answer["data"]["assignmentStats"]),
            summary(&want),
            "case {case} of seed {seed}: {bucket} [{from}, {to}) by {group_by:?} where {filter}"
        );
        assert_eq!(
            canonical(answer["data"]["assignmentStats"].clone()),
            canonical(want),
            "case {case} of seed {seed} (PUBGATE_STATS_SEED): {bucket} [{from}, {to}) by {group_by:?} where {filter}"
        );
        // totalCount over the same dimensions, with its strict bounds.
        let mut list_filter = filter.clone();
        list_filter["createdAfter"] = json!(stamp(from));
        list_filter["createdBefore"] = json!(stamp(to));
        let counted = total_count(&app, &list_filter).await;
        let strictly_after = model
            .matching(from + Duration::microseconds(1), to, &filter)
            .len();
        assert_eq!(
            counted,
            json!(strictly_after),
            "totalCount, case {case} of seed {seed}: {list_filter}"
        );
    }
    // Open-ended counts read the kept counts too.
    for filter in [
        json!({}),
        json!({"voucherType": "GIFT_VOUCHER"}),
        json!({"campaignId": "camp_a", "channel": "API"}),
    ] {
        let counted = total_count(&app, &filter).await;
        let far = Utc
            .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
            .single()
            .expect("far");
        let want = model.matching(DateTime::UNIX_EPOCH, far, &filter).len();
        assert_eq!(counted, json!(want), "{filter}");
    }
    // The statements of a grouped answer do not grow with the publications.
    let (from, to) = (base, base + Duration::days(3) + Duration::seconds(7));
    let variables = json!({"from": stamp(from + Duration::milliseconds(1500)), "to": stamp(to),
        "bucket": "HOUR", "groupBy": ["VOUCHER_TYPE", "CHANNEL"]});
    let before = app.statements.load(Ordering::Relaxed);
    let answer = app.graphql(STATS, variables.clone()).await;
    let statements = app.statements.load(Ordering::Relaxed) - before;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(statements, 1, "whole spans and edges in one statement");
    // The migrations' fills, from the publications alone, equal what ingest kept.
    fills_equal_the_kept_counts(&app).await;
}

/// The counts kept at ingest equal the migrations' fills from the publications alone.
pub(crate) async fn fills_equal_the_kept_counts(app: &TestApp) {
    // Ingest counts a publication's types from its vouchers' rows, and reads nothing back when
    // a batch brings a voucher without a row: it relies on a publication linking only the
    // vouchers its own delivery describes, whose rows are written with it.
    let unlinked = app
        .texts(
            "SELECT pv.publication_id || ' ' || pv.voucher_id FROM publication_vouchers pv \
             LEFT JOIN vouchers v ON v.id = pv.voucher_id WHERE v.id IS NULL",
        )
        .await;
    assert!(
        unlinked.is_empty(),
        "links to vouchers without a row: {unlinked:?}"
    );
    let (kept, kept_totals) = (counts_table(app).await, totals_table(app).await);
    app.execute("DELETE FROM assignment_counts").await;
    app.execute("DELETE FROM assignment_totals").await;
    migration::fill_assignment_counts(&app.db)
        .await
        .expect("fill");
    migration::fill_assignment_totals(&app.db)
        .await
        .expect("fill");
    assert_eq!(
        counts_table(app).await,
        kept,
        "the fill equals the counts kept at ingest"
    );
    assert_eq!(
        totals_table(app).await,
        kept_totals,
        "the fill equals the totals kept at ingest"
    );
    let kept = voucher_types(app).await;
    app.execute("UPDATE publications SET voucher_types = '[\"x\"]'")
        .await;
    migration::fill_publication_voucher_types(&app.db)
        .await
        .expect("fill");
    assert_eq!(
        voucher_types(app).await,
        kept,
        "the fill equals the voucher types kept on the publications at ingest"
    );
}

/// Each publication's kept voucher types (`publications.voucher_types`), as sets.
async fn voucher_types(app: &TestApp) -> Vec<(String, BTreeSet<String>)> {
    let rows = app
        .texts("SELECT id || ' ' || voucher_types FROM publications ORDER BY id")
        .await;
    rows.into_iter()
        .map(|row| {
            let row = row.expect("a row");
            let (id, types) = row.split_once(' ').expect("id and types");
            let types = serde_json::from_str(types).expect("a JSON array of types");
            (id.to_owned(), types)
        })
        .collect()
}

/// The non-zero rows of `assignment_totals`, every appended change folded.
pub(crate) async fn totals_table(app: &TestApp) -> Vec<String> {
    app.fold_counts().await;
    let rows = app
        .texts(
            "SELECT width || '|' || minute || '|' || dimension || '|' || value || '|' || count \
             FROM assignment_totals WHERE count <> 0 ORDER BY width, minute, dimension, value",
        )
        .await;
    let rows: Vec<String> = rows.into_iter().map(|r| r.expect("a row")).collect();
    assert!(!rows.is_empty(), "totals are kept");
    rows
}

/// `totalCount` of the publications matching `filter`.
async fn total_count(app: &TestApp, filter: &Value) -> Value {
    let answer = app
        .graphql(
            "query($f: PublicationFilter) { publications(first: 0, filter: $f) { totalCount } }",
            json!({"f": filter}),
        )
        .await;
    answer["data"]["publications"]["totalCount"].clone()
}

/// The non-zero rows of `assignment_counts`, every appended change folded.
pub(crate) async fn counts_table(app: &TestApp) -> Vec<String> {
    app.fold_counts().await;
    let rows = app
        .texts(
            "SELECT width || '|' || minute || '|' || voucher_type || '|' || campaign_id || '|' || channel \
             || '|' || count FROM assignment_counts WHERE count <> 0 \
             ORDER BY width, minute, voucher_type, campaign_id, channel",
        )
        .await;
    rows.into_iter().map(|r| r.expect("a row")).collect()
}

async fn nonsense_ranges_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (
            "2025-01-02T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "MINUTE",
            "before",
        ),
        (
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "HOUR",
            "before",
        ),
        (
            "2024-01-01T00:00:00Z",
            "2025-02-04T00:00:00Z",
            "MINUTE",
            "at most 100000",
        ),
        (
            "1969-12-31T00:00:00Z",
            "1970-01-02T00:00:00Z",
            "DAY",
            "1970",
        ),
    ];
    for (from, to, bucket, says) in cases {
        let answer = app
            .graphql(
                STATS,
                json!({"from": from, "to": to, "bucket": bucket, "groupBy": []}),
            )
            .await;
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(says)),
            "{from} {to} {bucket}: {answer}"
        );
    }
}

/// The counters' pool plans generically without JIT or parallel workers, and the shared pool
/// that every other read goes through keeps PostgreSQL's defaults.
async fn only_the_counters_pool_plans_generically(backend: Backend) {
    let Some(test_db) = TestDb::create(backend).await else {
        return;
    };
    let shared = pubgate::store::connect(&test_db.url, 1)
        .await
        .expect("the shared pool");
    let counters = pubgate::store::connect_tuned(
        &test_db.url,
        &shared,
        1,
        &pubgate::store::stats::GENERIC_PLANS,
    )
    .await
    .expect("the counters' pool");
    if backend == Backend::Sqlite {
        // No such settings: the counters read through the shared pool.
        assert!(counters.get_database_backend() == sea_orm::DbBackend::Sqlite);
        return;
    }
    for (name, tuned) in pubgate::store::stats::GENERIC_PLANS {
        let show = |db: sea_orm::DatabaseConnection| async move {
            use sea_orm::ConnectionTrait;
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SHOW {name}"),
                ))
                .await
                .expect("SHOW")
                .expect("a row");
            row.try_get_by_index::<String>(0).expect("a setting")
        };
        assert_eq!(
            show(counters.clone()).await,
            tuned,
            "{name} on the counters' pool"
        );
        assert_ne!(
            show(shared.clone()).await,
            tuned,
            "{name} on the shared pool"
        );
    }
}

/// Appends, behind the gateway's back, one publication's worth of change to the counts: the
/// "every type" row and `kind`'s, at `at`, in campaign `camp_x` and channel `API`.
async fn append_change(app: &TestApp, at: DateTime<Utc>, kind: &str) {
    let mut change = pubgate::store::stats::Change::default();
    let types = BTreeSet::from([kind.to_owned()]);
    change.add(1, at, Some("camp_x"), Some("API"), &types);
    change.write(&app.db).await.expect("append");
}

/// Every answer of the counts adds the changes batches appended and no fold has moved yet, and
/// is the same once they are folded.
async fn appended_changes_count_before_and_after_they_are_folded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.query_cache_bytes = 0).await else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(7);
    post_random(&app, &mut rng, 40).await;
    app.fold_counts().await;
    let base = Utc
        .with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("base");
    // The assignments grouped by type and the gift vouchers' totalCount, around every instant
    // posted or appended.
    async fn answer(app: &TestApp, base: DateTime<Utc>) -> (Value, i64) {
        let from = stamp(base - Duration::days(1));
        let variables = json!({"from": from, "to": stamp(base + Duration::days(4)),
            "bucket": "HOUR", "groupBy": ["VOUCHER_TYPE"]});
        let stats = app.graphql(STATS, variables).await;
        assert!(stats["errors"].is_null(), "{stats}");
        let gifts = json!({"voucherType": "GIFT_VOUCHER", "createdAfter": from});
        let gifts = total_count(app, &gifts).await;
        (canonical(stats), gifts.as_i64().expect("a count"))
    }
    let (before, gifts_before) = answer(&app, base).await;
    // The folder runs a moment after each commit and every two seconds: appended behind its
    // back, a change may be folded before it is read. Each try appends one more and reads; a
    // read is known to have seen it unfolded when it is still there after the read.
    let mut appended = 0;
    let mut seen_unfolded = false;
    for minute in 0..5 {
        append_change(&app, base + Duration::minutes(90 + minute), "GIFT_VOUCHER").await;
        appended += 1;
        let (now, gifts) = answer(&app, base).await;
        let still_appended = app.count("assignment_changes").await > 0;
        assert_eq!(
            now["data"]["assignmentStats"]["total"],
            json!(
                before["data"]["assignmentStats"]["total"]
                    .as_i64()
                    .expect("a total")
                    + appended
            ),
            "{now}"
        );
        assert_eq!(gifts, gifts_before + appended, "totalCount adds the change");
        if still_appended {
            seen_unfolded = true;
            break;
        }
    }
    assert!(seen_unfolded, "a read found the change still appended");
    let (unfolded, unfolded_gifts) = answer(&app, base).await;
    app.fold_counts().await;
    assert_eq!(app.count("assignment_changes").await, 0, "folded");
    let (folded, folded_gifts) = answer(&app, base).await;
    assert_eq!(folded, unfolded, "the same answer once folded");
    assert_eq!(folded_gifts, unfolded_gifts);
    let gift_groups = folded["data"]["assignmentStats"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["voucherType"] == "GIFT_VOUCHER")
        .expect("the gift vouchers' group")["total"]
        .clone();
    let gift_before = before["data"]["assignmentStats"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["voucherType"] == "GIFT_VOUCHER")
        .map_or(0, |g| g["total"].as_i64().expect("a total"));
    assert_eq!(gift_groups, json!(gift_before + appended));
}

/// Folds running at once (as on several instances) move each appended change once: the kept
/// counts are the sums of what was appended, in every span.
async fn concurrent_folds_move_each_change_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let base = Utc
        .with_ymd_and_hms(2025, 3, 1, 23, 0, 0)
        .single()
        .expect("base");
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..30 {
        let mut change = pubgate::store::stats::Change::default();
        for _ in 0..200 {
            let at = base + Duration::seconds(rng.random_range(0..3 * 3600));
            let kind = *TYPES.choose(&mut rng).expect("a type");
            let channel = *CHANNELS.choose(&mut rng).expect("a channel");
            let campaign = format!("camp_{}", rng.random_range(0..20));
            let sign = if rng.random_ratio(1, 10) { -1 } else { 1 };
            change.add(
                sign,
                at,
                Some(&campaign),
                Some(channel),
                &BTreeSet::from([kind.to_owned()]),
            );
            let minute = at.timestamp().div_euclid(60);
            for width in pubgate::store::stats::WIDTHS {
                let start = minute.div_euclid(width) * width;
                for kind in ["", kind] {
                    *want
                        .entry(format!("{width}|{start}|{kind}|{campaign}|{channel}"))
                        .or_default() += sign;
                }
            }
        }
        change.write(&app.db).await.expect("append");
    }
    let appended = app.count("assignment_changes").await;
    let fold = || pubgate::store::stats::fold(&app.db);
    let (a, b, c, d) = tokio::join!(fold(), fold(), fold(), fold());
    let moved: u64 = [a, b, c, d].into_iter().map(|n| n.expect("fold")).sum();
    // The gateway's own folder may take some first (it looks every two seconds): no change is
    // moved twice, and none is left.
    assert!(moved <= appended as u64, "{moved} moved of {appended}");
    assert_eq!(
        app.count("assignment_changes").await,
        0,
        "every change folded"
    );
    let want: Vec<String> = want
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(key, n)| format!("{key}|{n}"))
        .collect();
    let mut kept = counts_table(&app).await;
    kept.sort();
    let mut want = want;
    want.sort();
    assert_eq!(kept, want, "each change counted once in every span");
    // The totals equal their fill from the counts.
    let kept_totals = totals_table(&app).await;
    app.execute("DELETE FROM assignment_totals").await;
    migration::fill_assignment_totals(&app.db)
        .await
        .expect("fill");
    assert_eq!(
        totals_table(&app).await,
        kept_totals,
        "totals follow the counts"
    );
}

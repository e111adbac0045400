//! The ingest bound: what the database itself can durably take. The same deliveries that
//! `pubgate simulate --seed S` posts are normalised up front (not timed), then written straight
//! into a fresh store: one transaction per batch, one multi-row INSERT per table, plain upserts
//! (no HTTP, no signature check, no idempotency lookup, no newer-facts condition, no savepoints),
//! with the assignment counts those publications add.
//! Each commit is durable (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`).
//!
//! `cargo bench --bench bound -- --database-url URL --events 20000 --batch 256`
//! (benches/ingest_bound.sh runs it beside the gateway and prints the ratio).

use chrono::{DateTime, Duration, Utc};
use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
    webhook_event,
};
use pubgate::domain::{envelope::Envelope, normalise};
use pubgate::simulate::Generator;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, IdenStatic, IntoActiveModel, Iterable, TransactionTrait,
};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

struct Args {
    database_url: String,
    events: usize,
    batch: usize,
    seed: u64,
    customers: u64,
    campaigns: u64,
    /// When non-zero, the publications' creation times are spread evenly over this many
    /// minutes before the load starts (the last one made at the start), instead of being the
    /// moment each was generated: a store as months of a shop's assignments leave it, where
    /// every minute of the dashboard's windows holds some, rather than an hour's burst.
    spread_minutes: i64,
}

fn args() -> Args {
    let mut args = Args {
        database_url: "sqlite://bound.db?mode=rwc".into(),
        events: 20_000,
        batch: 256,
        seed: 2,
        customers: 2000,
        campaigns: 12,
        spread_minutes: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--database-url" => args.database_url = value(),
            "--events" => args.events = value().parse().unwrap_or(args.events),
            "--batch" => args.batch = value().parse().unwrap_or(args.batch).max(1),
            "--seed" => args.seed = value().parse().unwrap_or(args.seed),
            "--customers" => args.customers = value().parse().unwrap_or(args.customers),
            "--campaigns" => args.campaigns = value().parse().unwrap_or(args.campaigns),
            "--spread-minutes" => {
                args.spread_minutes = value().parse().unwrap_or(args.spread_minutes)
            }
            _ => {} // `cargo bench` adds `--bench`
        }
    }
    args
}

/// One delivery, ready to write.
struct Ready {
    event: webhook_event::Model,
    rows: normalise::Normalised,
}

/// The distinct types of a delivery's publication's vouchers, as ingest counts them.
fn types_of(r: &Ready, facts: &normalise::PublicationFacts) -> BTreeSet<String> {
    r.rows
        .vouchers
        .iter()
        .filter(|v| facts.voucher_ids.contains(&v.row.id))
        .map(|v| v.row.voucher_type.clone())
        .collect()
}

/// The next `count` deliveries from `generator`, numbered from `first`; `created` gives a
/// delivery's number the creation time of its publication, if it is not the generator's.
fn prepare(
    generator: &mut Generator,
    first: usize,
    count: usize,
    created: &dyn Fn(usize) -> Option<DateTime<Utc>>,
) -> Vec<Ready> {
    (first..first + count)
        .map(|n| {
            let body = generator.next_body();
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let envelope = Envelope::read(&body, &value);
            let received_at = pubgate::domain::envelope::now();
            let mut rows = normalise::normalise(&value, &envelope, received_at);
            if let (Some(at), Some(facts)) = (created(n), rows.publication.as_mut()) {
                facts.row.created_at = at;
            }
            let event = webhook_event::Model {
                id: n as i64 + 1,
                idempotency_key: envelope.idempotency_key.clone(),
                delivery_id: envelope.delivery_id.clone(),
                event_id: envelope.event_id.clone(),
                source_id: envelope.source_id.clone(),
                project_id: envelope.project_id.clone(),
                event_type: envelope.event_type.clone(),
                event_name: envelope.event_name.clone(),
                occurred_at: envelope.occurred_at,
                received_at,
                signature_verified: true,
                normalized: rows.normalized,
                normalization_note: rows.note.clone(),
                body: Some(String::from_utf8_lossy(&body).into_owned()),
                payload_removed_at: None,
            };
            Ready { event, rows }
        })
        .collect()
}

/// One multi-row upsert of `rows` (the last row per key wins within the batch).
async fn upsert_all<E, C>(
    txn: &C,
    rows: Vec<(String, E::Model)>,
    key: &[E::Column],
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    let mut unique: HashMap<String, E::Model> = HashMap::new();
    for (id, row) in rows {
        unique.insert(id, row);
    }
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| !key.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    let mut on_conflict = OnConflict::columns(key.to_vec());
    if others.is_empty() {
        on_conflict.do_nothing();
    } else {
        on_conflict.update_columns(others);
    }
    E::insert_many(unique.into_values().map(IntoActiveModel::into_active_model))
        .on_conflict(on_conflict)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn write_batch(db: &sea_orm::DatabaseConnection, batch: &[Ready]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    webhook_event::Entity::insert_many(batch.iter().map(|r| r.event.clone().into_active_model()))
        .exec_without_returning(&txn)
        .await?;
    let all = || batch.iter().filter(|r| r.rows.normalized);
    let with_event = |r: &Ready| r.event.id;
    let customers = all()
        .flat_map(|r| {
            r.rows.customers.iter().map(move |c| {
                let row = customer::Model {
                    event_id: with_event(r),
                    ..c.clone()
                };
                (row.id.clone(), row)
            })
        })
        .collect();
    upsert_all::<customer::Entity, _>(&txn, customers, &[customer::Column::Id]).await?;
    let campaigns = all()
        .flat_map(|r| {
            r.rows.campaigns.iter().map(move |c| {
                let row = campaign::Model {
                    event_id: with_event(r),
                    ..c.clone()
                };
                (row.id.clone(), row)
            })
        })
        .collect();
    upsert_all::<campaign::Entity, _>(&txn, campaigns, &[campaign::Column::Id]).await?;
    let categories = all()
        .flat_map(|r| r.rows.categories.iter().map(|c| (c.id.clone(), c.clone())))
        .collect();
    upsert_all::<category::Entity, _>(&txn, categories, &[category::Column::Id]).await?;
    let vouchers = all()
        .flat_map(|r| {
            r.rows.vouchers.iter().map(move |v| {
                let row = voucher::Model {
                    event_id: with_event(r),
                    ..v.row.clone()
                };
                (row.id.clone(), row)
            })
        })
        .collect();
    upsert_all::<voucher::Entity, _>(&txn, vouchers, &[voucher::Column::Id]).await?;
    let links = all()
        .flat_map(|r| {
            r.rows.vouchers.iter().flat_map(|v| {
                v.category_ids.iter().map(|category_id| {
                    let row = voucher_category::Model {
                        voucher_id: v.row.id.clone(),
                        category_id: category_id.clone(),
                    };
                    (format!("{}\u{0}{}", row.voucher_id, row.category_id), row)
                })
            })
        })
        .collect();
    upsert_all::<voucher_category::Entity, _>(
        &txn,
        links,
        &[
            voucher_category::Column::VoucherId,
            voucher_category::Column::CategoryId,
        ],
    )
    .await?;
    let publications = all()
        .filter_map(|r| {
            let facts = r.rows.publication.as_ref()?;
            let row = publication::Model {
                seq: r.event.id,
                received_at: r.event.received_at,
                voucher_types: pubgate::store::stats::types_json(&types_of(r, facts)),
                ..facts.row.clone()
            };
            Some((row.id.clone(), row))
        })
        .collect();
    upsert_all::<publication::Entity, _>(&txn, publications, &[publication::Column::Id]).await?;
    let publication_links = all()
        .filter_map(|r| r.rows.publication.as_ref())
        .flat_map(|facts| {
            facts
                .voucher_ids
                .iter()
                .enumerate()
                .map(|(position, voucher_id)| {
                    let row = publication_voucher::Model {
                        publication_id: facts.row.id.clone(),
                        voucher_id: voucher_id.clone(),
                        position: i32::try_from(position).unwrap_or(i32::MAX),
                    };
                    (
                        format!("{}\u{0}{}", row.publication_id, row.voucher_id),
                        row,
                    )
                })
        })
        .collect();
    upsert_all::<publication_voucher::Entity, _>(
        &txn,
        publication_links,
        &[
            publication_voucher::Column::PublicationId,
            publication_voucher::Column::VoucherId,
        ],
    )
    .await?;
    // The changes to the assignment counts the gateway appends, in one statement (the
    // generator's publications are all new).
    let mut counts = pubgate::store::stats::Change::default();
    for r in all() {
        let Some(facts) = r.rows.publication.as_ref() else {
            continue;
        };
        let p = &facts.row;
        let types = types_of(r, facts);
        counts.add(
            1,
            p.created_at,
            p.campaign_id.as_deref(),
            p.channel.as_deref(),
            &types,
        );
    }
    counts.write(&txn).await?;
    txn.commit().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let db = pubgate::store::connect(&args.database_url, 2).await?;
    pubgate::store::migrate(&db).await?;
    // Deliveries are generated and normalised a batch at a time, outside the timed section, so
    // a million of them need not sit in memory at once.
    let mut generator = Generator::new(args.seed, args.customers, args.campaigns, 0.0);
    let (start, events) = (Utc::now(), args.events as i64);
    let step = Duration::minutes(args.spread_minutes) / i32::try_from(events.max(1))?;
    let created = |n: usize| {
        (args.spread_minutes > 0)
            .then(|| start - step * i32::try_from(events - n as i64).unwrap_or(0))
    };
    let mut commits = Vec::new();
    let mut written = 0;
    // The changes to the assignment counts the batches append are folded as the gateway folds
    // them (store::ingest: once the commits of a tenth of a second have gathered), and the
    // folds' time counts.
    let (mut folding, mut since_fold) = (0.0, 0.0);
    while written < args.events {
        let batch = prepare(
            &mut generator,
            written,
            args.batch.min(args.events - written),
            &created,
        );
        let at = Instant::now();
        write_batch(&db, &batch).await?;
        let took = at.elapsed().as_secs_f64() * 1000.0;
        commits.push(took);
        written += batch.len();
        since_fold += took;
        if since_fold >= 100.0 || written >= args.events {
            let at = Instant::now();
            pubgate::store::stats::fold(&db).await?;
            folding += at.elapsed().as_secs_f64() * 1000.0;
            since_fold = 0.0;
        }
    }
    let seconds = (commits.iter().sum::<f64>() + folding) / 1000.0;
    // Leave the store as the gateway would: the sequence at the newest event, so a gateway
    // started on this database carries on from here (benches/scaling.sh relies on it).
    db.execute_unprepared(&format!(
        "UPDATE pubgate_sequence SET value = {} WHERE id = 1",
        args.events
    ))
    .await?;
    commits.sort_by(f64::total_cmp);
    let pick = |q: f64| commits[((commits.len() - 1) as f64 * q).round() as usize];
    println!(
        "bound: {} events in {:.2} s = {:.0} events/s; batch {} ({} commits), commit p50 {:.1} ms, p99 {:.1} ms",
        args.events,
        seconds,
        args.events as f64 / seconds,
        args.batch,
        commits.len(),
        pick(0.5),
        pick(0.99),
    );
    Ok(())
}

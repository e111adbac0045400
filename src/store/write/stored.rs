//! What is stored now for every row a batch touches: the facts time of each customer, campaign
//! and voucher, each campaign's and voucher's type, and which publications exist. One statement per
//! kind the batch mentions, whatever the batch size.

use crate::domain::delivery::Delivery;
use crate::domain::normalise::{code_key, code_of_key};
use entity::{campaign, customer, publication, voucher};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// The stored state the replay starts from.
#[derive(Debug, Default)]
pub(super) struct Before {
    /// Facts time by customer id.
    pub customers: HashMap<String, i64>,
    /// Facts time and voucher type by campaign id.
    pub campaigns: HashMap<String, (i64, Option<String>)>,
    /// Campaign id by name, for the names vouchers give without an id (also in `campaigns`).
    pub campaign_names: HashMap<String, String>,
    /// Facts time and type by voucher id: the vouchers the batch describes or its
    /// publications assign.
    pub vouchers: HashMap<String, (i64, String)>,
    /// The voucher (with an id) that a code names, for the codes of the batch's vouchers known
    /// only by their code: facts time and id.
    pub real_by_code: HashMap<String, (i64, String)>,
    /// Whole stored rows of vouchers keyed by their code (`code_key`) whose id the batch
    /// brings: they are merged into the row of that id.
    pub code_keyed: HashMap<String, voucher::Model>,
    pub publications: HashSet<String>,
}

/// Reads the stored state of every id `batch` mentions.
pub(super) async fn read<C: ConnectionTrait>(
    txn: &C,
    batch: &[(i64, &Delivery)],
) -> Result<Before, DbErr> {
    let facts = || batch.iter().map(|(_, d)| &d.normalised);
    let customer_ids: HashSet<&str> = facts()
        .flat_map(|n| n.customers.iter().map(|c| c.id.as_str()))
        .collect();
    // A voucher whose type the payload left out takes its campaign's.
    let campaign_ids: HashSet<&str> = facts()
        .flat_map(|n| {
            n.campaigns.iter().map(|c| c.id.as_str()).chain(
                n.vouchers
                    .iter()
                    .filter(|v| !v.type_known)
                    .filter_map(|v| v.row.campaign_id.as_deref()),
            )
        })
        .collect();
    let campaign_names: HashSet<&str> = facts()
        .flat_map(|n| n.vouchers.iter())
        .filter(|v| v.row.campaign_id.is_none())
        .filter_map(|v| v.campaign_name.as_deref())
        .collect();
    let voucher_ids: HashSet<&str> = facts()
        .flat_map(|n| {
            n.vouchers.iter().map(|v| v.row.id.as_str()).chain(
                n.publication
                    .iter()
                    .flat_map(|p| p.voucher_ids.iter().map(String::as_str)),
            )
        })
        .collect();
    let vouchers = Vouchers::read(txn, batch, voucher_ids).await?;
    let publication_ids: HashSet<&str> = facts()
        .filter_map(|n| n.publication.as_ref().map(|p| p.row.id.as_str()))
        .collect();
    let mut campaigns = campaigns_by(txn, campaign::Column::Id, campaign_ids).await?;
    let mut by_name: HashMap<String, (String, (bool, i64))> = HashMap::new();
    for (id, name, facts_at, kind, deleted_at) in
        campaigns_by(txn, campaign::Column::Name, campaign_names).await?
    {
        // Names are unique within a Voucherify project, but a deleted campaign's name may be
        // given to a new one: a live campaign wins, then the newest facts, then the greatest
        // id, the same on every read.
        let rank = (deleted_at.is_none(), facts_at);
        let better = by_name
            .get(&name)
            .is_none_or(|(seen, seen_rank)| (rank, &id) > (*seen_rank, seen));
        if better {
            by_name.insert(name.clone(), (id.clone(), rank));
        }
        campaigns.push((id, name, facts_at, kind, deleted_at));
    }
    Ok(Before {
        customers: facts_times::<customer::Entity, _>(
            txn,
            customer::Column::Id,
            customer::Column::FactsAt,
            customer_ids,
        )
        .await?,
        campaigns: campaigns
            .into_iter()
            .map(|(id, _, facts_at, kind, _)| (id, (facts_at, kind)))
            .collect(),
        campaign_names: by_name
            .into_iter()
            .map(|(name, (id, _))| (name, id))
            .collect(),
        vouchers: vouchers.facts,
        real_by_code: vouchers.real_by_code,
        code_keyed: vouchers.code_keyed,
        publications: match publication_ids.is_empty() {
            true => HashSet::new(),
            false => publication::Entity::find()
                .select_only()
                .column(publication::Column::Id)
                .filter(publication::Column::Id.is_in(publication_ids))
                .into_tuple::<String>()
                .all(txn)
                .await?
                .into_iter()
                .collect(),
        },
    })
}

/// What is stored of the vouchers a batch mentions.
struct Vouchers {
    facts: HashMap<String, (i64, String)>,
    real_by_code: HashMap<String, (i64, String)>,
    code_keyed: HashMap<String, voucher::Model>,
}

impl Vouchers {
    /// One statement for the vouchers `ids` (with the code keys of the batch's vouchers that
    /// have ids, which may be stored from before their ids were known) and those with the
    /// codes of the batch's vouchers known only by code; one more, only when the batch brings
    /// the id of a voucher stored under its code, for those rows whole.
    async fn read<C: ConnectionTrait>(
        txn: &C,
        batch: &[(i64, &Delivery)],
        mut ids: HashSet<&str>,
    ) -> Result<Self, DbErr> {
        let vouchers = || batch.iter().flat_map(|(_, d)| d.normalised.vouchers.iter());
        let keys: HashSet<String> = vouchers()
            .filter(|v| code_of_key(&v.row.id).is_none())
            .map(|v| code_key(&v.row.code))
            .collect();
        ids.extend(keys.iter().map(String::as_str));
        let codes: HashSet<&str> = vouchers().filter_map(|v| code_of_key(&v.row.id)).collect();
        let mut found = Vouchers {
            facts: HashMap::new(),
            real_by_code: HashMap::new(),
            code_keyed: HashMap::new(),
        };
        if ids.is_empty() {
            return Ok(found);
        }
        let mut condition = Condition::any().add(voucher::Column::Id.is_in(ids));
        if !codes.is_empty() {
            condition = condition.add(voucher::Column::Code.is_in(codes.iter().copied()));
        }
        let rows = voucher::Entity::find()
            .select_only()
            .column(voucher::Column::Id)
            .column(voucher::Column::Code)
            .column(voucher::Column::FactsAt)
            .column(voucher::Column::VoucherType)
            .filter(condition)
            .into_tuple::<(String, String, i64, String)>()
            .all(txn)
            .await?;
        let mut merged = vec![];
        for (id, code, facts_at, kind) in rows {
            if code_of_key(&id).is_none() && codes.contains(code.as_str()) {
                // Codes are unique within a project; should two vouchers share one, the one
                // with the newest facts (then the greatest id) wins, the same on every read.
                let newer = found
                    .real_by_code
                    .get(&code)
                    .is_none_or(|(at, seen)| (facts_at, &id) > (*at, seen));
                if newer {
                    found.real_by_code.insert(code, (facts_at, id.clone()));
                }
            } else if keys.contains(&id) {
                merged.push(id.clone());
            }
            found.facts.insert(id, (facts_at, kind));
        }
        if !merged.is_empty() {
            let rows = voucher::Entity::find()
                .filter(voucher::Column::Id.is_in(merged))
                .all(txn)
                .await?;
            found.code_keyed = rows.into_iter().map(|row| (row.id.clone(), row)).collect();
        }
        Ok(found)
    }
}

/// A stored campaign's id, name, facts time, voucher type and deletion time.
type StoredCampaign = (
    String,
    String,
    i64,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// The stored campaigns whose `column` (id or name) is one of `keys` (no statement when there
/// are none).
async fn campaigns_by<C: ConnectionTrait>(
    txn: &C,
    column: campaign::Column,
    keys: HashSet<&str>,
) -> Result<Vec<StoredCampaign>, DbErr> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .column(campaign::Column::Name)
        .column(campaign::Column::FactsAt)
        .column(campaign::Column::VoucherType)
        .column(campaign::Column::DeletedAt)
        .filter(column.is_in(keys))
        .into_tuple()
        .all(txn)
        .await
}

/// The stored facts time of each of `ids` that exists (no statement when there are none).
async fn facts_times<E, C>(
    txn: &C,
    id: E::Column,
    facts_at: E::Column,
    ids: HashSet<&str>,
) -> Result<HashMap<String, i64>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = E::find()
        .select_only()
        .column(id)
        .column(facts_at)
        .filter(id.is_in(ids))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?;
    Ok(rows.into_iter().collect())
}

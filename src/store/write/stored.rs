//! What is stored now for every row a batch touches: the facts time of each customer, campaign
//! and voucher, each campaign's and voucher's type, and which publications exist. One statement per
//! kind the batch mentions, whatever the batch size.

use crate::domain::delivery::Delivery;
use entity::{campaign, customer, publication, voucher};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
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
        vouchers: match voucher_ids.is_empty() {
            true => HashMap::new(),
            false => voucher::Entity::find()
                .select_only()
                .column(voucher::Column::Id)
                .column(voucher::Column::FactsAt)
                .column(voucher::Column::VoucherType)
                .filter(voucher::Column::Id.is_in(voucher_ids))
                .into_tuple::<(String, i64, String)>()
                .all(txn)
                .await?
                .into_iter()
                .map(|(id, facts_at, kind)| (id, (facts_at, kind)))
                .collect(),
        },
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

/// The stored campaigns whose `column` (id or name) is one of `keys`: id, name, facts time,
/// voucher type and deletion time (no statement when there are none).
type StoredCampaign = (
    String,
    String,
    i64,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

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

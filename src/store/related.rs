//! Batch reads: rows by id, and the rows a set of publications refers to, one statement per
//! kind whatever the number of rows. What a page, a feed batch or a GraphQL loader needs to
//! render its nodes without a query per node.

use entity::{
    campaign, category, customer, publication, publication_voucher, voucher, voucher_category,
    webhook_event,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;

/// A table whose rows are read in batches by their key.
pub trait Keyed: EntityTrait {
    type Key: Clone + Eq + Hash + Into<sea_orm::Value> + Send + Sync + 'static;
    /// The key column.
    const KEY: Self::Column;
    /// A row's key.
    fn key(row: &Self::Model) -> Self::Key;
}

macro_rules! keyed {
    ($($entity:ident: $key:ty, $column:ident, $field:ident;)*) => {$(
        impl Keyed for $entity::Entity {
            type Key = $key;
            const KEY: Self::Column = $entity::Column::$column;
            fn key(row: &Self::Model) -> $key {
                row.$field.clone()
            }
        }
    )*};
}

keyed! {
    customer: String, Id, id;
    voucher: String, Id, id;
    campaign: String, Id, id;
    webhook_event: i64, Id, id;
}

/// The rows of `E` with these keys (none asked, no statement). Shared, so that the nodes that
/// render one row do not each copy it.
pub async fn by_key<E: Keyed>(
    db: &DatabaseConnection,
    keys: &[E::Key],
) -> Result<HashMap<E::Key, Arc<E::Model>>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = E::find()
        .filter(E::KEY.is_in(keys.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (E::key(&row), Arc::new(row)))
        .collect())
}

/// Which related rows to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    pub customer: bool,
    pub voucher: bool,
    pub vouchers: bool,
    pub campaign: bool,
    pub event: bool,
    pub voucher_holder: bool,
    pub voucher_campaign: bool,
    pub voucher_categories: bool,
}

impl Wants {
    /// Everything (for the live feed, which renders for any subscriber's selection).
    pub fn all() -> Self {
        Wants {
            customer: true,
            voucher: true,
            vouchers: true,
            campaign: true,
            event: true,
            voucher_holder: true,
            voucher_campaign: true,
            voucher_categories: true,
        }
    }
}

/// Rows keyed by id. A key that is present with an empty list means "known: none".
#[derive(Debug, Default, Clone)]
pub struct Related {
    pub customers: HashMap<String, Arc<customer::Model>>,
    pub vouchers: HashMap<String, Arc<voucher::Model>>,
    pub campaigns: HashMap<String, Arc<campaign::Model>>,
    pub events: HashMap<i64, Arc<webhook_event::Model>>,
    pub categories: HashMap<String, Vec<category::Model>>,
    pub publication_vouchers: HashMap<String, Vec<String>>,
}

fn ids(set: BTreeSet<String>) -> Vec<String> {
    set.into_iter().collect()
}

/// Reads what `rows` refer to, as far as `wants` asks: at most six statements, whatever the
/// number of rows.
pub async fn for_publications(
    db: &DatabaseConnection,
    rows: &[publication::Model],
    wants: Wants,
) -> Result<Related, DbErr> {
    complete(db, rows, wants, Related::default()).await
}

/// Adds to `known` what `rows` refer to and `wants` asks for, reading only what it lacks:
/// nothing when a joined page already brought every row.
pub async fn complete(
    db: &DatabaseConnection,
    rows: &[publication::Model],
    wants: Wants,
    known: Related,
) -> Result<Related, DbErr> {
    let mut related = known;
    if rows.is_empty() {
        return Ok(related);
    }
    let mut voucher_ids: BTreeSet<String> = BTreeSet::new();
    if wants.voucher {
        voucher_ids.extend(rows.iter().map(|r| r.voucher_id.clone()));
    }
    if wants.vouchers {
        let pub_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        related.publication_vouchers = vouchers_of_publications(db, &pub_ids).await?;
        voucher_ids.extend(related.publication_vouchers.values().flatten().cloned());
    }
    let voucher_ids = ids(voucher_ids);
    let unknown = missing(&voucher_ids, &related.vouchers);
    related
        .vouchers
        .extend(by_key::<voucher::Entity>(db, &unknown).await?);
    let mut customer_ids: BTreeSet<String> = BTreeSet::new();
    if wants.customer {
        customer_ids.extend(rows.iter().map(|r| r.customer_id.clone()));
    }
    if wants.voucher_holder {
        customer_ids.extend(
            related
                .vouchers
                .values()
                .filter_map(|v| v.holder_id.clone()),
        );
    }
    let mut campaign_ids: BTreeSet<String> = BTreeSet::new();
    if wants.campaign {
        campaign_ids.extend(rows.iter().filter_map(|r| r.campaign_id.clone()));
    }
    if wants.voucher_campaign {
        campaign_ids.extend(
            related
                .vouchers
                .values()
                .filter_map(|v| v.campaign_id.clone()),
        );
    }
    let customer_ids = missing(&ids(customer_ids), &related.customers);
    let campaign_ids = missing(&ids(campaign_ids), &related.campaigns);
    let event_ids: Vec<i64> = if wants.event {
        rows.iter().map(|r| r.seq).collect()
    } else {
        vec![]
    };
    let (customers, campaigns, categories, events) = futures::try_join!(
        by_key::<customer::Entity>(db, &customer_ids),
        by_key::<campaign::Entity>(db, &campaign_ids),
        async {
            match wants.voucher_categories {
                true => known_categories(db, &voucher_ids).await,
                false => Ok(HashMap::new()),
            }
        },
        by_key::<webhook_event::Entity>(db, &event_ids),
    )?;
    related.customers.extend(customers);
    related.campaigns.extend(campaigns);
    related.categories = categories;
    related.events = events;
    Ok(related)
}

/// The keys in `wanted` that `known` does not hold.
fn missing<K: Clone + Eq + Hash, V>(wanted: &[K], known: &HashMap<K, V>) -> Vec<K> {
    wanted
        .iter()
        .filter(|k| !known.contains_key(*k))
        .cloned()
        .collect()
}

/// Adds to `known` what a page of vouchers refers to, as far as `wants` asks (its `voucher_*`
/// fields), reading only what it lacks: at most three statements, run together, whatever the
/// number of rows.
pub async fn for_vouchers(
    db: &DatabaseConnection,
    rows: &[voucher::Model],
    wants: Wants,
    known: Related,
) -> Result<Related, DbErr> {
    let collect = |wanted: bool, id: fn(&voucher::Model) -> Option<&String>| -> Vec<String> {
        if !wanted {
            return vec![];
        }
        ids(rows.iter().filter_map(id).cloned().collect())
    };
    let customer_ids = collect(wants.voucher_holder, |v| v.holder_id.as_ref());
    let campaign_ids = collect(wants.voucher_campaign, |v| v.campaign_id.as_ref());
    let voucher_ids = collect(wants.voucher_categories, |v| Some(&v.id));
    let (customer_ids, campaign_ids) = (
        missing(&customer_ids, &known.customers),
        missing(&campaign_ids, &known.campaigns),
    );
    let (customers, campaigns, categories) = futures::try_join!(
        by_key::<customer::Entity>(db, &customer_ids),
        by_key::<campaign::Entity>(db, &campaign_ids),
        known_categories(db, &voucher_ids),
    )?;
    let mut related = known;
    related.customers.extend(customers);
    related.campaigns.extend(campaigns);
    related.categories = categories;
    Ok(related)
}

/// The categories of each voucher, with an empty list for those in none (so that "none" is
/// known and not asked again).
async fn known_categories(
    db: &DatabaseConnection,
    voucher_ids: &[String],
) -> Result<HashMap<String, Vec<category::Model>>, DbErr> {
    if voucher_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut found = categories_of_vouchers(db, voucher_ids).await?;
    for id in voucher_ids {
        found.entry(id.clone()).or_default();
    }
    Ok(found)
}

/// Each voucher's categories, by name.
pub async fn categories_of_vouchers(
    db: &DatabaseConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<category::Model>>, DbErr> {
    let rows: Vec<(String, String, String, Option<i32>)> = voucher_category::Entity::find()
        .select_only()
        .column(voucher_category::Column::VoucherId)
        .column_as(category::Column::Id, "category_id_")
        .column(category::Column::Name)
        .column(category::Column::Hierarchy)
        .inner_join(category::Entity)
        .filter(voucher_category::Column::VoucherId.is_in(ids.to_vec()))
        .order_by_asc(category::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<String, Vec<category::Model>> = HashMap::new();
    for (voucher_id, id, name, hierarchy) in rows {
        out.entry(voucher_id).or_default().push(category::Model {
            id,
            name,
            hierarchy,
        });
    }
    Ok(out)
}

/// Each publication's voucher ids, in payload order.
pub async fn vouchers_of_publications(
    db: &DatabaseConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let rows = publication_voucher::Entity::find()
        .filter(publication_voucher::Column::PublicationId.is_in(ids.to_vec()))
        .order_by_asc(publication_voucher::Column::Position)
        .all(db)
        .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        out.entry(row.publication_id)
            .or_default()
            .push(row.voucher_id);
    }
    Ok(out)
}

//! The rows a set of publications refers to, read in one batch per kind: what a page or a feed
//! batch needs to render its nodes without a query per node.

use super::directory;
use entity::{campaign, category, customer, publication, voucher, webhook_event};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{BTreeSet, HashMap};

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
    pub customers: HashMap<String, customer::Model>,
    pub vouchers: HashMap<String, voucher::Model>,
    pub campaigns: HashMap<String, campaign::Model>,
    pub events: HashMap<i64, webhook_event::Model>,
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
    let mut related = Related::default();
    if rows.is_empty() {
        return Ok(related);
    }
    let mut voucher_ids: BTreeSet<String> = BTreeSet::new();
    if wants.voucher {
        voucher_ids.extend(rows.iter().map(|r| r.voucher_id.clone()));
    }
    if wants.vouchers {
        let pub_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        related.publication_vouchers = directory::vouchers_of_publications(db, &pub_ids).await?;
        voucher_ids.extend(related.publication_vouchers.values().flatten().cloned());
    }
    let voucher_ids = ids(voucher_ids);
    if !voucher_ids.is_empty() {
        related.vouchers = directory::vouchers_by_id(db, &voucher_ids).await?;
    }
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
    let (customer_ids, campaign_ids) = (ids(customer_ids), ids(campaign_ids));
    let event_ids: Vec<i64> = if wants.event {
        rows.iter().map(|r| r.seq).collect()
    } else {
        vec![]
    };
    let (customers, campaigns, categories, events) = futures::try_join!(
        async {
            if customer_ids.is_empty() {
                Ok(HashMap::new())
            } else {
                directory::customers_by_id(db, &customer_ids).await
            }
        },
        async {
            if campaign_ids.is_empty() {
                Ok(HashMap::new())
            } else {
                directory::campaigns_by_id(db, &campaign_ids).await
            }
        },
        async {
            if !wants.voucher_categories || voucher_ids.is_empty() {
                return Ok(HashMap::new());
            }
            let mut found = directory::categories_of_vouchers(db, &voucher_ids).await?;
            for id in &voucher_ids {
                found.entry(id.clone()).or_default();
            }
            Ok(found)
        },
        async {
            if event_ids.is_empty() {
                Ok(HashMap::new())
            } else {
                directory::events_by_id(db, &event_ids).await
            }
        },
    )?;
    related.customers = customers;
    related.campaigns = campaigns;
    related.categories = categories;
    related.events = events;
    Ok(related)
}

//! Fills a request's loader caches for a whole page at once, for the fields the query selects.
//! DataLoader alone batches by a timer, so a slow poll can split a batch; prefetching makes a
//! page cost the same statements whatever its size and however busy the machine is.

use super::loaders::Loaders;
use crate::error::ApiResult;
use crate::store::directory;
use async_graphql::{Context, Lookahead};
use entity::publication;
use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;

fn selects(node: Lookahead<'_>, path: &[&str]) -> bool {
    match path.split_first() {
        None => node.exists(),
        Some((name, rest)) => selects(node.field(name), rest),
    }
}

/// Prefetches what the nodes of a publication page refer to.
pub async fn publications(ctx: &Context<'_>, rows: &[publication::Model]) -> ApiResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let look = ctx.look_ahead();
    let wants = |path: &[&str]| {
        selects(look.field("edges").field("node"), path) || selects(look.field("nodes"), path)
    };
    let db = ctx.data_unchecked::<DatabaseConnection>();
    let loaders = ctx.data_unchecked::<Loaders>();
    let mut voucher_ids: BTreeSet<String> = BTreeSet::new();
    if wants(&["voucher"]) {
        voucher_ids.extend(rows.iter().map(|r| r.voucher_id.clone()));
    }
    if wants(&["vouchers"]) {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let lists = directory::vouchers_of_publications(db, &ids).await?;
        voucher_ids.extend(lists.values().flatten().cloned());
        loaders.publication_vouchers.feed_many(lists).await;
    }
    let voucher_ids: Vec<String> = voucher_ids.into_iter().collect();
    let vouchers = if voucher_ids.is_empty() {
        Default::default()
    } else {
        directory::vouchers_by_id(db, &voucher_ids).await?
    };
    let in_vouchers = |field: &str| wants(&["voucher", field]) || wants(&["vouchers", field]);
    let mut customer_ids: BTreeSet<String> = BTreeSet::new();
    if wants(&["customer"]) {
        customer_ids.extend(rows.iter().map(|r| r.customer_id.clone()));
    }
    if in_vouchers("holder") {
        customer_ids.extend(vouchers.values().filter_map(|v| v.holder_id.clone()));
    }
    let mut campaign_ids: BTreeSet<String> = BTreeSet::new();
    if wants(&["campaign"]) {
        campaign_ids.extend(rows.iter().filter_map(|r| r.campaign_id.clone()));
    }
    if in_vouchers("campaign") {
        campaign_ids.extend(vouchers.values().filter_map(|v| v.campaign_id.clone()));
    }
    let (customers, campaigns, categories, events) = futures::try_join!(
        async {
            let ids: Vec<String> = customer_ids.into_iter().collect();
            if ids.is_empty() {
                Ok(Default::default())
            } else {
                directory::customers_by_id(db, &ids).await
            }
        },
        async {
            let ids: Vec<String> = campaign_ids.into_iter().collect();
            if ids.is_empty() {
                Ok(Default::default())
            } else {
                directory::campaigns_by_id(db, &ids).await
            }
        },
        async {
            if in_vouchers("categories") && !voucher_ids.is_empty() {
                let mut found = directory::categories_of_vouchers(db, &voucher_ids).await?;
                // A voucher in no category is known to have none: cache that too.
                for id in &voucher_ids {
                    found.entry(id.clone()).or_default();
                }
                Ok(found)
            } else {
                Ok(Default::default())
            }
        },
        async {
            if wants(&["event"]) {
                let ids: Vec<i64> = rows.iter().map(|r| r.seq).collect();
                directory::events_by_id(db, &ids).await
            } else {
                Ok(Default::default())
            }
        },
    )?;
    loaders.vouchers.feed_many(vouchers).await;
    loaders.customers.feed_many(customers).await;
    loaders.campaigns.feed_many(campaigns).await;
    loaders.categories.feed_many(categories).await;
    loaders.events.feed_many(events).await;
    Ok(())
}

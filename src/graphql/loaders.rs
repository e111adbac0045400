//! DataLoaders: every object a page refers to is fetched in one batch per kind, so a page
//! costs the same number of statements whatever its size (no N+1).

use crate::error::ApiError;
use crate::store::directory;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{campaign, category, customer, voucher, webhook_event};
use sea_orm::{DatabaseConnection, DbErr};
use std::{collections::HashMap, hash::Hash, sync::Arc};

macro_rules! loader {
    ($name:ident, $key:ty, $value:ty, $fetch:path) => {
        /// Batch reader behind a DataLoader.
        pub struct $name(DatabaseConnection);

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, Self::Error> {
                Ok($fetch(&self.0, keys).await?)
            }
        }
    };
}

loader!(
    CustomerLoader,
    String,
    customer::Model,
    directory::customers_by_id
);
loader!(
    VoucherLoader,
    String,
    voucher::Model,
    directory::vouchers_by_id
);
loader!(
    CampaignLoader,
    String,
    campaign::Model,
    directory::campaigns_by_id
);
loader!(
    EventLoader,
    i64,
    webhook_event::Model,
    directory::events_by_id
);
loader!(
    CategoriesLoader,
    String,
    Vec<category::Model>,
    directory::categories_of_vouchers
);
loader!(
    PublicationVouchersLoader,
    String,
    Vec<String>,
    directory::vouchers_of_publications
);

/// A loader with a per-request cache (which prefetching can fill).
pub type Cached<L> = DataLoader<L, HashMapCache>;

/// The loaders of one request; their caches live as long as the request.
pub struct Loaders {
    pub customers: Cached<CustomerLoader>,
    pub vouchers: Cached<VoucherLoader>,
    pub campaigns: Cached<CampaignLoader>,
    pub events: Cached<EventLoader>,
    pub categories: Cached<CategoriesLoader>,
    pub publication_vouchers: Cached<PublicationVouchersLoader>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Loaders {
            customers: DataLoader::with_cache(
                CustomerLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            vouchers: DataLoader::with_cache(
                VoucherLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            campaigns: DataLoader::with_cache(
                CampaignLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            events: DataLoader::with_cache(
                EventLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            categories: DataLoader::with_cache(
                CategoriesLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            publication_vouchers: DataLoader::with_cache(
                PublicationVouchersLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }
}

/// Loads one key, mapping a database failure to a logged internal error.
pub async fn load_one<K, L>(loader: &Cached<L>, key: K) -> Result<Option<L::Value>, ApiError>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<DbErr>>,
{
    loader
        .load_one(key)
        .await
        .map_err(|e| ApiError::from((*e).clone()))
}

/// Loads several keys, keeping their order and skipping any that do not exist.
pub async fn load_many<K, L>(loader: &Cached<L>, keys: Vec<K>) -> Result<Vec<L::Value>, ApiError>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<DbErr>>,
{
    let mut found = loader
        .load_many(keys.clone())
        .await
        .map_err(|e| ApiError::from((*e).clone()))?;
    Ok(keys.into_iter().filter_map(|k| found.remove(&k)).collect())
}

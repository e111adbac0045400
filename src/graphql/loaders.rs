//! DataLoaders: every object a page refers to is fetched in one batch per kind, so a page
//! costs the same number of statements whatever its size (no N+1).

use crate::error::{ApiError, ApiResult};
use crate::store::related::{self, Related};
use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader, LruCache};
use entity::{campaign, category, customer, voucher, webhook_event};
use sea_orm::{DatabaseConnection, DbErr};
use std::time::Duration;
use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, OnceLock},
};

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
    Arc<customer::Model>,
    related::by_key::<customer::Entity>
);
loader!(
    VoucherLoader,
    String,
    Arc<voucher::Model>,
    related::by_key::<voucher::Entity>
);
loader!(
    CampaignLoader,
    String,
    Arc<campaign::Model>,
    related::by_key::<campaign::Entity>
);
loader!(
    EventLoader,
    i64,
    Arc<webhook_event::Model>,
    related::by_key::<webhook_event::Entity>
);
loader!(
    CategoriesLoader,
    String,
    Vec<category::Model>,
    related::categories_of_vouchers
);
loader!(
    PublicationVouchersLoader,
    String,
    Vec<String>,
    related::vouchers_of_publications
);

/// Rows a loader keeps per request (or per subscription, which lives long).
const CACHE: usize = 4096;

/// A loader with a bounded per-request cache.
pub type Cached<L> = DataLoader<L, LruCache>;

/// The loaders of one request; their caches live as long as the request.
pub struct Loaders {
    db: DatabaseConnection,
    customers: OnceLock<Cached<CustomerLoader>>,
    vouchers: OnceLock<Cached<VoucherLoader>>,
    campaigns: OnceLock<Cached<CampaignLoader>>,
    events: OnceLock<Cached<EventLoader>>,
    categories: OnceLock<Cached<CategoriesLoader>>,
    publication_vouchers: OnceLock<Cached<PublicationVouchersLoader>>,
}

/// How long a loader waits, from the first key asked, for the other keys of its batch.
/// Sibling fields ask for theirs in the same pass over a list, microseconds apart, so this only
/// has to outlast that pass. async-graphql's default (1 ms, on its own timer thread) was a
/// millisecond added to every request that used a loader: a quarter of the dashboard counters'
/// time.
const BATCH_WAIT: Duration = Duration::from_micros(200);

fn cached<K, L>(loader: L) -> Cached<L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    DataLoader::with_cache(loader, tokio::spawn, LruCache::new(CACHE)).delay(BATCH_WAIT)
}

// Each loader is made on first use: a subscription that never needs one (most of them: the
// feed carries what they render) costs no loader at all.
impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Loaders {
            db: db.clone(),
            customers: OnceLock::new(),
            vouchers: OnceLock::new(),
            campaigns: OnceLock::new(),
            events: OnceLock::new(),
            categories: OnceLock::new(),
            publication_vouchers: OnceLock::new(),
        }
    }

    pub fn customers(&self) -> &Cached<CustomerLoader> {
        self.customers
            .get_or_init(|| cached(CustomerLoader(self.db.clone())))
    }

    pub fn vouchers(&self) -> &Cached<VoucherLoader> {
        self.vouchers
            .get_or_init(|| cached(VoucherLoader(self.db.clone())))
    }

    pub fn campaigns(&self) -> &Cached<CampaignLoader> {
        self.campaigns
            .get_or_init(|| cached(CampaignLoader(self.db.clone())))
    }

    pub fn events(&self) -> &Cached<EventLoader> {
        self.events
            .get_or_init(|| cached(EventLoader(self.db.clone())))
    }

    pub fn categories(&self) -> &Cached<CategoriesLoader> {
        self.categories
            .get_or_init(|| cached(CategoriesLoader(self.db.clone())))
    }

    pub fn publication_vouchers(&self) -> &Cached<PublicationVouchersLoader> {
        self.publication_vouchers
            .get_or_init(|| cached(PublicationVouchersLoader(self.db.clone())))
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

/// Where a node looks up what it refers to: the rows read with its page or feed batch when
/// they are there, else the request's loaders.
#[derive(Clone, Default)]
pub struct Lookup(pub Option<Arc<Related>>);

impl Lookup {
    fn related(&self) -> Option<&Related> {
        self.0.as_deref()
    }

    pub async fn customer(
        &self,
        ctx: &Context<'_>,
        id: &str,
    ) -> ApiResult<Option<Arc<customer::Model>>> {
        if let Some(found) = self.related().and_then(|r| r.customers.get(id)) {
            return Ok(Some(found.clone()));
        }
        load_one(ctx.data_unchecked::<Loaders>().customers(), id.to_owned()).await
    }

    pub async fn voucher(
        &self,
        ctx: &Context<'_>,
        id: &str,
    ) -> ApiResult<Option<Arc<voucher::Model>>> {
        if let Some(found) = self.related().and_then(|r| r.vouchers.get(id)) {
            return Ok(Some(found.clone()));
        }
        load_one(ctx.data_unchecked::<Loaders>().vouchers(), id.to_owned()).await
    }

    pub async fn vouchers(
        &self,
        ctx: &Context<'_>,
        ids: Vec<String>,
    ) -> ApiResult<Vec<Arc<voucher::Model>>> {
        if let Some(related) = self.related()
            && ids.iter().all(|id| related.vouchers.contains_key(id))
        {
            return Ok(ids
                .iter()
                .filter_map(|id| related.vouchers.get(id).cloned())
                .collect());
        }
        load_many(ctx.data_unchecked::<Loaders>().vouchers(), ids).await
    }

    pub async fn campaign(
        &self,
        ctx: &Context<'_>,
        id: &str,
    ) -> ApiResult<Option<Arc<campaign::Model>>> {
        if let Some(found) = self.related().and_then(|r| r.campaigns.get(id)) {
            return Ok(Some(found.clone()));
        }
        load_one(ctx.data_unchecked::<Loaders>().campaigns(), id.to_owned()).await
    }

    pub async fn event(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> ApiResult<Option<Arc<webhook_event::Model>>> {
        if let Some(found) = self.related().and_then(|r| r.events.get(&id)) {
            return Ok(Some(found.clone()));
        }
        load_one(ctx.data_unchecked::<Loaders>().events(), id).await
    }

    pub async fn categories(
        &self,
        ctx: &Context<'_>,
        voucher_id: &str,
    ) -> ApiResult<Vec<category::Model>> {
        if let Some(found) = self.related().and_then(|r| r.categories.get(voucher_id)) {
            return Ok(found.clone());
        }
        let found = load_one(
            ctx.data_unchecked::<Loaders>().categories(),
            voucher_id.to_owned(),
        )
        .await?;
        Ok(found.unwrap_or_default())
    }

    pub async fn publication_vouchers(
        &self,
        ctx: &Context<'_>,
        publication_id: &str,
    ) -> ApiResult<Option<Vec<String>>> {
        if let Some(found) = self
            .related()
            .and_then(|r| r.publication_vouchers.get(publication_id))
        {
            return Ok(Some(found.clone()));
        }
        load_one(
            ctx.data_unchecked::<Loaders>().publication_vouchers(),
            publication_id.to_owned(),
        )
        .await
    }
}

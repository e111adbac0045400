//! GraphQL out: the schema, the edge's own state and its routes: `/graphql` over HTTP
//! (`http`) and SSE (`sse`), `/graphql/ws` (`ws`), GraphiQL for browsers (`graphiql`).

mod auth;
pub mod cache;
pub mod connection;
mod direct;
pub mod documents;
mod execute;
mod graphiql;
pub mod guard;
mod http;
pub mod hub;
pub mod instrument;
pub mod loaders;
pub mod negotiate;
pub mod persisted;
pub mod query;
pub mod scalars;
pub mod sse;
pub mod subscription;
pub mod types;
pub mod ws;

use crate::{config::Config, state::AppState};
use async_graphql::{EmptyMutation, Schema};
use axum::{Router, routing::get};
use sea_orm::DatabaseConnection;
use std::{ops::Deref, sync::Arc};

/// pubgate's executable schema.
pub type AppSchema = Schema<query::Query, EmptyMutation, subscription::Subscription>;

/// The schema with its data, limits and instrumentation.
pub fn schema(
    db: DatabaseConnection,
    analytics_db: DatabaseConnection,
    feed: crate::feed::Feed,
    config: &Config,
) -> AppSchema {
    // No schema extensions: timing and the document checks run in the transports (see
    // `execute`), which keeps async-graphql on its fast path for every field.
    let mut builder = Schema::build(query::Query, EmptyMutation, subscription::Subscription)
        .data(db)
        .data(Analytics(analytics_db))
        .data(feed)
        .data(Execution {
            plain: config.plain_execution,
        })
        .limit_depth(config.query_depth)
        .limit_complexity(config.query_complexity);
    if config.disable_introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// How lists resolve what their rows refer to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Execution {
    /// No look-ahead: every reference through the batch loaders, every count by a statement.
    pub plain: bool,
}

/// Whether this schema resolves without look-ahead (`Config::plain_execution`).
pub(crate) fn plain(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.data_opt::<Execution>().is_some_and(|e| e.plain)
}

/// The database the schema was given (every resolver reads through it).
pub(crate) fn db<'a>(ctx: &async_graphql::Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// The analytics counters' connections (`AppState::analytics_db`).
struct Analytics(DatabaseConnection);

/// The connections the analytics counters read through.
pub(crate) fn analytics_db<'a>(ctx: &async_graphql::Context<'a>) -> &'a DatabaseConnection {
    &ctx.data_unchecked::<Analytics>().0
}

/// The SDL that `pubgate schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    Schema::build(query::Query, EmptyMutation, subscription::Subscription)
        .finish()
        .sdl()
}

/// What the GraphQL edge's handlers reach: the shared handles, and what only this edge uses.
#[derive(Clone)]
pub struct GraphqlState {
    pub app: AppState,
    pub schema: AppSchema,
    /// Live subscriptions shared by subscribers that ask the same thing.
    pub hub: hub::Hub,
    /// Answers to repeated queries, valid while the committed head stays where it was.
    pub query_cache: Arc<cache::QueryCache>,
    /// Parsed documents by their text.
    pub documents: Arc<documents::Documents>,
    /// Documents named by hash: trusted ones, and those registered by automatic persisted
    /// queries.
    pub persisted: Arc<persisted::Persisted>,
    /// This process's share of every entity tag it gives out (see `http::entity_tag`).
    pub etag_salt: Arc<str>,
}

/// The edge reads the shared handles as its own (`state.config`, `state.db`, …).
impl Deref for GraphqlState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl GraphqlState {
    /// The schema, the hub and the query cache over `app`.
    pub fn new(app: AppState) -> Self {
        GraphqlState {
            schema: schema(
                app.db.clone(),
                app.analytics_db.clone(),
                app.feed.clone(),
                &app.config,
            ),
            hub: hub::Hub::new(app.metrics.shared_subscriptions.clone()),
            query_cache: Arc::new(cache::QueryCache::new(app.config.query_cache_bytes)),
            documents: Arc::default(),
            persisted: Arc::new(persisted::Persisted::new(
                app.config.trusted_documents.clone(),
                app.config.only_trusted_documents,
            )),
            etag_salt: format!("{:032x}", rand::random::<u128>()).into(),
            app,
        }
    }
}

/// The GraphQL edge's routes, with their state.
pub fn router(state: GraphqlState) -> Router {
    Router::new()
        .route("/graphql", get(http::graphql).post(http::graphql))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphql/ide/{version}/{name}", get(graphiql::file))
        .with_state(state)
}

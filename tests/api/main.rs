//! pubgate's integration tests: the real server on 127.0.0.1:0, spoken to over its sockets.

mod analytics;
mod batching;
mod crash;
mod dashboard;
mod differential;
mod filters;
mod graphql_events;
mod graphql_read;
mod helpers;
mod hostile;
mod idempotency;
mod instances;
mod layers;
mod normalise;
pub mod outage;
mod over_http;
mod properties;
mod query_cache;
mod restore;
mod retention;
mod security;
mod simulate;
mod startup;
mod subscriptions;
mod webhook;
mod ws_client;

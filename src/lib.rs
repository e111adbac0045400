//! pubgate: Voucherify webhooks in, durably and exactly once; GraphQL out.

pub mod app;
pub mod assets;
pub mod backfill;
pub mod body;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod domain;
pub mod error;
pub mod feed;
pub mod graphql;
pub mod metrics;
pub mod ops;
pub mod retry;
pub mod simulate;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhook;

pub use app::App;
pub use config::Config;

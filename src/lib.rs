//! pubgate: Voucherify webhooks in, durably and exactly once; GraphQL out.

pub mod app;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod feed;
pub mod graphql;
pub mod ops;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod webhook;

pub use app::App;
pub use config::Config;

//! SeaORM entities of pubgate's store: one module per table, data only.

pub mod assignment_change;
pub mod assignment_count;
pub mod assignment_total;
pub mod backfill_progress;
pub mod campaign;
pub mod category;
pub mod customer;
pub mod publication;
pub mod publication_voucher;
pub mod sequence;
pub mod voucher;
pub mod voucher_category;
pub mod webhook_event;

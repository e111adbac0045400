//! The indexes every list, filter and feed query reads through.

use super::idens::*;
use sea_orm_migration::prelude::*;

fn index<T: IntoIden + Copy>(table: T, name: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

pub(super) fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(
            Event::Table,
            "ix_webhook_events_type",
            &["event_type", "id"],
        ),
        index(
            Event::Table,
            "ix_webhook_events_received",
            &["received_at", "id"],
        ),
        index(Customer::Table, "ix_customers_source_id", &["source_id"]),
        index(Customer::Table, "ix_customers_email", &["email"]),
        index(Campaign::Table, "ix_campaigns_name", &["name"]),
        index(Voucher::Table, "ix_vouchers_code", &["code"]),
        index(Voucher::Table, "ix_vouchers_holder", &["holder_id", "id"]),
        index(
            Voucher::Table,
            "ix_vouchers_campaign",
            &["campaign_id", "id"],
        ),
        index(
            VoucherCategory::Table,
            "ix_voucher_categories_category",
            &["category_id"],
        ),
        index(
            Publication::Table,
            "ix_publications_created",
            &["created_at", "id"],
        ),
        index(
            Publication::Table,
            "ix_publications_customer",
            &["customer_id", "created_at"],
        ),
        index(
            Publication::Table,
            "ix_publications_campaign",
            &["campaign_id", "created_at"],
        ),
        index(
            Publication::Table,
            "ix_publications_voucher",
            &["voucher_id"],
        ),
        index(
            PublicationVoucher::Table,
            "ix_publication_vouchers_voucher",
            &["voucher_id"],
        ),
    ]
}

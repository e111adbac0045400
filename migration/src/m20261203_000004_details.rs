//! Facts a consumer of an assignment reacts with, kept typed instead of only inside the raw
//! body: a voucher's assets (QR code, barcode), validity rules, additional info and publish
//! count; a campaign's join rules and voucher template; a customer's address. Nullable: rows
//! stored before keep null until a delivery describes them again (or `pubgate renormalise`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column, kind) of every column this adds.
const COLUMNS: [(&str, &str, Kind); 10] = [
    ("vouchers", "assets", Kind::Json),
    ("vouchers", "validity_timeframe", Kind::Json),
    ("vouchers", "validity_day_of_week", Kind::Json),
    ("vouchers", "validity_hours", Kind::Json),
    ("vouchers", "additional_info", Kind::Text),
    ("vouchers", "publish_count", Kind::BigInt),
    ("campaigns", "auto_join", Kind::Bool),
    ("campaigns", "join_once", Kind::Bool),
    ("campaigns", "voucher_template", Kind::Json),
    ("customers", "address", Kind::Json),
];

#[derive(Clone, Copy)]
enum Kind {
    Json,
    Text,
    BigInt,
    Bool,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for (table, column, kind) in COLUMNS {
            let mut def = ColumnDef::new(Alias::new(column));
            match kind {
                Kind::Json => def.json_binary(),
                Kind::Text => def.text(),
                Kind::BigInt => def.big_integer(),
                Kind::Bool => def.boolean(),
            };
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(def.null().to_owned())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, _) in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

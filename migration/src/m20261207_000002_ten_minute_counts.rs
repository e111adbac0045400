//! The assignment counts kept per ten minutes too (`width` 10), summed from the minute rows: a
//! range that is not hour-aligned then reads at most nine minute rows at each side and a
//! ten-minute row for the rest of each partial hour, where it read up to 59 minute rows a side.
//! Reading those was most of a counter's time once the counts spanned hours of minutes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Minutes are from 1970 on, where `/` rounds down as ingest does.
        for (table, key) in [
            ("assignment_counts", "voucher_type, campaign_id, channel"),
            ("assignment_totals", "dimension, value"),
        ] {
            db.execute_unprepared(&format!("DELETE FROM {table} WHERE width = 10"))
                .await?;
            db.execute_unprepared(&format!(
                "INSERT INTO {table} (width, minute, {key}, count) \
                 SELECT 10, (minute / 10) * 10, {key}, SUM(count) FROM {table} \
                 WHERE width = 1 GROUP BY (minute / 10) * 10, {key} HAVING SUM(count) <> 0"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["assignment_counts", "assignment_totals"] {
            db.execute_unprepared(&format!("DELETE FROM {table} WHERE width = 10"))
                .await?;
        }
        Ok(())
    }
}

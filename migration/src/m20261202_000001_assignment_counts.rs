//! Assignment counts per UTC minute, hour and day, voucher type, campaign and channel (the entity
//! `assignment_count` says what each row counts), filled from the publications already stored;
//! from then on every batch of deliveries keeps them exact in its own transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssignmentCounts {
    Table,
    Width,
    Minute,
    VoucherType,
    CampaignId,
    Channel,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AssignmentCounts as A;
        let text = |name: A| ColumnDef::new(name).text().not_null().to_owned();
        let bigint = |name: A| ColumnDef::new(name).big_integer().not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Width).integer().not_null())
                    .col(bigint(A::Minute))
                    .col(text(A::VoucherType))
                    .col(text(A::CampaignId))
                    .col(text(A::Channel))
                    .col(bigint(A::Count))
                    .primary_key(
                        Index::create()
                            .col(A::Width)
                            .col(A::Minute)
                            .col(A::VoucherType)
                            .col(A::CampaignId)
                            .col(A::Channel),
                    )
                    .to_owned(),
            )
            .await?;
        crate::keep_small_under_updates(manager, "assignment_counts").await?;
        fill(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssignmentCounts::Table).to_owned())
            .await
    }
}

/// Counts every stored publication into `assignment_counts`, which must be empty: what the
/// migration does once, and what tests compare with the counts kept at ingest.
pub async fn fill<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    // Minutes since the epoch, rounded down (as `div_euclid` does at ingest; the spans from 1970
    // on, which are all that analytics reads, round the same way with `/`).
    let minute = match db.get_database_backend() {
        DbBackend::Postgres => "floor(extract(epoch FROM t.created_at) / 60)::bigint".to_owned(),
        _ => {
            let s = "CAST(strftime('%s', t.created_at) AS INTEGER)";
            format!("(({s}) - ((({s}) % 60) + 60) % 60) / 60")
        }
    };
    // Every width kept now (ten minutes since m20261207_000002).
    for width in [1, 10, 60, 1440] {
        let start = format!("(({minute}) / {width}) * {width}");
        let every = format!(
            "INSERT INTO assignment_counts (width, minute, voucher_type, campaign_id, channel, count) \
             SELECT {width}, {start}, '', COALESCE(t.campaign_id, ''), COALESCE(t.channel, ''), \
             COUNT(*) FROM publications t GROUP BY 2, 4, 5"
        );
        let per_type = format!(
            "INSERT INTO assignment_counts (width, minute, voucher_type, campaign_id, channel, count) \
             SELECT {width}, {start}, t.voucher_type, COALESCE(t.campaign_id, ''), \
             COALESCE(t.channel, ''), COUNT(*) FROM (SELECT DISTINCT p.id, p.created_at, \
             p.campaign_id, p.channel, v.voucher_type FROM publications p \
             JOIN publication_vouchers pv ON pv.publication_id = p.id \
             JOIN vouchers v ON v.id = pv.voucher_id) t GROUP BY 2, 3, 4, 5"
        );
        db.execute_unprepared(&every).await?;
        db.execute_unprepared(&per_type).await?;
    }
    Ok(())
}

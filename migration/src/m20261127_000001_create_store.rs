//! The store: raw webhook events (commit-ordered) and the normalised domain.

// Column names mirror the tables, so `Event::EventType` and the like are the true names.
#![allow(clippy::enum_variant_names)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        let seed = Query::insert()
            .into_table(Sequence::Table)
            .columns([Sequence::Id, Sequence::Value])
            .values_panic([1.into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "publication_vouchers",
            "publications",
            "voucher_categories",
            "vouchers",
            "categories",
            "campaigns",
            "customers",
            "webhook_events",
            "pubgate_sequence",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn bigint(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn json(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().to_owned()
}

fn json_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().to_owned()
}

fn bool_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().null().to_owned()
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Sequence::Table)
            .col(
                ColumnDef::new(Sequence::Id)
                    .integer()
                    .not_null()
                    .primary_key(),
            )
            .col(bigint(Sequence::Value))
            .to_owned(),
        Table::create()
            .table(Event::Table)
            .col(bigint(Event::Id).primary_key())
            .col(text(Event::IdempotencyKey).unique_key())
            .col(text_null(Event::DeliveryId))
            .col(text_null(Event::EventId))
            .col(text_null(Event::SourceId))
            .col(text_null(Event::ProjectId))
            .col(text(Event::EventType))
            .col(text_null(Event::EventName))
            .col(time_null(Event::OccurredAt))
            .col(
                ColumnDef::new(Event::ReceivedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Event::SignatureVerified)
                    .boolean()
                    .not_null(),
            )
            .col(ColumnDef::new(Event::Normalized).boolean().not_null())
            .col(text_null(Event::NormalizationNote))
            .col(text(Event::Body))
            .to_owned(),
        Table::create()
            .table(Customer::Table)
            .col(text(Customer::Id).primary_key())
            .col(text_null(Customer::SourceId))
            .col(text_null(Customer::Name))
            .col(text_null(Customer::Email))
            .col(json(Customer::Metadata))
            .col(time_null(Customer::CreatedAt))
            .col(time_null(Customer::UpdatedAt))
            .col(bigint(Customer::FactsAt))
            .col(bigint(Customer::EventId))
            .to_owned(),
        Table::create()
            .table(Campaign::Table)
            .col(text(Campaign::Id).primary_key())
            .col(text(Campaign::Name))
            .col(text_null(Campaign::CampaignType))
            .col(text_null(Campaign::Type))
            .col(text_null(Campaign::Description))
            .col(bool_null(Campaign::Active))
            .col(bool_null(Campaign::IsReferralCode))
            .col(text_null(Campaign::VoucherType))
            .col(json(Campaign::Metadata))
            .col(time_null(Campaign::StartDate))
            .col(time_null(Campaign::ExpirationDate))
            .col(time_null(Campaign::CreatedAt))
            .col(time_null(Campaign::UpdatedAt))
            .col(bigint(Campaign::FactsAt))
            .col(bigint(Campaign::EventId))
            .to_owned(),
        Table::create()
            .table(Category::Table)
            .col(text(Category::Id).primary_key())
            .col(text(Category::Name))
            .col(ColumnDef::new(Category::Hierarchy).integer().null())
            .to_owned(),
        Table::create()
            .table(Voucher::Table)
            .col(text(Voucher::Id).primary_key())
            .col(text(Voucher::Code))
            .col(text(Voucher::VoucherType))
            .col(bool_null(Voucher::Active))
            .col(text_null(Voucher::CampaignId))
            .col(text_null(Voucher::HolderId))
            .col(json_null(Voucher::Discount))
            .col(json_null(Voucher::Gift))
            .col(json_null(Voucher::LoyaltyCard))
            .col(json(Voucher::Metadata))
            .col(
                ColumnDef::new(Voucher::RedemptionQuantity)
                    .big_integer()
                    .null(),
            )
            .col(
                ColumnDef::new(Voucher::RedemptionRedeemedQuantity)
                    .big_integer()
                    .null(),
            )
            .col(time_null(Voucher::StartDate))
            .col(time_null(Voucher::ExpirationDate))
            .col(time_null(Voucher::CreatedAt))
            .col(time_null(Voucher::UpdatedAt))
            .col(bigint(Voucher::FactsAt))
            .col(bigint(Voucher::EventId))
            .to_owned(),
        Table::create()
            .table(VoucherCategory::Table)
            .col(text(VoucherCategory::VoucherId))
            .col(text(VoucherCategory::CategoryId))
            .primary_key(
                Index::create()
                    .col(VoucherCategory::VoucherId)
                    .col(VoucherCategory::CategoryId),
            )
            .to_owned(),
        Table::create()
            .table(Publication::Table)
            .col(text(Publication::Id).primary_key())
            .col(bigint(Publication::Seq).unique_key())
            .col(text(Publication::Result))
            .col(text_null(Publication::Channel))
            .col(text_null(Publication::SourceId))
            .col(text_null(Publication::TrackingId))
            .col(json(Publication::Metadata))
            .col(
                ColumnDef::new(Publication::CreatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Publication::ReceivedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(text(Publication::CustomerId))
            .col(text(Publication::VoucherId))
            .col(text_null(Publication::CampaignId))
            .foreign_key(
                ForeignKey::create()
                    .from(Publication::Table, Publication::Seq)
                    .to(Event::Table, Event::Id),
            )
            .to_owned(),
        Table::create()
            .table(PublicationVoucher::Table)
            .col(text(PublicationVoucher::PublicationId))
            .col(text(PublicationVoucher::VoucherId))
            .col(
                ColumnDef::new(PublicationVoucher::Position)
                    .integer()
                    .not_null(),
            )
            .primary_key(
                Index::create()
                    .col(PublicationVoucher::PublicationId)
                    .col(PublicationVoucher::VoucherId),
            )
            .foreign_key(
                ForeignKey::create()
                    .from(PublicationVoucher::Table, PublicationVoucher::PublicationId)
                    .to(Publication::Table, Publication::Id),
            )
            .to_owned(),
    ]
}

fn index<T: IntoIden + Copy>(table: T, name: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
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

#[derive(DeriveIden, Clone, Copy)]
enum Sequence {
    #[sea_orm(iden = "pubgate_sequence")]
    Table,
    Id,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
enum Event {
    #[sea_orm(iden = "webhook_events")]
    Table,
    Id,
    IdempotencyKey,
    DeliveryId,
    EventId,
    SourceId,
    ProjectId,
    EventType,
    EventName,
    OccurredAt,
    ReceivedAt,
    SignatureVerified,
    Normalized,
    NormalizationNote,
    Body,
}

#[derive(DeriveIden, Clone, Copy)]
enum Customer {
    #[sea_orm(iden = "customers")]
    Table,
    Id,
    SourceId,
    Name,
    Email,
    Metadata,
    CreatedAt,
    UpdatedAt,
    FactsAt,
    EventId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaign {
    #[sea_orm(iden = "campaigns")]
    Table,
    Id,
    Name,
    CampaignType,
    Type,
    Description,
    Active,
    IsReferralCode,
    VoucherType,
    Metadata,
    StartDate,
    ExpirationDate,
    CreatedAt,
    UpdatedAt,
    FactsAt,
    EventId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Category {
    #[sea_orm(iden = "categories")]
    Table,
    Id,
    Name,
    Hierarchy,
}

#[derive(DeriveIden, Clone, Copy)]
enum Voucher {
    #[sea_orm(iden = "vouchers")]
    Table,
    Id,
    Code,
    VoucherType,
    Active,
    CampaignId,
    HolderId,
    Discount,
    Gift,
    LoyaltyCard,
    Metadata,
    RedemptionQuantity,
    RedemptionRedeemedQuantity,
    StartDate,
    ExpirationDate,
    CreatedAt,
    UpdatedAt,
    FactsAt,
    EventId,
}

#[derive(DeriveIden, Clone, Copy)]
enum VoucherCategory {
    #[sea_orm(iden = "voucher_categories")]
    Table,
    VoucherId,
    CategoryId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Publication {
    #[sea_orm(iden = "publications")]
    Table,
    Id,
    Seq,
    Result,
    Channel,
    SourceId,
    TrackingId,
    Metadata,
    CreatedAt,
    ReceivedAt,
    CustomerId,
    VoucherId,
    CampaignId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PublicationVoucher {
    #[sea_orm(iden = "publication_vouchers")]
    Table,
    PublicationId,
    VoucherId,
    Position,
}

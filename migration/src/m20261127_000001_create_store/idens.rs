//! Table and column names. Column names mirror the tables, so `Event::EventType` and the like
//! are the true names.
#![allow(clippy::enum_variant_names)]

use sea_orm_migration::prelude::*;

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum Sequence {
    #[sea_orm(iden = "pubgate_sequence")]
    Table,
    Id,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum Event {
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
pub(super) enum Customer {
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
pub(super) enum Campaign {
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
pub(super) enum Category {
    #[sea_orm(iden = "categories")]
    Table,
    Id,
    Name,
    Hierarchy,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum Voucher {
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
pub(super) enum VoucherCategory {
    #[sea_orm(iden = "voucher_categories")]
    Table,
    VoucherId,
    CategoryId,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum Publication {
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
pub(super) enum PublicationVoucher {
    #[sea_orm(iden = "publication_vouchers")]
    Table,
    PublicationId,
    VoucherId,
    Position,
}

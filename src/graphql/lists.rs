//! The lists behind every connection field, top-level or nested: arguments in, one page out.

use super::connection::Paging;
use super::types::*;
use crate::error::ApiResult;
use crate::store::{cursor, directory, publications, queries};
use async_graphql::Context;
use sea_orm::DatabaseConnection;

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

pub async fn publications(
    ctx: &Context<'_>,
    filter: publications::PublicationFilter,
    sort: publications::Sort,
    paging: Paging,
) -> ApiResult<PublicationConnection> {
    let window = paging.window(cursor::decode_publication)?;
    let page = publications::page(db(ctx), &filter, sort, &window).await?;
    super::prefetch::publications(ctx, &page.rows).await?;
    let cursor = |row: &entity::publication::Model| cursor::publication(&publications::key_of(row));
    Ok(PublicationConnection::from_page(
        page,
        cursor,
        Count::Publications(filter),
    ))
}

pub async fn customers(
    ctx: &Context<'_>,
    filter: directory::CustomerFilter,
    paging: Paging,
) -> ApiResult<CustomerConnection> {
    let window = paging.window(|c| cursor::decode_entity('c', c))?;
    let page = directory::customers(db(ctx), &filter, &window).await?;
    let cursor = |row: &entity::customer::Model| cursor::entity('c', &row.id);
    Ok(CustomerConnection::from_page(
        page,
        cursor,
        Count::Customers(filter),
    ))
}

pub async fn vouchers(
    ctx: &Context<'_>,
    filter: directory::VoucherFilter,
    paging: Paging,
) -> ApiResult<VoucherConnection> {
    let window = paging.window(|c| cursor::decode_entity('v', c))?;
    let page = directory::vouchers(db(ctx), &filter, &window).await?;
    let cursor = |row: &entity::voucher::Model| cursor::entity('v', &row.id);
    Ok(VoucherConnection::from_page(
        page,
        cursor,
        Count::Vouchers(filter),
    ))
}

pub async fn campaigns(ctx: &Context<'_>, paging: Paging) -> ApiResult<CampaignConnection> {
    let window = paging.window(|c| cursor::decode_entity('k', c))?;
    let page = directory::campaigns(db(ctx), &window).await?;
    let cursor = |row: &entity::campaign::Model| cursor::entity('k', &row.id);
    Ok(CampaignConnection::from_page(
        page,
        cursor,
        Count::Campaigns,
    ))
}

pub async fn events(
    ctx: &Context<'_>,
    filter: queries::EventFilter,
    paging: Paging,
) -> ApiResult<WebhookEventConnection> {
    let window = paging.window(cursor::decode_event)?;
    let page = queries::webhook_events(db(ctx), &filter, &window).await?;
    let cursor = |row: &entity::webhook_event::Model| cursor::event(row.id);
    Ok(WebhookEventConnection::from_page(
        page,
        cursor,
        Count::Events(filter),
    ))
}

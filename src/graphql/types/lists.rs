//! The lists behind every connection field, top-level or nested: arguments in, one page out.

use super::*;
use crate::domain::cursor;
use crate::error::ApiResult;
use crate::graphql::connection::{Count, Paging};
use crate::graphql::loaders::Lookup;
use crate::graphql::{db, plain};
use crate::store::queries::Page;
use crate::store::related::{self, Related, Wants};
use crate::store::{directory, publications, queries};
use async_graphql::{Context, Lookahead};
use std::sync::Arc;

fn selects(node: Lookahead<'_>, path: &[&str]) -> bool {
    match path.split_first() {
        None => node.exists(),
        Some((name, rest)) => selects(node.field(name), rest),
    }
}

/// What the nodes of a publication connection being resolved will ask for. Reading it for the
/// whole page at once makes a page cost the same statements whatever its size (DataLoader
/// alone batches by a timer, so a slow poll can split its batches).
fn wanted(ctx: &Context<'_>) -> Wants {
    if plain(ctx) {
        return Wants::default();
    }
    let look = ctx.look_ahead();
    let wants = |path: &[&str]| {
        selects(look.field("edges").field("node"), path) || selects(look.field("nodes"), path)
    };
    let in_vouchers = |field: &str| wants(&["voucher", field]) || wants(&["vouchers", field]);
    Wants {
        customer: wants(&["customer"]),
        voucher: wants(&["voucher"]),
        vouchers: wants(&["vouchers"]),
        campaign: wants(&["campaign"]),
        event: wants(&["event"]),
        voucher_holder: in_vouchers("holder"),
        voucher_campaign: in_vouchers("campaign"),
        voucher_categories: in_vouchers("categories"),
    }
}

pub async fn publications(
    ctx: &Context<'_>,
    filter: publications::PublicationFilter,
    sort: publications::Sort,
    paging: Paging,
) -> ApiResult<PublicationConnection> {
    let window = paging.window(cursor::decode_publication)?;
    let wants = wanted(ctx);
    // What the rows refer to directly comes with the page, in the same statement.
    let (page, known) = if wants.customer || wants.voucher || wants.campaign {
        let page = publications::page_joined(db(ctx), &filter, sort, &window).await?;
        split(page)
    } else {
        let page = publications::page(db(ctx), &filter, sort, &window).await?;
        (page, Related::default())
    };
    let related = match plain(ctx) {
        true => None,
        false => Some(Arc::new(
            related::complete(db(ctx), &page.rows, wants, known).await?,
        )),
    };
    let (database, _) = ctx.data_unchecked::<crate::feed::Feed>().version();
    let cursor = |row: &entity::publication::Model| {
        cursor::publication(&publications::key_of(row), &database)
    };
    let node = |row| Publication::new(row, related.clone());
    Ok(PublicationConnection::from_page(
        counted(ctx, page),
        cursor,
        node,
        Count::Publications(filter),
    ))
}

/// What the nodes of a voucher connection being resolved will ask for (its `voucher_*` fields).
fn voucher_wants(ctx: &Context<'_>) -> Wants {
    if plain(ctx) {
        return Wants::default();
    }
    let look = ctx.look_ahead();
    let wants = |field: &str| {
        look.field("edges").field("node").field(field).exists()
            || look.field("nodes").field(field).exists()
    };
    Wants {
        voucher_holder: wants("holder"),
        voucher_campaign: wants("campaign"),
        voucher_categories: wants("categories"),
        ..Wants::default()
    }
}

/// One publication by id; what it refers to comes in the same statement when the selection
/// asks for it.
pub async fn publication(ctx: &Context<'_>, id: String) -> ApiResult<Option<Publication>> {
    let look = ctx.look_ahead();
    let joins = !plain(ctx)
        && ["customer", "voucher", "campaign"]
            .iter()
            .any(|f| look.field(f).exists());
    if !joins {
        let row = publications::by_id(db(ctx), id).await?;
        return Ok(row.map(|row| Publication::new(row, None)));
    }
    let Some(joined) = publications::by_id_joined(db(ctx), id).await? else {
        return Ok(None);
    };
    let mut known = Related::default();
    let row = absorb(&mut known, joined);
    Ok(Some(Publication::new(row, Some(Arc::new(known)))))
}

/// The page, told to count itself by a statement when executing plainly (a page that holds the
/// whole list otherwise counts itself).
fn counted<T>(ctx: &Context<'_>, mut page: Page<T>) -> Page<T> {
    page.whole &= !plain(ctx);
    page
}

/// The rows of a joined page, and what they refer to, by id.
fn split(page: Page<publications::Joined>) -> (Page<entity::publication::Model>, Related) {
    let mut known = Related::default();
    let page = page.map(|joined| absorb(&mut known, joined));
    (page, known)
}

/// Files what a joined row refers to in `known`; returns the row.
pub(crate) fn absorb(
    known: &mut Related,
    joined: publications::Joined,
) -> entity::publication::Model {
    let (row, customer, voucher, campaign) = joined;
    if let Some(c) = customer {
        known.customers.insert(c.id.clone(), Arc::new(c));
    }
    if let Some(v) = voucher {
        known.vouchers.insert(v.id.clone(), Arc::new(v));
    }
    if let Some(c) = campaign {
        known.campaigns.insert(c.id.clone(), Arc::new(c));
    }
    row
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
        counted(ctx, page),
        cursor,
        Customer::from,
        Count::Customers(filter),
    ))
}

pub async fn vouchers(
    ctx: &Context<'_>,
    filter: directory::VoucherFilter,
    paging: Paging,
) -> ApiResult<VoucherConnection> {
    let window = paging.window(|c| cursor::decode_entity('v', c))?;
    let wants = voucher_wants(ctx);
    let mut known = Related::default();
    // The campaigns come with the page, in the same statement.
    let page = if wants.voucher_campaign {
        let page = directory::vouchers_with_campaigns(db(ctx), &filter, &window).await?;
        page.map(|(row, campaign)| {
            if let Some(c) = campaign {
                known.campaigns.insert(c.id.clone(), Arc::new(c));
            }
            row
        })
    } else {
        directory::vouchers(db(ctx), &filter, &window).await?
    };
    let related = match plain(ctx) {
        true => None,
        false => Some(Arc::new(
            related::for_vouchers(db(ctx), &page.rows, wants, known).await?,
        )),
    };
    let cursor = |row: &entity::voucher::Model| cursor::entity('v', &row.id);
    let node = |row| Voucher::new(Arc::new(row), Lookup(related.clone()));
    Ok(VoucherConnection::from_page(
        counted(ctx, page),
        cursor,
        node,
        Count::Vouchers(filter),
    ))
}

pub async fn campaigns(
    ctx: &Context<'_>,
    filter: directory::CampaignFilter,
    paging: Paging,
) -> ApiResult<CampaignConnection> {
    let window = paging.window(|c| cursor::decode_entity('k', c))?;
    let page = directory::campaigns(db(ctx), &filter, &window).await?;
    let cursor = |row: &entity::campaign::Model| cursor::entity('k', &row.id);
    Ok(CampaignConnection::from_page(
        counted(ctx, page),
        cursor,
        Campaign::from,
        Count::Campaigns(filter),
    ))
}

pub async fn events(
    ctx: &Context<'_>,
    filter: queries::EventFilter,
    paging: Paging,
) -> ApiResult<WebhookEventConnection> {
    let window = paging.window(cursor::decode_event)?;
    let page = queries::webhook_events(db(ctx), &filter, &window).await?;
    let (database, _) = ctx.data_unchecked::<crate::feed::Feed>().version();
    let cursor = |row: &entity::webhook_event::Model| cursor::event(row.id, &database);
    Ok(WebhookEventConnection::from_page(
        counted(ctx, page),
        cursor,
        WebhookEvent::from,
        Count::Events(filter),
    ))
}

//! Running a plan: each page read in one statement with only the columns asked for
//! (`store::narrow`), what its vouchers refer to read as the resolvers read it
//! (`store::related`), then the answer written as JSON straight from the rows, field by field
//! in the order asked.
//!
//! Any error (a bad cursor, a database error, a row that refers to one that is missing) is
//! `Miss`: the resolvers then answer the same operation and report it as they always do.

use super::plan::*;
use crate::domain::cursor;
use crate::graphql::connection::Count;
use crate::graphql::scalars::DateTime;
use crate::graphql::types::{Counted, Discount, Gift, LoyaltyCard, VoucherType, count, lists};
use crate::store::publications::Joined;
use crate::store::queries::Page;
use crate::store::related::{self, Related, Wants};
use crate::store::{directory, narrow, publications};
use async_graphql::InputType;
use entity::{campaign, category, customer, publication, voucher};
use futures::future::try_join_all;
use sea_orm::DatabaseConnection;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;

/// Direct execution gives way to the resolvers (deliberately not `Debug`, so that any error
/// converts into it).
pub struct Miss;

impl<E: Debug> From<E> for Miss {
    fn from(_: E) -> Self {
        Miss
    }
}

type Result<T> = std::result::Result<T, Miss>;

/// What the store reads need.
pub struct Env<'a> {
    pub db: &'a DatabaseConnection,
    /// The database's identity, which publication cursors carry.
    pub database: &'a str,
    /// The analytics counters' connections (`AppState::analytics_db`).
    pub analytics: &'a DatabaseConnection,
}

/// Answers the root fields: `{"data":{…}}`.
pub async fn run(env: &Env<'_>, fields: &Fields<Root>) -> Result<Vec<u8>> {
    let parts = try_join_all(fields.iter().map(|(_, f)| root(env, f))).await?;
    // The campaigns the counts' groups name, read once for every root field that asks.
    let counted = || {
        parts.iter().filter_map(|part| match part {
            Part::Counted(counted, plan) => Some((counted, plan)),
            Part::Written(_) => None,
        })
    };
    let ids: BTreeSet<String> = counted()
        .filter(|(_, plan)| plan.names_campaigns())
        .flat_map(|(counted, _)| counted.groups.iter())
        .filter_map(|((_, id, _), _, _)| id.clone())
        .collect();
    let columns: Vec<_> = counted()
        .flat_map(|(_, plan)| plan.campaign_fields())
        .filter_map(campaign_column)
        .collect();
    let campaigns = narrow::campaigns(env.db, &Vec::from_iter(ids), &columns).await?;
    let parts = parts
        .into_iter()
        .map(|part| match part {
            Part::Written(bytes) => Ok(bytes),
            Part::Counted(counted, plan) => {
                let mut out = Out::with_capacity(4096);
                write_stats(&mut out, &plan.fields, &counted, &campaigns)?;
                Ok(out.0)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Out::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + 64);
    out.raw(b"{\"data\":");
    out.object(fields.iter().zip(parts), |out, ((_, _), part)| {
        out.raw(&part);
        Ok(())
    })?;
    out.raw(b"}");
    Ok(out.0)
}

/// A root field's answer: written, or counted (for its plan) and written once the campaigns
/// its groups name are read.
enum Part<'a> {
    Written(Vec<u8>),
    Counted(Counted, &'a StatsPlan),
}

async fn root<'a>(env: &Env<'_>, field: &'a Root) -> Result<Part<'a>> {
    let mut out = Out::with_capacity(256);
    match field {
        Root::Stats(plan) => {
            let counted = count(env.db, env.analytics, plan.args.clone()).await?;
            return Ok(Part::Counted(counted, plan));
        }
        Root::Typename => out.str("Query"),
        Root::Publications(list) => {
            let PublicationList {
                filter,
                sort,
                paging,
                page,
            } = &**list;
            let read = publication_page(env, filter.clone(), *sort, paging.clone(), page).await?;
            read.write(&mut out, page, env)?;
        }
        Root::Publication { id, fields } => {
            let (columns, wants) = publication_reads(std::iter::once(fields));
            match narrow::publication(env.db, id.clone(), &columns).await? {
                None => out.null(),
                Some(joined) => {
                    let rows = [joined];
                    let related = beyond_the_join(env, &rows, wants).await?;
                    write_publication(&mut out, fields, &rows[0], &related)?;
                }
            }
        }
        Root::Customer {
            id,
            source_id,
            fields,
        } => match directory::customer(env.db, id.clone(), source_id.clone()).await? {
            None => out.null(),
            Some(row) => {
                let lists =
                    try_join_all(fields.iter().map(|(_, f)| customer_list(env, &row, f))).await?;
                let mut lists = lists.into_iter();
                out.object(fields, |out, (_, field)| {
                    let list = lists.next().flatten();
                    match (field, list) {
                        (Cust::Vouchers { page, .. }, Some(List::Vouchers(read))) => {
                            read.write(out, page)
                        }
                        (Cust::Publications { page, .. }, Some(List::Publications(read))) => {
                            read.write(out, page, env)
                        }
                        (field, _) => write_customer_field(out, field, &row),
                    }
                })?;
            }
        },
    }
    Ok(Part::Written(out.0))
}

/// An `assignmentStats` answer, as the resolvers write it.
fn write_stats(
    out: &mut Out,
    fields: &Fields<StatsF>,
    counted: &Counted,
    campaigns: &HashMap<String, campaign::Model>,
) -> Result<()> {
    let buckets = |out: &mut Out, fields: &Fields<BucketF>, counts| {
        out.list_of(counted.dense(counts), |out, (b, count)| {
            out.object(fields, |out, (_, field)| {
                match field {
                    BucketF::Typename => out.str("StatsBucketCount"),
                    BucketF::Start => out.str(&counted.start(b).text()),
                    BucketF::Count => out.int(count),
                }
                Ok(())
            })
        })
    };
    out.object(fields, |out, (_, field)| {
        match field {
            StatsF::Typename => out.str("AssignmentStats"),
            StatsF::Total => out.int(counted.total),
            StatsF::Buckets(fields) => buckets(out, fields, &counted.series)?,
            StatsF::Groups(fields) => {
                out.list_of(counted.groups.iter(), |out, group| {
                    let ((kind, campaign, channel), total, counts) = group;
                    out.object(fields, |out, (_, field)| {
                        match field {
                            GroupF::Typename => out.str("StatsGroup"),
                            GroupF::VoucherType => match kind {
                                Some(kind) => out.value(&VoucherType::parse(kind).to_value())?,
                                None => out.null(),
                            },
                            GroupF::Campaign(fields) => {
                                let found = campaign.as_ref().and_then(|id| campaigns.get(id));
                                write_campaign(out, fields, found)?
                            }
                            GroupF::Channel => out.opt_str(channel.as_deref()),
                            GroupF::Total => out.int(*total),
                            GroupF::Buckets(fields) => buckets(out, fields, counts)?,
                        }
                        Ok(())
                    })
                })?;
            }
        }
        Ok(())
    })
}

/// A list under the customer at the root, read before the customer is written.
enum List {
    Vouchers(VoucherPage),
    Publications(PublicationPage),
}

async fn customer_list(env: &Env<'_>, row: &customer::Model, field: &Cust) -> Result<Option<List>> {
    Ok(match field {
        Cust::Vouchers {
            filter,
            paging,
            page,
        } => {
            let mut filter = filter.clone();
            filter.holder_id = Some(row.id.clone());
            Some(List::Vouchers(
                voucher_page(env, filter, paging.clone(), page).await?,
            ))
        }
        Cust::Publications { paging, page } => {
            let filter = publications::PublicationFilter {
                customer_id: Some(row.id.clone()),
                ..Default::default()
            };
            let sort = publications::Sort::default();
            Some(List::Publications(
                publication_page(env, filter, sort, paging.clone(), page).await?,
            ))
        }
        _ => None,
    })
}

/// What the nodes of a publication page ask for: the columns of it and what it joins, and what
/// its vouchers refer to.
fn publication_reads<'a>(nodes: impl Iterator<Item = &'a Fields<Pub>>) -> (narrow::Columns, Wants) {
    use entity::publication::Column as P;
    let mut columns = narrow::Columns::default();
    let mut wants = Wants::default();
    // A voucher's campaign is most often the publication's own: that one is joined with the
    // columns both ask for, and a voucher's other campaign is read by id after the page.
    let mut of_vouchers = None;
    for fields in nodes {
        for (_, field) in fields {
            match field {
                Pub::Result => columns.publication.push(P::Result),
                Pub::Channel => columns.publication.push(P::Channel),
                Pub::SourceId => columns.publication.push(P::SourceId),
                Pub::TrackingId => columns.publication.push(P::TrackingId),
                Pub::Customer(fields) => {
                    wants.customer = true;
                    let asked = columns.customer.get_or_insert_with(Vec::new);
                    asked.extend(fields.iter().filter_map(|(_, f)| customer_column(f)));
                }
                Pub::Voucher(fields) => {
                    wants.voucher = true;
                    let asked = columns.voucher.get_or_insert_with(Vec::new);
                    voucher_reads(fields, asked, &mut of_vouchers, &mut wants);
                }
                Pub::Campaign(fields) => {
                    wants.campaign = true;
                    let asked = columns.campaign.get_or_insert_with(Vec::new);
                    asked.extend(fields.iter().filter_map(|(_, f)| campaign_column(f)));
                }
                Pub::Typename | Pub::Id | Pub::CreatedAt | Pub::ReceivedAt => {}
            }
        }
    }
    if let Some(more) = of_vouchers {
        // Joined as the publication's own: most often the voucher's too, then read with it.
        columns.campaign.get_or_insert_with(Vec::new).extend(more);
    }
    (columns, wants)
}

fn customer_column(field: &Cust) -> Option<entity::customer::Column> {
    use entity::customer::Column as C;
    Some(match field {
        Cust::SourceId => C::SourceId,
        Cust::Name => C::Name,
        Cust::Email => C::Email,
        Cust::CreatedAt => C::CreatedAt,
        Cust::UpdatedAt => C::UpdatedAt,
        Cust::DeletedAt => C::DeletedAt,
        Cust::Typename | Cust::Id | Cust::Vouchers { .. } | Cust::Publications { .. } => {
            return None;
        }
    })
}

/// Adds the columns `fields` ask of a voucher to `asked`, those they ask of its campaign to
/// `campaign` (which then joins), and whether they ask for its campaign or categories to
/// `wants`.
fn voucher_reads(
    fields: &Fields<Vou>,
    asked: &mut Vec<entity::voucher::Column>,
    campaign: &mut Option<Vec<entity::campaign::Column>>,
    wants: &mut Wants,
) {
    use entity::voucher::Column as V;
    for (_, field) in fields {
        asked.push(match field {
            Vou::Code => V::Code,
            Vou::Type => V::VoucherType,
            Vou::Active => V::Active,
            Vou::AdditionalInfo => V::AdditionalInfo,
            Vou::PublishCount => V::PublishCount,
            Vou::StartDate => V::StartDate,
            Vou::ExpirationDate => V::ExpirationDate,
            Vou::CreatedAt => V::CreatedAt,
            Vou::UpdatedAt => V::UpdatedAt,
            Vou::DeletedAt => V::DeletedAt,
            Vou::Discount(_) => V::Discount,
            Vou::Gift(_) => V::Gift,
            Vou::LoyaltyCard(_) => V::LoyaltyCard,
            Vou::Campaign(fields) => {
                wants.voucher_campaign = true;
                let asked = campaign.get_or_insert_with(Vec::new);
                asked.extend(fields.iter().filter_map(|(_, f)| campaign_column(f)));
                continue;
            }
            Vou::Categories(_) => {
                wants.voucher_categories = true;
                continue;
            }
            Vou::Typename | Vou::Id => continue,
        });
    }
}

fn campaign_column(field: &Camp) -> Option<entity::campaign::Column> {
    use entity::campaign::Column as K;
    Some(match field {
        Camp::Name => K::Name,
        Camp::CampaignType => K::CampaignType,
        Camp::Kind => K::Kind,
        Camp::Description => K::Description,
        Camp::Active => K::Active,
        Camp::IsReferralCode => K::IsReferralCode,
        Camp::AutoJoin => K::AutoJoin,
        Camp::JoinOnce => K::JoinOnce,
        Camp::Typename | Camp::Id => return None,
    })
}

/// What the rows of a joined page refer to beyond the join (a voucher's campaign and
/// categories), read only when asked; a row whose join found nothing is looked for there too.
async fn beyond_the_join(env: &Env<'_>, rows: &[Joined], wants: Wants) -> Result<Related> {
    if !(wants.voucher_campaign || wants.voucher_categories) {
        return Ok(Related::default());
    }
    let mut known = Related::default();
    let own: Vec<publication::Model> = rows
        .iter()
        .map(|joined| lists::absorb(&mut known, joined.clone()))
        .collect();
    Ok(related::complete(env.db, &own, wants, known).await?)
}

/// A page read for a connection: its rows, what they refer to, and its count when asked.
struct Read<T> {
    page: Page<T>,
    related: Related,
    count: Option<i64>,
}

type PublicationPage = Read<Joined>;

/// The count `conn` asks for, if it does: a page that holds the whole list is its own.
async fn count_of<T, F>(
    env: &Env<'_>,
    conn: &Conn<F>,
    page: &Page<T>,
    count: Count,
) -> Result<Option<i64>> {
    if !conn.counts() {
        return Ok(None);
    }
    let count = match page.whole {
        true => Count::Known(page.rows.len()),
        false => count,
    };
    Ok(Some(count.count_in(env.db).await?))
}

async fn publication_page(
    env: &Env<'_>,
    filter: publications::PublicationFilter,
    sort: publications::Sort,
    paging: crate::graphql::connection::Paging,
    conn: &Conn<Pub>,
) -> Result<PublicationPage> {
    let window = paging.window(cursor::decode_publication)?;
    let (columns, wants) = publication_reads(conn.nodes());
    let page = narrow::publications(env.db, &filter, sort, &window, &columns).await?;
    let related = beyond_the_join(env, &page.rows, wants).await?;
    let count = count_of(env, conn, &page, Count::Publications(filter)).await?;
    Ok(Read {
        page,
        related,
        count,
    })
}

impl PublicationPage {
    fn write(&self, out: &mut Out, conn: &Conn<Pub>, env: &Env<'_>) -> Result<()> {
        let cursor =
            |row: &Joined| cursor::publication(&publications::key_of(&row.0), env.database);
        write_connection(
            out,
            conn,
            &self.page,
            self.count,
            cursor,
            |out, fields, row| write_publication(out, fields, row, &self.related),
        )
    }
}

type VoucherPage = Read<voucher::Model>;

async fn voucher_page(
    env: &Env<'_>,
    filter: directory::VoucherFilter,
    paging: crate::graphql::connection::Paging,
    conn: &Conn<Vou>,
) -> Result<VoucherPage> {
    let window = paging.window(|c| cursor::decode_entity('v', c))?;
    let (mut columns, mut campaign, mut wants) = (vec![], None, Wants::default());
    for fields in conn.nodes() {
        voucher_reads(fields, &mut columns, &mut campaign, &mut wants);
    }
    let mut known = Related::default();
    let page = narrow::vouchers(env.db, &filter, &window, &columns, campaign.as_deref()).await?;
    let page = page.map(|(row, campaign)| {
        if let Some(c) = campaign {
            known.campaigns.insert(c.id.clone(), std::sync::Arc::new(c));
        }
        row
    });
    let related = related::for_vouchers(env.db, &page.rows, wants, known).await?;
    let count = count_of(env, conn, &page, Count::Vouchers(filter)).await?;
    Ok(Read {
        page,
        related,
        count,
    })
}

impl VoucherPage {
    fn write(&self, out: &mut Out, conn: &Conn<Vou>) -> Result<()> {
        let cursor = |row: &voucher::Model| cursor::entity('v', &row.id);
        write_connection(
            out,
            conn,
            &self.page,
            self.count,
            cursor,
            |out, fields, row| write_voucher(out, fields, row, &self.related),
        )
    }
}

fn write_connection<R, F>(
    out: &mut Out,
    conn: &Conn<F>,
    page: &Page<R>,
    count: Option<i64>,
    cursor: impl Fn(&R) -> String,
    node: impl Fn(&mut Out, &Fields<F>, &R) -> Result<()>,
) -> Result<()> {
    out.object(&conn.fields, |out, (_, field)| {
        match field {
            ConnF::Typename => out.str(conn.names.0),
            ConnF::TotalCount => out.int(count.ok_or(Miss)?),
            ConnF::Nodes(fields) => out.list(&page.rows, |out, row| node(out, fields, row))?,
            ConnF::Edges(edge) => out.list(&page.rows, |out, row| {
                out.object(edge, |out, (_, field)| {
                    match field {
                        EdgeF::Typename => out.str(conn.names.1),
                        EdgeF::Cursor => out.str(&cursor(row)),
                        EdgeF::Node(fields) => node(out, fields, row)?,
                    }
                    Ok(())
                })
            })?,
            ConnF::PageInfo(fields) => out.object(fields, |out, (_, field)| {
                match field {
                    PageInfoF::Typename => out.str("PageInfo"),
                    PageInfoF::HasNextPage => out.bool(page.has_next),
                    PageInfoF::HasPreviousPage => out.bool(page.has_previous),
                    PageInfoF::StartCursor => match page.rows.first() {
                        Some(row) => out.str(&cursor(row)),
                        None => out.null(),
                    },
                    PageInfoF::EndCursor => match page.rows.last() {
                        Some(row) => out.str(&cursor(row)),
                        None => out.null(),
                    },
                }
                Ok(())
            })?,
        }
        Ok(())
    })
}

/// A publication from its joined row; what the join did not bring is looked for in `related`.
fn write_publication(
    out: &mut Out,
    fields: &Fields<Pub>,
    joined: &Joined,
    related: &Related,
) -> Result<()> {
    let (row, customer, voucher, campaign) = joined;
    out.object(fields, |out, (_, field)| {
        match field {
            Pub::Typename => out.str("Publication"),
            Pub::Id => out.str(&row.id),
            Pub::Result => out.str(&row.result),
            Pub::Channel => out.opt_str(row.channel.as_deref()),
            Pub::SourceId => out.opt_str(row.source_id.as_deref()),
            Pub::TrackingId => out.opt_str(row.tracking_id.as_deref()),
            Pub::CreatedAt => out.time(Some(row.created_at)),
            Pub::ReceivedAt => out.time(Some(row.received_at)),
            Pub::Customer(fields) => {
                let customer = customer
                    .as_ref()
                    .or_else(|| related.customers.get(&row.customer_id).map(|c| &**c))
                    .ok_or(Miss)?;
                out.object(fields, |out, (_, f)| write_customer_field(out, f, customer))?;
            }
            Pub::Voucher(fields) => {
                let voucher = voucher
                    .as_ref()
                    .or_else(|| related.vouchers.get(&row.voucher_id).map(|v| &**v))
                    .ok_or(Miss)?;
                write_voucher(out, fields, voucher, related)?;
            }
            Pub::Campaign(fields) => {
                let found = campaign.as_ref().or_else(|| {
                    let id = row.campaign_id.as_ref()?;
                    related.campaigns.get(id).map(|c| &**c)
                });
                write_campaign(out, fields, found)?
            }
        }
        Ok(())
    })
}

/// A field of a customer that needs nothing but its row.
fn write_customer_field(out: &mut Out, field: &Cust, row: &customer::Model) -> Result<()> {
    match field {
        Cust::Typename => out.str("Customer"),
        Cust::Id => out.str(&row.id),
        Cust::SourceId => out.opt_str(row.source_id.as_deref()),
        Cust::Name => out.opt_str(row.name.as_deref()),
        Cust::Email => out.opt_str(row.email.as_deref()),
        Cust::CreatedAt => out.time(row.created_at),
        Cust::UpdatedAt => out.time(row.updated_at),
        Cust::DeletedAt => out.time(row.deleted_at),
        Cust::Vouchers { .. } | Cust::Publications { .. } => return Err(Miss),
    }
    Ok(())
}

/// A campaign a row refers to: null when it refers to none, or to one not stored.
fn write_campaign(
    out: &mut Out,
    fields: &Fields<Camp>,
    row: Option<&campaign::Model>,
) -> Result<()> {
    let Some(row) = row else {
        out.null();
        return Ok(());
    };
    out.object(fields, |out, (_, field)| {
        match field {
            Camp::Typename => out.str("Campaign"),
            Camp::Id => out.str(&row.id),
            Camp::Name => out.str(&row.name),
            Camp::CampaignType => out.opt_str(row.campaign_type.as_deref()),
            Camp::Kind => out.opt_str(row.kind.as_deref()),
            Camp::Description => out.opt_str(row.description.as_deref()),
            Camp::Active => out.opt_bool(row.active),
            Camp::IsReferralCode => out.opt_bool(row.is_referral_code),
            Camp::AutoJoin => out.opt_bool(row.auto_join),
            Camp::JoinOnce => out.opt_bool(row.join_once),
        }
        Ok(())
    })
}

fn write_voucher(
    out: &mut Out,
    fields: &Fields<Vou>,
    row: &voucher::Model,
    related: &Related,
) -> Result<()> {
    out.object(fields, |out, (_, field)| {
        match field {
            Vou::Typename => out.str("Voucher"),
            Vou::Id => out.str(&row.id),
            Vou::Code => out.str(&row.code),
            Vou::Type => out.value(&VoucherType::parse(&row.voucher_type).to_value())?,
            Vou::Active => out.opt_bool(row.active),
            Vou::AdditionalInfo => out.opt_str(row.additional_info.as_deref()),
            Vou::PublishCount => out.opt_int(row.publish_count),
            Vou::StartDate => out.time(row.start_date),
            Vou::ExpirationDate => out.time(row.expiration_date),
            Vou::CreatedAt => out.time(row.created_at),
            Vou::UpdatedAt => out.time(row.updated_at),
            Vou::DeletedAt => out.time(row.deleted_at),
            Vou::Discount(fields) => match row.discount.as_ref().and_then(Discount::from_json) {
                None => out.null(),
                Some(d) => write_discount(out, fields, &d)?,
            },
            Vou::Gift(fields) => match row.gift.as_ref().map(Gift::from_json) {
                None => out.null(),
                Some(g) => out.object(fields, |out, (_, field)| {
                    match field {
                        GiftF::Typename => out.str("Gift"),
                        GiftF::Amount => out.opt_int(g.amount),
                        GiftF::Balance => out.opt_int(g.balance),
                        GiftF::Effect => out.opt_str(g.effect.as_deref()),
                    }
                    Ok(())
                })?,
            },
            Vou::LoyaltyCard(fields) => match row.loyalty_card.as_ref().map(LoyaltyCard::from_json)
            {
                None => out.null(),
                Some(l) => out.object(fields, |out, (_, field)| {
                    match field {
                        Loyalty::Typename => out.str("LoyaltyCard"),
                        Loyalty::Points => out.opt_int(l.points),
                        Loyalty::Balance => out.opt_int(l.balance),
                    }
                    Ok(())
                })?,
            },
            Vou::Categories(fields) => {
                let found = related.categories.get(&row.id).ok_or(Miss)?;
                out.list(found, |out, c: &category::Model| {
                    out.object(fields, |out, (_, field)| {
                        match field {
                            Cat::Typename => out.str("Category"),
                            Cat::Id => out.str(&c.id),
                            Cat::Name => out.str(&c.name),
                            Cat::Hierarchy => out.opt_int(c.hierarchy.map(i64::from)),
                        }
                        Ok(())
                    })
                })?;
            }
            Vou::Campaign(fields) => {
                let found = row
                    .campaign_id
                    .as_ref()
                    .and_then(|id| related.campaigns.get(id));
                write_campaign(out, fields, found.map(|c| &**c))?
            }
        }
        Ok(())
    })
}

fn write_discount(out: &mut Out, fields: &Fields<Disc>, d: &Discount) -> Result<()> {
    out.object(fields, |out, (_, field)| {
        match field {
            Disc::Typename => out.str("Discount"),
            Disc::Type => out.value(&d.kind.to_value())?,
            Disc::Effect => out.opt_str(d.effect.as_deref()),
            Disc::AmountOff => out.opt_int(d.amount_off),
            Disc::PercentOff => out.opt_float(d.percent_off)?,
            Disc::UnitOff => out.opt_float(d.unit_off)?,
            Disc::UnitType => out.opt_str(d.unit_type.as_deref()),
            Disc::AmountLimit => out.opt_int(d.amount_limit),
            Disc::PercentOffFormula => out.opt_str(d.percent_off_formula.as_deref()),
            Disc::AmountOffFormula => out.opt_str(d.amount_off_formula.as_deref()),
            Disc::FixedAmount => out.opt_int(d.fixed_amount),
        }
        Ok(())
    })
}

/// JSON written as it goes. Keys are GraphQL names (letters, digits and `_`), written as they
/// are; every string value is escaped by serde_json, as the resolvers' answers are.
struct Out(Vec<u8>);

impl Out {
    fn with_capacity(bytes: usize) -> Self {
        Out(Vec::with_capacity(bytes))
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// An object of `fields`, each value written by `each` after its key.
    fn object<T: Keyed>(
        &mut self,
        fields: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Out, T) -> Result<()>,
    ) -> Result<()> {
        self.0.push(b'{');
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.0.push(b'"');
            self.0.extend_from_slice(field.key().as_bytes());
            self.0.extend_from_slice(b"\":");
            each(self, field)?;
        }
        self.0.push(b'}');
        Ok(())
    }

    fn list<T>(&mut self, items: &[T], each: impl FnMut(&mut Out, &T) -> Result<()>) -> Result<()> {
        self.list_of(items.iter(), each)
    }

    fn list_of<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Out, T) -> Result<()>,
    ) -> Result<()> {
        self.0.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            each(self, item)?;
        }
        self.0.push(b']');
        Ok(())
    }

    fn null(&mut self) {
        self.0.extend_from_slice(b"null");
    }

    fn str(&mut self, s: &str) {
        // Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, s);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    fn bool(&mut self, b: bool) {
        self.0.extend_from_slice(if b { b"true" } else { b"false" });
    }

    fn opt_bool(&mut self, b: Option<bool>) {
        match b {
            Some(b) => self.bool(b),
            None => self.null(),
        }
    }

    fn int(&mut self, n: i64) {
        // Writing an integer into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, &n);
    }

    fn opt_int(&mut self, n: Option<i64>) {
        match n {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }

    /// A float as async-graphql answers one (through its `Value`: non-finite is null).
    fn opt_float(&mut self, n: Option<f64>) -> Result<()> {
        match n {
            Some(n) => self.value(&async_graphql::Value::from(n)),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    fn time(&mut self, t: Option<chrono::DateTime<chrono::Utc>>) {
        match t {
            Some(t) => self.str(&DateTime(t).text()),
            None => self.null(),
        }
    }

    /// A value as async-graphql serialises it (enums, floats).
    fn value(&mut self, value: &async_graphql::Value) -> Result<()> {
        serde_json::to_writer(&mut self.0, value)?;
        Ok(())
    }
}

/// Something written under a key in an object: a planned field, alone or with its value.
trait Keyed {
    fn key(&self) -> &str;
}

impl<F> Keyed for &(String, F) {
    fn key(&self) -> &str {
        &self.0
    }
}

impl<F, P> Keyed for (&(String, F), P) {
    fn key(&self) -> &str {
        &self.0.0
    }
}

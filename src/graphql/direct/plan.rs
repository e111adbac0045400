//! What an operation asks for, as far as direct execution answers it: per object type, the
//! fields it knows, with their arguments read. Planning says `None` for anything else (a
//! field, an argument value or a nesting it does not handle), and the resolvers answer.

use super::select::{Group, Scope};
use crate::graphql::connection::Paging;
use crate::graphql::types::{
    PublicationFilter, PublicationOrder, StatsArgs, StatsBucket, StatsDimension, VoucherFilter,
};
use crate::store::{directory, publications};
use async_graphql::ID;

/// Fields by the name they answer to, in order.
pub type Fields<F> = Vec<(String, F)>;

/// The operation's root fields.
pub enum Root {
    Typename,
    Publications(Box<PublicationList>),
    Publication {
        id: String,
        fields: Fields<Pub>,
    },
    Customer {
        id: Option<String>,
        source_id: Option<String>,
        fields: Fields<Cust>,
    },
    Stats(Box<StatsPlan>),
}

/// `assignmentStats(…)` at the root: its arguments as the resolver reads them (checked when it
/// runs), and what is asked of the answer.
pub struct StatsPlan {
    pub args: StatsArgs,
    pub fields: Fields<StatsF>,
}

impl StatsPlan {
    /// Whether its groups' campaigns are asked for (even with nothing selected of them: an
    /// answer still tells a campaign found from one not).
    pub fn names_campaigns(&self) -> bool {
        self.fields.iter().any(|(_, f)| match f {
            StatsF::Groups(group) => group.iter().any(|(_, g)| matches!(g, GroupF::Campaign(_))),
            _ => false,
        })
    }

    /// What its groups' campaigns are asked for.
    pub fn campaign_fields(&self) -> impl Iterator<Item = &Camp> {
        self.fields
            .iter()
            .filter_map(|(_, f)| match f {
                StatsF::Groups(group) => Some(group),
                _ => None,
            })
            .flatten()
            .filter_map(|(_, g)| match g {
                GroupF::Campaign(fields) => Some(fields),
                _ => None,
            })
            .flatten()
            .map(|(_, f)| f)
    }
}

pub enum StatsF {
    Typename,
    Total,
    Buckets(Fields<BucketF>),
    Groups(Fields<GroupF>),
}

pub enum BucketF {
    Typename,
    Start,
    Count,
}

pub enum GroupF {
    Typename,
    VoucherType,
    Campaign(Fields<Camp>),
    Channel,
    Total,
    Buckets(Fields<BucketF>),
}

/// `publications(…)` at the root.
pub struct PublicationList {
    pub filter: publications::PublicationFilter,
    pub sort: publications::Sort,
    pub paging: Paging,
    pub page: Conn<Pub>,
}

pub enum Pub {
    Typename,
    Id,
    Result,
    Channel,
    SourceId,
    TrackingId,
    CreatedAt,
    ReceivedAt,
    Customer(Fields<Cust>),
    Voucher(Fields<Vou>),
    Campaign(Fields<Camp>),
}

pub enum Cust {
    Typename,
    Id,
    SourceId,
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    /// Only on a customer at the root (one customer, so one page).
    Vouchers {
        filter: directory::VoucherFilter,
        paging: Paging,
        page: Conn<Vou>,
    },
    /// Only on a customer at the root.
    Publications {
        paging: Paging,
        page: Conn<Pub>,
    },
}

pub enum Vou {
    Typename,
    Id,
    Code,
    Type,
    Active,
    AdditionalInfo,
    PublishCount,
    StartDate,
    ExpirationDate,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    Discount(Fields<Disc>),
    Gift(Fields<GiftF>),
    LoyaltyCard(Fields<Loyalty>),
    Categories(Fields<Cat>),
    Campaign(Fields<Camp>),
}

pub enum Camp {
    Typename,
    Id,
    Name,
    CampaignType,
    Kind,
    Description,
    Active,
    IsReferralCode,
    AutoJoin,
    JoinOnce,
}

pub enum Disc {
    Typename,
    Type,
    Effect,
    AmountOff,
    PercentOff,
    UnitOff,
    UnitType,
    AmountLimit,
    PercentOffFormula,
    AmountOffFormula,
    FixedAmount,
}

pub enum GiftF {
    Typename,
    Amount,
    Balance,
    Effect,
}

pub enum Loyalty {
    Typename,
    Points,
    Balance,
}

pub enum Cat {
    Typename,
    Id,
    Name,
    Hierarchy,
}

/// A connection: the type names of the connection and its edges, and what is asked of it.
pub struct Conn<F> {
    pub names: (&'static str, &'static str),
    pub fields: Fields<ConnF<F>>,
}

pub enum ConnF<F> {
    Typename,
    Edges(Fields<EdgeF<F>>),
    Nodes(Fields<F>),
    PageInfo(Fields<PageInfoF>),
    TotalCount,
}

pub enum EdgeF<F> {
    Typename,
    Cursor,
    Node(Fields<F>),
}

pub enum PageInfoF {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

impl<F> Conn<F> {
    /// Every node's fields (under `edges { node }` and `nodes`).
    pub fn nodes(&self) -> impl Iterator<Item = &Fields<F>> {
        self.fields.iter().flat_map(|(_, f)| {
            let (edges, nodes) = match f {
                ConnF::Edges(edge) => (&edge[..], None),
                ConnF::Nodes(node) => (&[][..], Some(node)),
                _ => (&[][..], None),
            };
            let under_edges = edges.iter().filter_map(|(_, e)| match e {
                EdgeF::Node(node) => Some(node),
                _ => None,
            });
            under_edges.chain(nodes)
        })
    }

    /// Whether `totalCount` is asked.
    pub fn counts(&self) -> bool {
        self.fields
            .iter()
            .any(|(_, f)| matches!(f, ConnF::TotalCount))
    }
}

/// Plans the root fields of a query.
pub fn root(groups: &[Group<'_>], scope: &Scope<'_>) -> Option<Fields<Root>> {
    groups
        .iter()
        .map(|g| {
            let field = match g.name() {
                "__typename" => Root::Typename,
                "publications" => {
                    let filter: Option<PublicationFilter> = g.arg(scope, "filter")?;
                    let order: Option<PublicationOrder> = g.arg(scope, "orderBy")?;
                    Root::Publications(Box::new(PublicationList {
                        filter: filter.unwrap_or_default().into(),
                        sort: order.into(),
                        paging: paging(g, scope)?,
                        page: conn(g, scope, PUBLICATIONS, publication)?,
                    }))
                }
                "publication" => Root::Publication {
                    id: g.arg::<ID>(scope, "id")?.0,
                    fields: object(g, scope, "Publication", publication)?,
                },
                "customer" => {
                    let id: Option<ID> = g.arg(scope, "id")?;
                    let source_id: Option<String> = g.arg(scope, "sourceId")?;
                    Root::Customer {
                        id: id.map(|i| i.0),
                        source_id,
                        fields: object(g, scope, "Customer", |g, s| customer(g, s, true))?,
                    }
                }
                "assignmentStats" => Root::Stats(Box::new(StatsPlan {
                    args: StatsArgs {
                        from: g.arg(scope, "from")?,
                        to: g.arg(scope, "to")?,
                        bucket: g
                            .arg::<Option<StatsBucket>>(scope, "bucket")?
                            .unwrap_or(StatsBucket::Hour),
                        group_by: g
                            .arg::<Option<Vec<StatsDimension>>>(scope, "groupBy")?
                            .unwrap_or_default(),
                        filter: g.arg(scope, "filter")?,
                    },
                    fields: object(g, scope, "AssignmentStats", stats)?,
                })),
                _ => return None,
            };
            Some((g.key.to_owned(), field))
        })
        .collect()
}

fn stats(g: &Group<'_>, scope: &Scope<'_>) -> Option<StatsF> {
    let field = match g.name() {
        "__typename" => StatsF::Typename,
        "total" => StatsF::Total,
        "buckets" => StatsF::Buckets(object(g, scope, "StatsBucketCount", bucket)?),
        "groups" => StatsF::Groups(object(g, scope, "StatsGroup", group)?),
        _ => return None,
    };
    leaf(g, field)
}

fn group(g: &Group<'_>, scope: &Scope<'_>) -> Option<GroupF> {
    let field = match g.name() {
        "__typename" => GroupF::Typename,
        "voucherType" => GroupF::VoucherType,
        "campaign" => GroupF::Campaign(object(g, scope, "Campaign", campaign)?),
        "channel" => GroupF::Channel,
        "total" => GroupF::Total,
        "buckets" => GroupF::Buckets(object(g, scope, "StatsBucketCount", bucket)?),
        _ => return None,
    };
    leaf(g, field)
}

fn bucket(g: &Group<'_>, _: &Scope<'_>) -> Option<BucketF> {
    leaf(
        g,
        match g.name() {
            "__typename" => BucketF::Typename,
            "start" => BucketF::Start,
            "count" => BucketF::Count,
            _ => return None,
        },
    )
}

const PUBLICATIONS: (&str, &str) = ("PublicationConnection", "PublicationEdge");
const VOUCHERS: (&str, &str) = ("VoucherConnection", "VoucherEdge");

/// The paging arguments of a connection field.
fn paging(g: &Group<'_>, scope: &Scope<'_>) -> Option<Paging> {
    Some(Paging {
        first: g.arg(scope, "first")?,
        after: g.arg(scope, "after")?,
        last: g.arg(scope, "last")?,
        before: g.arg(scope, "before")?,
    })
}

type Planner<F> = fn(&Group<'_>, &Scope<'_>) -> Option<F>;

/// The fields of an object-typed field `g` of type `on`.
fn object<F>(g: &Group<'_>, scope: &Scope<'_>, on: &str, each: Planner<F>) -> Option<Fields<F>> {
    g.fields(scope, on)?
        .iter()
        .map(|f| Some((f.key.to_owned(), each(f, scope)?)))
        .collect()
}

/// A leaf: known, and without arguments.
fn leaf<F>(g: &Group<'_>, field: F) -> Option<F> {
    g.bare().then_some(field)
}

fn conn<F>(
    g: &Group<'_>,
    scope: &Scope<'_>,
    names: (&'static str, &'static str),
    node: Planner<F>,
) -> Option<Conn<F>> {
    let node_type = names.0.strip_suffix("Connection")?;
    let fields = g
        .fields(scope, names.0)?
        .iter()
        .map(|f| {
            let field = match f.name() {
                "__typename" => ConnF::Typename,
                "totalCount" => ConnF::TotalCount,
                "nodes" => ConnF::Nodes(object(f, scope, node_type, node)?),
                "pageInfo" => ConnF::PageInfo(object(f, scope, "PageInfo", |g, _| {
                    leaf(
                        g,
                        match g.name() {
                            "__typename" => PageInfoF::Typename,
                            "hasNextPage" => PageInfoF::HasNextPage,
                            "hasPreviousPage" => PageInfoF::HasPreviousPage,
                            "startCursor" => PageInfoF::StartCursor,
                            "endCursor" => PageInfoF::EndCursor,
                            _ => return None,
                        },
                    )
                })?),
                "edges" => ConnF::Edges(
                    f.fields(scope, names.1)?
                        .iter()
                        .map(|e| {
                            let field = match e.name() {
                                "__typename" => EdgeF::Typename,
                                "cursor" => EdgeF::Cursor,
                                "node" => EdgeF::Node(object(e, scope, node_type, node)?),
                                _ => return None,
                            };
                            Some((e.key.to_owned(), field))
                        })
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            };
            Some((f.key.to_owned(), field))
        })
        .collect::<Option<_>>()?;
    Some(Conn { names, fields })
}

fn publication(g: &Group<'_>, scope: &Scope<'_>) -> Option<Pub> {
    let field = match g.name() {
        "__typename" => Pub::Typename,
        "id" => Pub::Id,
        "result" => Pub::Result,
        "channel" => Pub::Channel,
        "sourceId" => Pub::SourceId,
        "trackingId" => Pub::TrackingId,
        "createdAt" => Pub::CreatedAt,
        "receivedAt" => Pub::ReceivedAt,
        // A customer under a publication is one of many: no lists under it.
        "customer" => Pub::Customer(object(g, scope, "Customer", |g, s| customer(g, s, false))?),
        "voucher" => Pub::Voucher(object(g, scope, "Voucher", voucher)?),
        "campaign" => Pub::Campaign(object(g, scope, "Campaign", campaign)?),
        _ => return None,
    };
    leaf(g, field)
}

fn customer(g: &Group<'_>, scope: &Scope<'_>, lists: bool) -> Option<Cust> {
    let field = match g.name() {
        "__typename" => Cust::Typename,
        "id" => Cust::Id,
        "sourceId" => Cust::SourceId,
        "name" => Cust::Name,
        "email" => Cust::Email,
        "createdAt" => Cust::CreatedAt,
        "updatedAt" => Cust::UpdatedAt,
        "deletedAt" => Cust::DeletedAt,
        "vouchers" if lists => {
            let filter: Option<VoucherFilter> = g.arg(scope, "filter")?;
            return Some(Cust::Vouchers {
                filter: filter.unwrap_or_default().into(),
                paging: paging(g, scope)?,
                page: conn(g, scope, VOUCHERS, voucher)?,
            });
        }
        "publications" if lists => {
            return Some(Cust::Publications {
                paging: paging(g, scope)?,
                page: conn(g, scope, PUBLICATIONS, publication)?,
            });
        }
        _ => return None,
    };
    leaf(g, field)
}

fn voucher(g: &Group<'_>, scope: &Scope<'_>) -> Option<Vou> {
    let field = match g.name() {
        "__typename" => Vou::Typename,
        "id" => Vou::Id,
        "code" => Vou::Code,
        "type" => Vou::Type,
        "active" => Vou::Active,
        "additionalInfo" => Vou::AdditionalInfo,
        "publishCount" => Vou::PublishCount,
        "startDate" => Vou::StartDate,
        "expirationDate" => Vou::ExpirationDate,
        "createdAt" => Vou::CreatedAt,
        "updatedAt" => Vou::UpdatedAt,
        "deletedAt" => Vou::DeletedAt,
        "discount" => Vou::Discount(object(g, scope, "Discount", discount)?),
        "gift" => Vou::Gift(object(g, scope, "Gift", gift)?),
        "loyaltyCard" => Vou::LoyaltyCard(object(g, scope, "LoyaltyCard", loyalty)?),
        "categories" => Vou::Categories(object(g, scope, "Category", category)?),
        "campaign" => Vou::Campaign(object(g, scope, "Campaign", campaign)?),
        _ => return None,
    };
    leaf(g, field)
}

fn campaign(g: &Group<'_>, _: &Scope<'_>) -> Option<Camp> {
    leaf(
        g,
        match g.name() {
            "__typename" => Camp::Typename,
            "id" => Camp::Id,
            "name" => Camp::Name,
            "campaignType" => Camp::CampaignType,
            "type" => Camp::Kind,
            "description" => Camp::Description,
            "active" => Camp::Active,
            "isReferralCode" => Camp::IsReferralCode,
            "autoJoin" => Camp::AutoJoin,
            "joinOnce" => Camp::JoinOnce,
            _ => return None,
        },
    )
}

fn discount(g: &Group<'_>, _: &Scope<'_>) -> Option<Disc> {
    leaf(
        g,
        match g.name() {
            "__typename" => Disc::Typename,
            "type" => Disc::Type,
            "effect" => Disc::Effect,
            "amountOff" => Disc::AmountOff,
            "percentOff" => Disc::PercentOff,
            "unitOff" => Disc::UnitOff,
            "unitType" => Disc::UnitType,
            "amountLimit" => Disc::AmountLimit,
            "percentOffFormula" => Disc::PercentOffFormula,
            "amountOffFormula" => Disc::AmountOffFormula,
            "fixedAmount" => Disc::FixedAmount,
            _ => return None,
        },
    )
}

fn gift(g: &Group<'_>, _: &Scope<'_>) -> Option<GiftF> {
    leaf(
        g,
        match g.name() {
            "__typename" => GiftF::Typename,
            "amount" => GiftF::Amount,
            "balance" => GiftF::Balance,
            "effect" => GiftF::Effect,
            _ => return None,
        },
    )
}

fn loyalty(g: &Group<'_>, _: &Scope<'_>) -> Option<Loyalty> {
    leaf(
        g,
        match g.name() {
            "__typename" => Loyalty::Typename,
            "points" => Loyalty::Points,
            "balance" => Loyalty::Balance,
            _ => return None,
        },
    )
}

fn category(g: &Group<'_>, _: &Scope<'_>) -> Option<Cat> {
    leaf(
        g,
        match g.name() {
            "__typename" => Cat::Typename,
            "id" => Cat::Id,
            "name" => Cat::Name,
            "hierarchy" => Cat::Hierarchy,
            _ => return None,
        },
    )
}

//! Relay object identification: `node(id:)` and `nodes(ids:)`. Voucherify's ids are already
//! global, their prefix naming the type, so they serve as Relay ids as they are: a client
//! refetches any object by the id it already holds, and no id is re-encoded. A voucher known
//! only by its code is `v_code:<code>` until its id arrives; that id keeps finding it after.

use super::lists;
use super::{Campaign, Category, Customer, Publication, Voucher};
use crate::domain::normalise::code_of_key;
use crate::error::{ApiError, ApiResult};
use crate::graphql::db;
use crate::graphql::loaders::Lookup;
use crate::store::directory;
use async_graphql::{Context, ID, Interface};
use std::sync::Arc;

/// Most ids one `nodes` may ask for.
pub const MAX_NODES: usize = 100;

/// An object with a global id: refetch it with `node(id:)`.
// A publication holds its row inline; a node lives for one field of one request, so the size
// of its largest variant is not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Voucherify's id; its prefix (`cust_`, `v_`, `camp_`, `pub_`, `cat_`) names the type. A voucher delivered without its id has `v_code:` and its code until the id arrives."
))]
pub enum Node {
    Customer(Customer),
    Voucher(Voucher),
    Campaign(Campaign),
    Publication(Publication),
    Category(Category),
}

/// The object with this id; `None` when the id is unknown or names no type.
pub async fn node(ctx: &Context<'_>, id: &str) -> ApiResult<Option<Node>> {
    let lookup = Lookup::default();
    Ok(if id.starts_with("cust_") {
        let row = lookup.customer(ctx, id).await?;
        row.map(|row| Node::Customer(row.into()))
    } else if id.starts_with("v_") {
        let row = match lookup.voucher(ctx, id).await? {
            // A code key outlives its row: it then names the voucher with that code.
            None if code_of_key(id).is_some() => {
                let found = directory::voucher(db(ctx), Some(id.to_owned()), None).await?;
                found.map(Arc::new)
            }
            row => row,
        };
        row.map(|row| Node::Voucher(Voucher::new(row, Lookup::default())))
    } else if id.starts_with("camp_") {
        let row = lookup.campaign(ctx, id).await?;
        row.map(|row| Node::Campaign(row.into()))
    } else if id.starts_with("pub_") {
        lists::publication(ctx, id.to_owned())
            .await?
            .map(Node::Publication)
    } else if id.starts_with("cat_") {
        let row = directory::category(db(ctx), id).await?;
        row.map(|row| Node::Category(row.into()))
    } else {
        None
    })
}

/// The objects with these ids, in the order asked, `None` for each unknown one. Customers,
/// vouchers and campaigns are read in one batch per kind.
pub async fn nodes(ctx: &Context<'_>, ids: &[ID]) -> ApiResult<Vec<Option<Node>>> {
    if ids.len() > MAX_NODES {
        return Err(ApiError::bad_input(format!(
            "nodes takes at most {MAX_NODES} ids; {} were given",
            ids.len()
        )));
    }
    futures::future::try_join_all(ids.iter().map(|id| node(ctx, id))).await
}

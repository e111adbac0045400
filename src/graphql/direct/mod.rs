//! Direct execution: a query made only of fields this module knows is answered by reading
//! what the resolvers would read and writing the JSON answer straight from the rows.
//!
//! Why: executing a dashboard page through the resolvers costs more CPU in pubgate than the
//! database spends on it. Every field is a boxed future, every row becomes a tree of
//! `async_graphql::Value`s, and that tree is serialised again (BENCHMARKS.md, "Where the time
//! goes"). Here a page is a loop over its rows per field asked.
//!
//! What it answers: queries whose fields are all among `plan`'s (publications, one
//! publication, one customer with its vouchers and assignments, and what they refer to; and
//! `assignmentStats`, whose hundreds of buckets cost the resolvers an object each, with the
//! campaigns its groups name read once for the whole operation, only the columns asked
//! for). The
//! operation is parsed, validated and limited by async-graphql exactly as before
//! (`Schema::prepare`); direct execution only replaces running it. Anything else (another
//! field, a directive other than `@skip`/`@include`, a fragment through an interface it does
//! not know, an argument it cannot read) and any error while answering (a bad cursor, a
//! database error) goes to the resolvers, which answer it as they always have: errors are only
//! ever theirs. `tests/api/differential.rs` compares both on generated documents.

mod plan;
mod run;
mod select;

use async_graphql::Prepared;
use async_graphql::parser::types::OperationType;

/// The answer to `prepared` (`{"data":…}`), or `None` when the resolvers must answer it.
pub(crate) async fn answer(
    db: &sea_orm::DatabaseConnection,
    analytics: &sea_orm::DatabaseConnection,
    feed: &crate::feed::Feed,
    prepared: &Prepared,
) -> Option<Vec<u8>> {
    let env = &prepared.env;
    let operation = &env.operation.node;
    if operation.ty != OperationType::Query {
        return None;
    }
    let scope = select::Scope {
        fragments: &env.fragments,
        variables: &env.variables,
        definitions: &operation.variable_definitions,
    };
    let groups = select::collect(&[&operation.selection_set.node], "Query", &scope)?;
    let fields = plan::root(&groups, &scope)?;
    let (database, _) = feed.version();
    let env = run::Env {
        db,
        database: &database,
        analytics,
    };
    run::run(&env, &fields).await.ok()
}

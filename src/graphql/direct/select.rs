//! Reading a prepared operation: the fields of a selection, merged by the name they answer to
//! (as GraphQL's CollectFields does), and their arguments with the variables in place.
//!
//! Everything here says `None` when the operation uses something direct execution does not
//! handle; the resolvers then answer it.

use async_graphql::parser::types::{
    Field, FragmentDefinition, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{InputType, Name, Positioned, Variables};
use std::collections::HashMap;

/// What a selection is read against: the operation's fragments and variables.
pub struct Scope<'a> {
    pub fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    pub variables: &'a Variables,
    /// The operation's variable definitions (for the defaults of variables not sent).
    pub definitions: &'a [Positioned<VariableDefinition>],
}

/// One field of the answer: the name it answers to, the first occurrence (its name and
/// arguments; validation makes every occurrence ask the same) and every occurrence's
/// sub-selection.
pub struct Group<'a> {
    pub key: &'a str,
    pub field: &'a Field,
    pub sets: Vec<&'a SelectionSet>,
}

impl<'a> Group<'a> {
    /// The field's name in the schema.
    pub fn name(&self) -> &'a str {
        self.field.name.node.as_str()
    }

    /// The fields selected under this one (on `on`, the field's type).
    pub fn fields(&self, scope: &Scope<'a>, on: &str) -> Option<Vec<Group<'a>>> {
        collect(&self.sets, on, scope)
    }

    /// Whether the field has no arguments.
    pub fn bare(&self) -> bool {
        self.field.arguments.is_empty()
    }

    /// An argument, parsed as `T` (absent: `T::parse(None)`, as the resolvers read it).
    pub fn arg<T: InputType>(&self, scope: &Scope<'_>, name: &str) -> Option<T> {
        let value = match self.field.get_argument(name) {
            None => None,
            Some(value) => Some(
                value
                    .node
                    .clone()
                    // As async-graphql reads a variable: sent, else its definition's default.
                    .into_const_with(|variable| match scope.variables.get(&variable) {
                        Some(value) => Ok(value.clone()),
                        None => scope
                            .definitions
                            .iter()
                            .find(|d| d.node.name.node == variable)
                            .and_then(|d| d.node.default_value())
                            .cloned()
                            .ok_or(()),
                    })
                    .ok()?,
            ),
        };
        T::parse(value).ok()
    }
}

/// The fields of `sets` that apply to the object type `on`, merged by the name they answer to,
/// in the order they first appear.
pub fn collect<'a>(
    sets: &[&'a SelectionSet],
    on: &str,
    scope: &Scope<'a>,
) -> Option<Vec<Group<'a>>> {
    let mut groups = Groups::default();
    for set in sets {
        walk(set, on, scope, &mut groups)?;
    }
    Some(groups.list)
}

/// Groups in order, found by key without a scan (a document may alias thousands of fields).
#[derive(Default)]
struct Groups<'a> {
    list: Vec<Group<'a>>,
    by_key: HashMap<&'a str, usize>,
}

fn walk<'a>(
    set: &'a SelectionSet,
    on: &str,
    scope: &Scope<'a>,
    groups: &mut Groups<'a>,
) -> Option<()> {
    for selection in &set.items {
        // `@skip` and `@include` were applied when the operation was prepared (what is left is
        // included); any other directive is not handled here.
        let directives = selection.node.directives();
        if directives
            .iter()
            .any(|d| !matches!(d.node.name.node.as_str(), "skip" | "include"))
        {
            return None;
        }
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = field.response_key().node.as_str();
                match groups.by_key.get(key) {
                    Some(&at) => groups.list[at].sets.push(&field.selection_set.node),
                    None => {
                        groups.by_key.insert(key, groups.list.len());
                        groups.list.push(Group {
                            key,
                            field,
                            sets: vec![&field.selection_set.node],
                        });
                    }
                }
            }
            Selection::FragmentSpread(spread) => {
                let fragment = scope.fragments.get(&spread.node.fragment_name.node)?;
                applies(Some(&fragment.node.type_condition.node.on.node), on)?;
                walk(&fragment.node.selection_set.node, on, scope, groups)?;
            }
            Selection::InlineFragment(inline) => {
                let condition = inline.node.type_condition.as_ref();
                applies(condition.map(|c| &c.node.on.node), on)?;
                walk(&inline.node.selection_set.node, on, scope, groups)?;
            }
        }
    }
    Some(())
}

/// Whether a fragment on `condition` applies to an object of type `on`. Validation lets only
/// the type itself or an interface it implements through, and `Node` is the schema's only
/// interface; anything else is left to the resolvers.
fn applies(condition: Option<&Name>, on: &str) -> Option<()> {
    match condition.map(Name::as_str) {
        None => Some(()),
        Some(name) if name == on => Some(()),
        Some("Node") if NODES.contains(&on) => Some(()),
        Some(_) => None,
    }
}

/// The object types that implement `Node`.
const NODES: [&str; 5] = ["Campaign", "Category", "Customer", "Publication", "Voucher"];

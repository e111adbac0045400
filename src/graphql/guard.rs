//! Checks on a GraphQL document before and after it is parsed, on every transport (each calls
//! [`prepare`] before executing).
//!
//! async-graphql's parser recurses once per nesting level of a value (`[[[…]]]`, `{a:{a:…}}`)
//! with no limit of its own, so a few kilobytes of brackets overflow a worker's stack and abort
//! the whole process. The nesting is therefore measured on the text first, in one pass.

use crate::metrics::OperationKind;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Positioned, Request, ServerError};
use std::collections::HashSet;

/// Deepest bracket nesting (`{`, `[`, `(`) accepted in a document. Far above what the query
/// depth limit lets a real query use, far below what overflows the parser.
pub const MAX_NESTING: usize = 128;

/// Checks `request` and parses it once (execution then uses the parsed document): the nesting
/// on the text first, then introspection when `refuse_introspection`. Gives the operation's
/// kind, or the error to answer with.
pub fn prepare(
    request: &mut Request,
    refuse_introspection: bool,
) -> Result<OperationKind, ServerError> {
    if too_deep(&request.query) {
        return Err(ServerError::new(
            format!("the document nests brackets deeper than {MAX_NESTING} levels"),
            None,
        ));
    }
    let name = request.operation_name.clone();
    let document = request.parsed_query()?;
    if refuse_introspection && asks_introspection(document) {
        return Err(ServerError::new(
            "introspection is disabled on this server",
            None,
        ));
    }
    Ok(super::instrument::kind_of(operation(
        document,
        name.as_deref(),
    )))
}

/// The operation a request runs: the only one, or the one it names (as execution picks it).
pub fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// True when `query` nests `{`, `[` or `(` more than `MAX_NESTING` deep, outside strings and
/// comments.
pub fn too_deep(query: &str) -> bool {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// True when an operation selects `__schema` or `__type` at its root (the only place they
/// exist), directly or through fragments.
fn asks_introspection(document: &ExecutableDocument) -> bool {
    let mut seen = HashSet::new();
    document
        .operations
        .iter()
        .any(|(_, op)| selects_introspection(document, &op.node.selection_set, &mut seen))
}

fn selects_introspection<'a>(
    document: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    seen: &mut HashSet<&'a str>,
) -> bool {
    set.node
        .items
        .iter()
        .any(|selection| match &selection.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
            }
            Selection::InlineFragment(fragment) => {
                selects_introspection(document, &fragment.node.selection_set, seen)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                seen.insert(name)
                    && document.fragments.get(name).is_some_and(|fragment| {
                        selects_introspection(document, &fragment.node.selection_set, seen)
                    })
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = format!("{{ a(x: {}1{}) }}", "[".repeat(200), "]".repeat(200));
        assert!(too_deep(&deep));
        let fine = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
        assert!(!too_deep(&fine));
        let in_string = format!("{{ a(x: \"{}\") }}", "[".repeat(1000));
        assert!(!too_deep(&in_string));
        let in_block = format!("{{ a(x: \"\"\"{}\\\"\"\"\"\"\") }}", "{".repeat(1000));
        assert!(!too_deep(&in_block));
        let in_comment = format!("# {}\n{{ a }}", "(".repeat(1000));
        assert!(!too_deep(&in_comment));
        let escaped_quote = format!("{{ a(x: \"\\\"{}\") }}", "[".repeat(1000));
        assert!(!too_deep(&escaped_quote));
    }
}

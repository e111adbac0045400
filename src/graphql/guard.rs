//! Checks on a GraphQL document before and after it is parsed, on every transport (each calls
//! [`prepare`] before executing).
//!
//! async-graphql's parser recurses once per nesting level of a value (`[[[…]]]`, `{a:{a:…}}`)
//! with no limit of its own, so a few kilobytes of brackets overflow a worker's stack and abort
//! the whole process. The nesting is therefore measured on the text first, in one pass.

use super::documents::Documents;
use crate::metrics::OperationKind;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Positioned, Request, ServerError};
use std::collections::{HashMap, HashSet};

/// Deepest bracket nesting (`{`, `[`, `(`) accepted in a document. Far above what the query
/// depth limit lets a real query use, far below what overflows the parser.
pub const MAX_NESTING: usize = 128;
/// Most fragments one document may define.
pub const MAX_FRAGMENTS: usize = 100;
/// Longest chain of fragment spreads (a fragment spreading one that spreads another, …).
pub const MAX_SPREAD_DEPTH: usize = 10;
/// Most selections a document may hold once every fragment spread is expanded in place.
/// Fragments spread several times at several levels grow exponentially, and async-graphql's
/// validation (and execution) walk the expanded form: 30 fragments each spreading the next
/// four times are 4^30 selections in 2 KB of text.
pub const MAX_EXPANDED: u64 = 10_000;

/// Checks `request` and parses it once (execution then uses the parsed document): the nesting
/// on the text first, then introspection when `refuse_introspection`. Gives the operation's
/// kind, or the error to answer with.
pub fn prepare(
    request: &mut Request,
    refuse_introspection: bool,
    documents: &Documents,
) -> Result<OperationKind, ServerError> {
    let nul = || {
        ServerError::new(
            "strings may not contain the NUL character (U+0000): no stored value can hold it",
            None,
        )
    };
    if variables_hold_nul(request) {
        return Err(nul());
    }
    // A kept document passed every check on its text, this one included.
    if let Some(document) = documents.get(&request.query) {
        request.set_parsed_query(document);
        return checked(request, refuse_introspection);
    }
    if text_holds_nul(&request.query) {
        return Err(nul());
    }
    if too_deep(&request.query) {
        return Err(ServerError::new(
            format!("the document nests brackets deeper than {MAX_NESTING} levels"),
            None,
        ));
    }
    let document = async_graphql::parser::parse_query(&request.query).map_err(syntax_error)?;
    check_fragments(&document).map_err(|message| ServerError::new(message, None))?;
    documents.put(&request.query, &document);
    request.set_parsed_query(document);
    checked(request, refuse_introspection)
}

/// Whether a variable of the request (name, key or value) holds NUL. PostgreSQL's text cannot
/// hold it, so such an argument would fail in the database instead of matching nothing; it is
/// refused here, on either database (as is NUL in the document's text: `text_holds_nul`).
fn variables_hold_nul(request: &Request) -> bool {
    fn in_value(value: &async_graphql::Value) -> bool {
        match value {
            async_graphql::Value::String(s) => s.contains('\0'),
            async_graphql::Value::List(items) => items.iter().any(in_value),
            async_graphql::Value::Object(fields) => fields
                .iter()
                .any(|(key, value)| key.contains('\0') || in_value(value)),
            _ => false,
        }
    }
    request
        .variables
        .iter()
        .any(|(name, value)| name.contains('\0') || in_value(value))
}

/// Whether a document's text holds NUL, raw or as a string escape (`\u0000`, `\u{0}`).
fn text_holds_nul(text: &str) -> bool {
    text.contains('\0')
        || text.match_indices("\\u").any(|(at, _)| {
            let rest = &text[at + 2..];
            let digits = match rest.strip_prefix('{') {
                Some(braced) => braced.split('}').next().unwrap_or_default(),
                None => rest.get(..4).unwrap_or_default(),
            };
            !digits.is_empty() && digits.bytes().all(|b| b == b'0')
        })
}

/// A parse failure as one line ("expected name") at its position, instead of the parser's
/// drawing of the line with a caret under it, which `locations` already say.
fn syntax_error(error: async_graphql::parser::Error) -> ServerError {
    let position = error.positions().next();
    ServerError::new(syntax_message(&error), position)
}

/// The one-line description of a parse failure.
pub fn syntax_message(error: &async_graphql::parser::Error) -> String {
    match error {
        async_graphql::parser::Error::Syntax { message, start, .. } => {
            let expected = message
                .lines()
                .rev()
                .find_map(|line| line.trim_start().strip_prefix("= "))
                .unwrap_or("unexpected text");
            format!(
                "syntax error at line {}, column {}: {expected}",
                start.line, start.column
            )
        }
        other => other.to_string(),
    }
}

/// The checks that depend on the server's settings, and the operation's kind, of a parsed
/// request that passed the others.
fn checked(
    request: &mut Request,
    refuse_introspection: bool,
) -> Result<OperationKind, ServerError> {
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
        // One named operation and no `operationName`: execution runs it, so it is the one.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Refuses documents whose fragments are too many, chain too deep, form a cycle, or expand
/// past `MAX_EXPANDED` selections. Each fragment is measured once (memoised), so this is linear
/// in the document's size, and its recursion is bounded by `MAX_SPREAD_DEPTH` and the bracket
/// nesting checked before parsing.
fn check_fragments(document: &ExecutableDocument) -> Result<(), String> {
    if document.fragments.len() > MAX_FRAGMENTS {
        return Err(format!(
            "the document defines {} fragments; at most {MAX_FRAGMENTS} are allowed",
            document.fragments.len()
        ));
    }
    let mut sizes = Sizes {
        document,
        known: HashMap::new(),
    };
    for (_, operation) in document.operations.iter() {
        let size = sizes.of_set(&operation.node.selection_set, 0)?;
        if size > MAX_EXPANDED {
            return Err(format!(
                "the operation expands to more than {MAX_EXPANDED} selections once its fragments \
                 are spread; send a smaller document"
            ));
        }
    }
    Ok(())
}

/// Expanded sizes of fragments, each computed once. `None` marks a fragment being measured.
struct Sizes<'a> {
    document: &'a ExecutableDocument,
    known: HashMap<&'a str, Option<u64>>,
}

impl<'a> Sizes<'a> {
    fn of_set(&mut self, set: &'a Positioned<SelectionSet>, depth: usize) -> Result<u64, String> {
        let mut total = 0u64;
        for selection in &set.node.items {
            let size = match &selection.node {
                Selection::Field(field) => 1 + self.of_set(&field.node.selection_set, depth)?,
                Selection::InlineFragment(inline) => {
                    self.of_set(&inline.node.selection_set, depth)?
                }
                Selection::FragmentSpread(spread) => {
                    self.of_fragment(spread.node.fragment_name.node.as_str(), depth + 1)?
                }
            };
            // Saturating: past the limit the exact figure does not matter.
            total = total.saturating_add(size).min(MAX_EXPANDED + 1);
        }
        Ok(total)
    }

    fn of_fragment(&mut self, name: &'a str, depth: usize) -> Result<u64, String> {
        if depth > MAX_SPREAD_DEPTH {
            return Err(format!(
                "fragment spreads nest deeper than {MAX_SPREAD_DEPTH} levels (at `{name}`)"
            ));
        }
        match self.known.get(name) {
            Some(Some(size)) => return Ok(*size),
            Some(None) => return Err(format!("fragment `{name}` spreads itself")),
            None => {}
        }
        // An unknown fragment is left to validation, which names it.
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(0);
        };
        self.known.insert(name, None);
        let size = self.of_set(&fragment.node.selection_set, depth)?;
        self.known.insert(name, Some(size));
        Ok(size)
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

    fn refused(query: &str) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        check_fragments(&document).err()
    }

    /// `n` fragments, each spreading the next `times` times; the last selects `__typename`.
    fn chain(n: usize, times: usize) -> String {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..n {
            let body = if i + 1 == n {
                "__typename".to_owned()
            } else {
                format!("...F{} ", i + 1).repeat(times)
            };
            doc.push_str(&format!("fragment F{i} on Query {{ {body} }}\n"));
        }
        doc
    }

    #[test]
    fn fragments_are_bounded_in_number_depth_expansion_and_cycles() {
        assert_eq!(refused(&chain(5, 2)), None);
        let explosion = refused(&chain(30, 4)).expect("refused");
        assert!(
            explosion.contains("nest deeper") || explosion.contains("expands"),
            "{explosion}"
        );
        assert!(
            refused(&chain(11, 1))
                .expect("refused")
                .contains("nest deeper")
        );
        assert_eq!(refused(&chain(10, 1)), None);
        assert!(refused(&chain(10, 4)).expect("refused").contains("expands"));
        let wide = format!("query {{ {} }}", "...A ".repeat(200))
            + &format!("fragment A on Query {{ {} }}", "__typename ".repeat(100));
        assert!(refused(&wide).expect("refused").contains("expands"));
        let many: String = (0..101)
            .map(|i| format!("fragment F{i} on Query {{ __typename }}\n"))
            .collect();
        assert!(
            refused(&format!("query {{ __typename }}\n{many}"))
                .expect("refused")
                .contains("fragments")
        );
        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(refused(cycle).expect("refused").contains("spreads itself"));
    }

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

//! Parsed documents by their text. Dashboards send the same few documents again and again with
//! different variables; parsing one (async-graphql's pest grammar) costs more than copying its
//! syntax tree, and was about 6 % of the CPU of a customer-panel request. Only documents that
//! passed the checks of `guard::prepare` are kept, so a hit skips those checks too.
//!
//! Bounded by the bytes of text it holds: when a new document would pass the bound, the whole
//! map is dropped and starts again (a client sending ever-new documents only costs the parse
//! it would have cost anyway).

use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Longest document text kept.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
/// Most document text kept in all (the trees are a small multiple of it).
pub const MAX_TOTAL_BYTES: usize = 1024 * 1024;

/// Parsed documents by text.
#[derive(Default)]
pub struct Documents {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_text: HashMap<Box<str>, Arc<ExecutableDocument>>,
    bytes: usize,
}

impl Documents {
    /// A copy of the parsed `text`, if it was kept.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let found = self.lock().by_text.get(text).cloned();
        found.map(|doc| (*doc).clone())
    }

    /// Keeps the parse of `text` (a document that passed the checks).
    pub fn put(&self, text: &str, document: &ExecutableDocument) {
        if text.len() > MAX_DOCUMENT_BYTES {
            return;
        }
        let mut inner = self.lock();
        if inner.by_text.contains_key(text) {
            return;
        }
        if inner.bytes + text.len() > MAX_TOTAL_BYTES {
            inner.by_text.clear();
            inner.bytes = 0;
        }
        inner.bytes += text.len();
        inner
            .by_text
            .insert(text.into(), Arc::new(document.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-changed in a harmful way.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).expect("a document")
    }

    #[test]
    fn keeps_documents_and_forgets_all_when_full() {
        let documents = Documents::default();
        assert!(documents.get("{ a }").is_none());
        documents.put("{ a }", &parse("{ a }"));
        assert!(documents.get("{ a }").is_some());
        let big = format!("{{ {} }}", "a ".repeat(2000));
        let tree = parse(&big);
        for i in 0..(2 * MAX_TOTAL_BYTES / big.len()) {
            documents.put(&format!("{big} # {i}"), &tree);
        }
        assert!(documents.get("{ a }").is_none(), "dropped once full");
        let total = documents.lock().bytes;
        assert!(total <= MAX_TOTAL_BYTES, "{total} bytes kept");
        let huge = format!("{{ {} }}", "a ".repeat(MAX_DOCUMENT_BYTES / 2));
        documents.put(&huge, &tree);
        assert!(documents.get(&huge).is_none(), "too long to keep");
    }
}

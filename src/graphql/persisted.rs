//! Persisted documents: a request may name its document by hash instead of sending it.
//!
//! - Apollo's automatic persisted queries: `extensions.persistedQuery = {version: 1,
//!   sha256Hash}`. An unknown hash alone gets `PersistedQueryNotFound`; the client then sends
//!   the hash with the document, which registers it on this instance (in memory, bounded).
//! - Trusted documents (`--trusted-documents FILE`, graphql-codegen's `{ "<sha256>": "<doc>" }`
//!   manifest): `documentId: "sha256:<hex>"` (or the APQ hash) names one. With
//!   `--only-trusted-documents` nothing else runs, so a browser holding a dashboard token can
//!   run only the dashboards' own documents.
//!
//! Every transport resolves the hash here before anything else looks at the document.

use crate::error::ApiError;
use async_graphql::{Request, ServerError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most document text registered by automatic persisted queries on one instance; past it the
/// registrations start over (a client whose hash is gone resends its document, as it would
/// after a restart).
pub const MAX_REGISTERED_BYTES: usize = 4 * 1024 * 1024;

pub use crate::config::Manifest;

/// Reads a manifest, checking that every key is the SHA-256 of its document and that every
/// document parses, so a stale or hand-edited file is refused at start-up rather than at the
/// first request that needs it.
pub fn read_manifest(path: &std::path::Path) -> anyhow::Result<Manifest> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --trusted-documents {}", path.display()))?;
    let entries: HashMap<String, String> = serde_json::from_str(&text).with_context(|| {
        format!(
            "--trusted-documents {} is not a JSON object of {{\"<sha256 hex>\": \"<document>\"}}",
            path.display()
        )
    })?;
    let mut manifest = Manifest::new();
    for (key, document) in entries {
        let hash = hex_of(key.strip_prefix("sha256:").unwrap_or(&key)).with_context(|| {
            format!("--trusted-documents: the key {key:?} is not a SHA-256 in hex")
        })?;
        anyhow::ensure!(
            sha256(&document) == hash,
            "--trusted-documents: the document under {key} does not have that SHA-256 \
             (the manifest is stale or was edited)"
        );
        if let Err(e) = async_graphql::parser::parse_query(&document) {
            anyhow::bail!(
                "--trusted-documents: the document under {key} does not parse: {}",
                super::guard::syntax_message(&e)
            );
        }
        manifest.insert(hash, document.into());
    }
    Ok(manifest)
}

/// A GraphQL request as a client sends it (a POST body, a WebSocket `subscribe` payload, or
/// built from a GET's parameters): async-graphql's request, and `documentId`, which it has no
/// field for.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: async_graphql::Variables,
    #[serde(default)]
    pub extensions: async_graphql::Extensions,
    #[serde(default)]
    pub document_id: Option<String>,
}

/// The documents this instance knows by hash.
pub struct Persisted {
    trusted: Arc<Manifest>,
    only_trusted: bool,
    registered: Mutex<Registered>,
}

#[derive(Default)]
struct Registered {
    by_hash: HashMap<String, Arc<str>>,
    bytes: usize,
}

impl Persisted {
    pub fn new(trusted: Arc<Manifest>, only_trusted: bool) -> Self {
        Persisted {
            trusted,
            only_trusted,
            registered: Mutex::default(),
        }
    }

    /// The request `sent` makes: the document it names by hash (`documentId`, or the APQ
    /// extension) put in its `query`, a document sent with its hash registered, and what
    /// `--only-trusted-documents` does not allow refused.
    pub fn resolve(&self, sent: Sent) -> Result<Request, ServerError> {
        let hash = match &sent.document_id {
            Some(id) => Some(document_hash(id)?),
            None => apq_hash(&sent.extensions)?,
        };
        let mut request = Request::new(sent.query);
        request.operation_name = sent.operation_name;
        request.variables = sent.variables;
        request.extensions = sent.extensions;
        self.check(&mut request, hash)?;
        Ok(request)
    }

    fn check(&self, request: &mut Request, hash: Option<String>) -> Result<(), ServerError> {
        let sent = !request.query.trim().is_empty();
        match hash {
            Some(hash) if sent => {
                if sha256(&request.query) != hash {
                    return Err(bad_input(
                        "provided sha does not match query: the hash must be the SHA-256 of \
                         the document, in hex",
                    ));
                }
                if self.only_trusted && !self.trusted.contains_key(&hash) {
                    return Err(untrusted());
                }
                if !self.trusted.contains_key(&hash) {
                    self.register(hash, &request.query);
                }
                Ok(())
            }
            Some(hash) => {
                let found = self.trusted.get(&hash).cloned().or_else(|| {
                    (!self.only_trusted)
                        .then(|| self.lock().by_hash.get(&hash).cloned())
                        .flatten()
                });
                match found {
                    Some(document) => {
                        request.query = document.to_string();
                        Ok(())
                    }
                    None if self.only_trusted => Err(untrusted()),
                    None => Err(ApiError::PersistedQueryNotFound.into_server_error()),
                }
            }
            None if self.only_trusted && sent => {
                if self.trusted.contains_key(&sha256(&request.query)) {
                    Ok(())
                } else {
                    Err(untrusted())
                }
            }
            None => Ok(()),
        }
    }

    fn register(&self, hash: String, document: &str) {
        let mut registered = self.lock();
        if registered.by_hash.contains_key(&hash) || document.len() > MAX_REGISTERED_BYTES {
            return;
        }
        if registered.bytes + document.len() > MAX_REGISTERED_BYTES {
            *registered = Registered::default();
        }
        registered.bytes += document.len();
        registered.by_hash.insert(hash, document.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registered> {
        // Every change leaves the map whole; a panic elsewhere while holding it changes nothing.
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The hash of `documentId`: `sha256:<hex>`, or the bare hex that graphql-codegen sends.
fn document_hash(id: &str) -> Result<String, ServerError> {
    hex_of(id.strip_prefix("sha256:").unwrap_or(id)).ok_or_else(|| {
        bad_input("documentId must be \"sha256:\" followed by the document's SHA-256 in hex")
    })
}

/// The hash of `extensions.persistedQuery`, if the request carries one.
fn apq_hash(extensions: &async_graphql::Extensions) -> Result<Option<String>, ServerError> {
    use async_graphql::Value;
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let field = |name: &str| match persisted {
        Value::Object(fields) => fields.get(name),
        _ => None,
    };
    if field("version") != Some(&Value::from(1)) {
        return Err(bad_input(
            "extensions.persistedQuery must have \"version\": 1 (the only version there is)",
        ));
    }
    match field("sha256Hash") {
        Some(Value::String(hash)) => hex_of(hash),
        _ => None,
    }
    .map(Some)
    .ok_or_else(|| {
        bad_input("extensions.persistedQuery.sha256Hash must be a SHA-256 in hex (64 digits)")
    })
}

/// `text` as lowercase hex if it is 64 hex digits.
fn hex_of(text: &str) -> Option<String> {
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// The lowercase hex SHA-256 of `text`: the key a document is known by.
pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn bad_input(message: &str) -> ServerError {
    ApiError::bad_input(message).into_server_error()
}

fn untrusted() -> ServerError {
    ApiError::Forbidden(
        "this server runs only trusted documents (--only-trusted-documents), and this is not \
         one of them"
            .into(),
    )
    .into_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{ __typename }";

    fn code(error: &ServerError) -> String {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    fn sent(query: &str, document_id: Option<String>) -> Sent {
        Sent {
            query: query.into(),
            document_id,
            ..Sent::default()
        }
    }

    fn with_apq(query: &str, hash: &str) -> Sent {
        let mut sent = sent(query, None);
        sent.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(serde_json::json!({"version": 1, "sha256Hash": hash}))
                .expect("value"),
        );
        sent
    }

    #[test]
    fn automatic_registers_then_serves_by_hash() {
        let persisted = Persisted::new(Arc::default(), false);
        let hash = sha256(DOC);
        let error = persisted.resolve(with_apq("", &hash)).expect_err("unknown");
        assert_eq!(error.message, "PersistedQueryNotFound");
        assert_eq!(code(&error), "\"PERSISTED_QUERY_NOT_FOUND\"");
        persisted.resolve(with_apq(DOC, &hash)).expect("registers");
        let known = persisted
            .resolve(with_apq("", &hash.to_ascii_uppercase()))
            .expect("found");
        assert_eq!(known.query, DOC);
        let mismatch = persisted.resolve(with_apq("{ x }", &hash));
        assert_eq!(code(&mismatch.expect_err("mismatch")), "\"BAD_USER_INPUT\"");
    }

    #[test]
    fn only_trusted_refuses_the_rest() {
        let hash = sha256(DOC);
        let manifest = Arc::new(Manifest::from([(hash.clone(), Arc::from(DOC))]));
        let persisted = Persisted::new(manifest, true);
        let by_id = persisted
            .resolve(sent("", Some(format!("sha256:{hash}"))))
            .expect("trusted");
        assert_eq!(by_id.query, DOC);
        persisted.resolve(sent(DOC, None)).expect("trusted text");
        let other = "{ customers { totalCount } }";
        let refused = persisted.resolve(sent(other, None));
        assert_eq!(code(&refused.expect_err("untrusted")), "\"FORBIDDEN\"");
        // Registering through APQ is no way around it.
        let sneak = persisted.resolve(with_apq(other, &sha256(other)));
        assert_eq!(code(&sneak.expect_err("untrusted")), "\"FORBIDDEN\"");
        let bad = persisted.resolve(sent("", Some("md5:abc".into())));
        assert_eq!(code(&bad.expect_err("bad id")), "\"BAD_USER_INPUT\"");
    }
}

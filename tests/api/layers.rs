//! Layers point one way (STYLE.md): each top-level module of `src/` may use only modules on a
//! lower floor, and no folder's modules import each other in a cycle. Read from the source
//! text (`crate::…`, `super::…` paths outside comments and `#[cfg(test)]` modules), so a change
//! that brings a cycle back fails here with the offending edge named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Floors, lowest first. A module may use modules on lower floors only.
const FLOORS: &[&[&str]] = &[
    &["config", "error", "metrics", "domain", "retry"],
    &["telemetry"],
    &["store"],
    &["feed", "backfill"],
    &["state", "body", "assets"],
    &["webhook", "graphql", "ops", "dashboard"],
    &["simulate"],
    &["app"],
    &["cli"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Rust files of module `path` (a file, or a folder and everything in it).
fn files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut all = vec![];
    for entry in std::fs::read_dir(path).expect("readable").flatten() {
        all.extend(
            files(&entry.path())
                .into_iter()
                .filter(|f| f.extension().is_some_and(|e| e == "rs")),
        );
    }
    all
}

/// The modules directly in `dir` (files and folders; `mod.rs`, `lib.rs`, `main.rs` aside).
fn modules(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_rs = path.extension().is_some_and(|e| e == "rs");
        if path.is_dir() || (is_rs && !["mod", "lib", "main"].contains(&name)) {
            found.insert(name.to_owned(), path);
        }
    }
    found
}

/// `text` without comments and without what follows `#[cfg(test)]` (tests may reach anywhere).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names that follow `prefix` in `text`, including inside `prefix{a, b::c}` groups.
fn named_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find(';').unwrap_or(group.len())];
            names.extend(
                group
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .filter_map(|item| item.split("::").next())
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            );
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..end].to_owned());
        }
    }
    names
}

/// Edges among the modules directly in `dir`, which its code names with `crate::<base>`
/// (and with `super::` where that is `dir`).
fn graph(dir: &Path, base: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(dir);
    let mut edges = BTreeMap::new();
    for (name, path) in &mods {
        let mut used = BTreeSet::new();
        for file in files(path) {
            let text = code(&std::fs::read_to_string(&file).expect("readable"));
            used.extend(named_after(&text, &format!("crate::{base}")));
            // `super::` names a sibling of the file's module (for `mod.rs`, of its folder).
            let module_dir = file.parent().filter(|_| !file.ends_with("mod.rs"));
            let siblings = module_dir.or_else(|| file.parent().and_then(Path::parent));
            if siblings == Some(dir) {
                used.extend(named_after(&text, "super::"));
            }
        }
        used.retain(|other| other != name && mods.contains_key(other));
        edges.insert(name.clone(), used);
    }
    edges
}

/// One cycle in `edges`, if any, as the path that closes it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut vec![], &mut done))
}

#[test]
fn top_level_modules_use_only_lower_floors() {
    let floor = |name: &str| FLOORS.iter().position(|f| f.contains(&name));
    let edges = graph(&src(), "");
    let mut wrong = vec![];
    for (module, used) in &edges {
        let Some(mine) = floor(module) else {
            wrong.push(format!("`{module}` has no floor in tests/api/layers.rs"));
            continue;
        };
        for other in used {
            if floor(other).is_none_or(|theirs| theirs >= mine) {
                wrong.push(format!("`{module}` uses `{other}`, which is not below it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Folders whose modules refer to each other as the GraphQL schema's types do: a `Customer`
/// has vouchers and a `Voucher` has a holder, so their files name each other by design.
const SCHEMA_GRAPH: &[&str] = &["graphql::types::"];

#[test]
fn no_folder_has_an_import_cycle() {
    let mut folders = vec![(src(), String::new())];
    let mut checked = 0;
    while let Some((dir, base)) = folders.pop() {
        let edges = graph(&dir, &base);
        if !SCHEMA_GRAPH.contains(&base.as_str())
            && let Some(found) = cycle(&edges)
        {
            panic!("import cycle in {}: {}", dir.display(), found.join(" -> "));
        }
        checked += 1;
        for (name, path) in modules(&dir) {
            if path.is_dir() {
                folders.push((path, format!("{base}{name}::")));
            }
        }
    }
    assert!(checked >= 6, "only {checked} folders were read");
}

#[test]
fn the_checks_see_a_cycle_when_there_is_one() {
    let text =
        code("use crate::{a::X, b};\nuse super::c; // use crate::d;\n#[cfg(test)]\nuse crate::e;");
    assert_eq!(
        named_after(&text, "crate::"),
        BTreeSet::from(["a".to_owned(), "b".to_owned()])
    );
    let edges = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(
        cycle(&edges),
        Some(
            vec!["a", "b", "c", "a"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
}

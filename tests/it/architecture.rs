//! The source tree's shape, read from its `crate::` paths: no two modules
//! import each other, imports run down the layers (at most one climbs), only
//! `lib.rs` reads the process environment, no `set_var` exists, and no
//! file but the clap definitions ships over 320 lines (its unit tests aside).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use its own layer and those below it.
const LAYERS: [&[&str]; 9] = [
    &["", "commands", "fuzzing"],
    &["cli"],
    &["watch"],
    &["child", "export", "inject", "report"],
    &["plan", "resolve"],
    &["vault", "appconfig", "identity"],
    &["http", "dns"],
    &[
        "reference",
        "template",
        "encode",
        "sources",
        "shape",
        "token",
        "cloud",
        "audience",
    ],
    &[
        "exec", "output", "memfile", "files", "secret", "error", "vars",
    ],
];

/// Shipped files over this many lines are too large to read as one piece.
const LINES_MAX: usize = 320;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/identity/chain.rs` is `identity::chain`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// A file's text without its unit tests (`#[cfg(test)] mod tests { ... }` at
/// the end) and without comments.
fn shipped(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Test files (`tests.rs` of a module) are not shipped.
fn is_test_file(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n == "tests.rs")
}

/// Every module's imports of other top-level modules: `crate::x` and `use crate::{x, ...}`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f).first().cloned())
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let me = module_of(file).first().cloned().unwrap_or_default();
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        let mut named: Vec<String> = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inside = &group[..group.find('}').unwrap_or(group.len())];
                named.extend(inside.split(',').map(|item| {
                    item.trim()
                        .split("::")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                }));
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                named.push(rest[..end].to_string());
            }
        }
        for module in named {
            if tops.contains(&module) && module != me {
                edges.entry(me.clone()).or_default().insert(module);
            }
        }
    }
    edges
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer of tests/it/architecture.rs"))
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = imports();
    let mut cycles = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            if from < to && edges.get(to).is_some_and(|back| back.contains(from)) {
                cycles.push(format!("{from} <-> {to}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:?}"
    );
}

#[test]
fn imports_run_down_the_layers() {
    let edges = imports();
    let mut climbs = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            if layer_of(to) < layer_of(from) {
                climbs.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(climbs.len() <= 1, "imports up the layers: {climbs:?}");
}

#[test]
fn the_environment_is_read_in_one_place_and_never_changed() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in &files {
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        assert!(!text.contains("set_var"), "{name} changes the environment");
        if name != "lib.rs" {
            assert!(!text.contains("std::env"), "{name} reads the environment");
            // The C library's `environ` too: read once, by lib.rs, through exec.
            assert!(
                !text.contains("raw_environment(") || name == "exec/start.rs",
                "{name} reads the C library's environment"
            );
        }
        if name != "exec/start.rs" {
            assert!(!text.contains("environ;"), "{name} declares `environ`");
        }
    }
}

#[test]
fn no_shipped_file_is_over_320_lines_but_the_clap_definitions() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut large = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        // Shipped lines: comments count, the unit tests at the end do not.
        let shipped = match text.find("#[cfg(test)]\nmod tests {") {
            Some(at) => &text[..at],
            None => &text,
        };
        let lines = shipped.lines().count();
        if lines > LINES_MAX && name != "cli/mod.rs" {
            large.push(format!("{name}: {lines}"));
        }
    }
    assert!(large.is_empty(), "files over {LINES_MAX} lines: {large:?}");
}
